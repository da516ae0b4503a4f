"""Public tests of assignment 4: the randomized estimator is unbiased, its variance falls as p grows,
and the statistics that say so are right.

Your strategy's plans are drawn where your code runs and executed here, in
the engine's driver.  The statistical tests use fixed seeds and a tolerance of
four standard errors (plus 1e-10 for entries the randomness does not touch):
a correct estimator passes them except with a probability of about 1e-3, and
one without the 1/p compensation misses by many times that margin.
"""

import itertools

import numpy as np
import pytest
from helpers import check_unbiased, problem, samples_of, student_samples, total_variance, verdict, weights

import rnn


@pytest.mark.task4_1
@pytest.mark.points(1)
def test_plan_keeps_each_edge_with_probability_p_and_scales_it(student):
    p, T = 0.3, 4001
    plan, again = student.probe("draws", p, 0, T, 2)
    assert plan["T"] == T and len(plan["edges"]) == T + 1, (
        f"a plan for T={T} needs T + 1 edges, got {len(plan['edges'])}")
    assert plan["edges"][:2] == [1.0, 1.0], f"edges[0] and edges[1] must be 1.0, got {plan['edges'][:2]}"
    assert set(plan["edges"][2:]) <= {0.0, 1 / p}, (
        f"edges must be 0.0 or 1/p = {1 / p:g}, got {sorted(set(plan['edges'][2:]))[:6]}")
    kept = np.mean(np.array(plan["edges"][2:]) > 0)
    se = np.sqrt(p * (1 - p) / (T - 1))
    assert abs(kept - p) < 4 * se, f"kept a fraction {kept:.3f} of the edges, expected p = {p} (+- {4 * se:.3f})"
    assert plan["updates"] == [[T, 1, 0]], f"one update at T, (t, first, reach) = ({T}, 1, 0), expected; got {plan['updates']}"
    assert again["edges"] != plan["edges"], "two plans of the same strategy drew the same cuts"
    assert student.probe("draws", p, 0, T, 1)[0]["edges"] == plan["edges"], "the same seed must give the same plan"


@pytest.mark.task4_1
@pytest.mark.points(3)
def test_the_estimate_is_unbiased(student):
    model, xs, ys, exact = problem()
    check_unbiased(student_samples(student, model, xs, ys, 0.5, 3, 300), exact, "Randomized(p=0.5), 300 samples")


@pytest.mark.task4_1
@pytest.mark.points(1)
def test_the_variance_falls_as_p_grows(student):
    model, xs, ys, _ = problem(seed=4)
    variances = [total_variance(student_samples(student, model, xs, ys, p, 5, 100)) for p in (0.25, 0.5, 0.75, 1.0)]
    assert all(a > b for a, b in itertools.pairwise(variances)), (
        f"the total variance for p = 0.25, 0.5, 0.75, 1 should fall, got {[f'{v:.3g}' for v in variances]}"
    )
    assert variances[-1] < 1e-20, f"p = 1 keeps every edge, so every sample is the exact gradient; variance {variances[-1]:.3g}"


@pytest.mark.task4_2
@pytest.mark.points(2)
def test_mean_and_standard_error_of_known_samples(student):
    rng = np.random.default_rng(6)
    samples = {"A": rng.standard_normal((50, 2, 3)), "b": rng.standard_normal((50, 4))}
    stats = student.mean_and_standard_error(samples)
    assert isinstance(stats, dict) and set(stats) == set(samples), (
        f"one (mean, standard error) per parameter expected, got {sorted(stats) if isinstance(stats, dict) else stats}")
    for name, values in samples.items():
        mean, se = stats[name]
        np.testing.assert_allclose(mean, values.mean(axis=0), rtol=1e-12, err_msg=f"the mean of {name}")
        np.testing.assert_allclose(se, values.std(axis=0, ddof=1) / np.sqrt(50), rtol=1e-12,
                                   err_msg=f"the standard error of {name} (s / sqrt(n), s with ddof=1)")


@pytest.mark.task4_2
@pytest.mark.points(1)
def test_looks_unbiased_accepts_a_centred_sample_and_rejects_a_shifted_one(student):
    rng = np.random.default_rng(7)
    reference = {"A": np.array([[1.0, -2.0], [0.5, 3.0]]), "C": np.array([0.25])}
    noise = rng.standard_normal((400, 2, 2))
    centred = {"A": reference["A"] + noise - noise.mean(axis=0), "C": np.full((400, 1), 0.25)}
    assert verdict(student.looks_unbiased(centred, reference)), "a sample whose mean is the reference was called biased"
    shifted = dict(centred, A=centred["A"] + np.array([[0.0, 0.0], [0.0, 0.5]]))
    assert not verdict(student.looks_unbiased(shifted, reference)), (
        "a sample whose mean is 10 standard errors (0.5) away from the reference was called unbiased"
    )
    off_constant = dict(centred, C=np.full((400, 1), 0.26))
    assert not verdict(student.looks_unbiased(off_constant, reference)), (
        "an entry with no spread at all whose value differs from the reference was called unbiased"
    )


@pytest.mark.task4_3
@pytest.mark.points(2)
def test_variance_by_p_matches_a_direct_computation(student):
    model, xs, ys, _ = problem(T=8, seed=8)
    got = student.probe("variance_by_p", weights(model), xs, ys, [0.5, 1.0], n_samples=20, seed=9)
    want = [total_variance(samples_of(model, xs, ys, rnn.Randomized(p, seed=9), 20)) for p in (0.5, 1.0)]
    assert np.shape(got) == (2,), f"one variance per p expected, got {got}"
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-20,
                               err_msg="variance_by_p for p = 0.5, 1 (20 samples, seed 9)")
