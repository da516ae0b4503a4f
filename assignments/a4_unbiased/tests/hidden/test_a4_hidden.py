"""Hidden tests of assignment 4: another network, p and batch; a biased estimator must be caught."""

import itertools

import numpy as np
import pytest
from helpers import check_unbiased, problem, samples_of, student_samples, total_variance, verdict, weights

import rnn


class Uncompensated(rnn.Strategy):
    """Random cuts without the 1/p factor: a biased estimator the tests must catch."""

    def __init__(self, p, seed):
        self.p, self.rng = p, np.random.default_rng(seed)

    def plan(self, T):
        keep = self.rng.random(T - 1) < self.p
        return rnn.Plan(T, (1.0, 1.0) + tuple(1.0 if k else 0.0 for k in keep), (rnn.Update(T, 1, 0),))


@pytest.mark.task4_1
@pytest.mark.points(3)
def test_the_estimate_is_unbiased_on_a_batch_with_another_p(student):
    model, xs, ys, exact = problem(T=12, n=4, batch=2, seed=20)
    check_unbiased(student_samples(student, model, xs, ys, 0.7, 21, 300), exact,
                   "Randomized(p=0.7) on a batch of 2, 300 samples")


@pytest.mark.task4_1
@pytest.mark.points(1)
def test_the_variance_falls_as_p_grows_on_a_batch(student):
    model, xs, ys, _ = problem(T=9, n=4, batch=2, seed=22)
    variances = [total_variance(student_samples(student, model, xs, ys, p, 23, 80)) for p in (0.3, 0.6, 0.9)]
    assert all(a > b for a, b in itertools.pairwise(variances)), (
        f"the total variance for p = 0.3, 0.6, 0.9 should fall, got {[f'{v:.3g}' for v in variances]}"
    )


@pytest.mark.task4_2
@pytest.mark.points(2)
def test_looks_unbiased_tells_compensated_from_uncompensated_truncation(student):
    model, xs, ys, exact = problem(T=10, n=3, batch=None, seed=24)
    fair = samples_of(model, xs, ys, rnn.Randomized(0.5, seed=25), 300)
    biased = samples_of(model, xs, ys, Uncompensated(0.5, seed=25), 300)
    assert verdict(student.looks_unbiased(fair, exact)), "the engine's unbiased Randomized(0.5) was called biased"
    assert not verdict(student.looks_unbiased(biased, exact)), "random cuts without the 1/p factor were called unbiased"


@pytest.mark.task4_2
@pytest.mark.points(1)
def test_standard_error_of_two_samples(student):
    samples = {"w": np.array([[1.0, 4.0], [3.0, 4.0]])}
    mean, se = student.mean_and_standard_error(samples)["w"]
    np.testing.assert_allclose(mean, [2.0, 4.0], err_msg="the mean of two samples")
    np.testing.assert_allclose(se, [1.0, 0.0], atol=1e-15,
                               err_msg="the standard error of [1, 3] is sqrt(2) / sqrt(2) = 1 (ddof=1)")


@pytest.mark.task4_3
@pytest.mark.points(3)
def test_variance_by_p_on_a_batch_matches_and_falls(student):
    model, xs, ys, _ = problem(T=9, n=4, batch=2, seed=26)
    ps = [0.3, 0.6, 0.9]
    got = student.probe("variance_by_p", weights(model), xs, ys, ps, n_samples=40, seed=27)
    want = [total_variance(samples_of(model, xs, ys, rnn.Randomized(p, seed=27), 40)) for p in ps]
    np.testing.assert_allclose(got, want, rtol=1e-10, err_msg="variance_by_p for p = 0.3, 0.6, 0.9 (40 samples)")
    assert got[0] > got[1] > got[2], f"the variance should fall as p grows, got {got}"
