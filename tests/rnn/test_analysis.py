"""rnn.analysis against independent computations: closed forms, hand formulas, numpy loops, known matrices."""

import math

import numpy as np
import pytest

import minigrad as mg
import rnn
from rnn import analysis, manual


def sequence(T=7, batch=None, n_in=2, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    lead = (T,) if batch is None else (T, batch)
    return rng.standard_normal(lead + (n_in,)), rng.standard_normal(lead + (n_out,))


def weights(model):
    return {name: p.data.copy() for name, p in model.named_parameters()}


def linear_states(model, xs):
    """h_1..h_T and o_1..o_T of the linear RNN, by a numpy loop."""
    hs, os = manual.linear_rnn_forward(model.W_hx.data, model.W_hh.data, model.W_qh.data, xs)
    return hs, os


# -- gradients of the hidden states ------------------------------------------------------
@pytest.mark.parametrize("batch", [None, 3])
def test_state_grads_of_the_linear_rnn_are_sums_of_powers_of_W_hh_transposed(batch):
    xs, ys = sequence(batch=batch)
    model = rnn.LinearRNN(2, 4, 3, seed=1)
    got = analysis.state_grads(model, xs, ys)
    # manual's loss is 1/T sum_t 1/2 ||o_t - y_t||^2; the engine's has no 1/T
    powers = manual.linear_rnn_hidden_grads(model.W_hx.data, model.W_hh.data, model.W_qh.data, xs, ys,
                                            method="powers")
    np.testing.assert_allclose(got, len(xs) * powers, rtol=0, atol=1e-12)
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("batch", [None, 2])
def test_grad_norm_by_lag_is_the_norm_of_the_k_th_power_times_the_last_error(batch):
    xs, ys = sequence(T=9, batch=batch)
    model = rnn.LinearRNN(2, 4, 3, seed=2)
    model.W_hh.data *= 1.3  # an expanding matrix, so the norms change with the lag
    _, os = linear_states(model, xs)
    W_hh, W_qh = model.W_hh.data, model.W_qh.data
    want = []
    for k in range(len(xs)):
        g = (os[-1] - ys[-1]) @ W_qh                                  # dl_T/dh_T, row vectors
        g = g @ np.linalg.matrix_power(W_hh, k)                        # (W_hh^T)^k dl_T/dh_T
        want.append(np.linalg.norm(g))
    np.testing.assert_allclose(analysis.grad_norm_by_lag(model, xs, ys), want, rtol=1e-12, atol=0)


def test_state_grads_of_the_last_loss_stop_at_a_cut():
    xs, ys = sequence(T=7)
    model = rnn.ElmanRNN(2, 4, 3, seed=3)
    grads = analysis.state_grads(model, xs, ys, last_only=True, strategy=rnn.Chunked(3))
    # Chunked(3) on 7 steps cuts the edges into steps 4 and 7: l_7 reaches h_7 only
    assert np.all(grads[:6] == 0)
    h = manual.elman_forward(model.A.data, model.B.data, model.C.data, xs)["h"]
    np.testing.assert_allclose(grads[6], (h[7] @ model.C.data.T - ys[6]) @ model.C.data, rtol=0, atol=1e-14)


# -- Jacobians and spectra --------------------------------------------------------------------
def test_state_jacobians_of_the_tanh_rnn_are_diag_of_f_prime_times_A():
    xs, _ = sequence(T=6)
    model = rnn.ElmanRNN(2, 5, 3, seed=4)
    model.A.data *= 1.5
    h = manual.elman_forward(model.A.data, model.B.data, model.C.data, xs)["h"]
    got = analysis.state_jacobians(model, xs)
    assert got.shape == (6, 5, 5)
    for t in range(1, 7):
        np.testing.assert_allclose(got[t - 1], np.diag(1 - h[t] ** 2) @ model.A.data, rtol=0, atol=1e-14)
    assert all(p.grad is None for p in model.parameters())


def test_state_jacobians_match_finite_differences_for_a_per_op_cell_with_biases():
    xs, _ = sequence(T=4)
    model = rnn.ElmanRNN(2, 3, 3, f="sigmoid", bias=True, fused=False, seed=5)
    model.b_h.data[:] = [0.3, -0.2, 0.1]
    got = analysis.state_jacobians(model, xs)
    h, eps = np.zeros(3), 1e-6
    with mg.no_grad():
        for t, x in enumerate(xs):
            numeric = np.empty((3, 3))
            for j in range(3):
                step = np.zeros(3)
                step[j] = eps
                plus = model.step(x, mg.tensor(h + step))[0].data
                minus = model.step(x, mg.tensor(h - step))[0].data
                numeric[:, j] = (plus - minus) / (2 * eps)
            np.testing.assert_allclose(got[t], numeric, rtol=0, atol=1e-9)
            h = model.step(x, mg.tensor(h))[0].data


def test_state_jacobians_refuse_a_batch_and_a_tuple_state():
    xs, _ = sequence(T=3, batch=2)
    with pytest.raises(ValueError, match=r"unbatched sequence xs of shape \(T, n_in\), got shape \(3, 2, 2\)"):
        analysis.state_jacobians(rnn.ElmanRNN(2, 3, 3), xs)
    with pytest.raises(TypeError, match=r"state is a tuple of 2"):
        analysis.state_jacobians(rnn.LSTM(2, 3, 3), xs[:, 0])


def test_spectral_radius_and_singular_values_of_known_matrices():
    rotation_by_2 = np.array([[0.0, 2.0], [-2.0, 0.0]])  # eigenvalues +-2i
    assert analysis.spectral_radius(rotation_by_2) == pytest.approx(2.0, abs=1e-14)
    assert analysis.spectral_radius(np.diag([-3.0, 1.0])) == pytest.approx(3.0, abs=1e-14)
    np.testing.assert_allclose(analysis.singular_values(np.diag([-1.0, 3.0])), [3.0, 1.0], atol=1e-14)
    stack = np.stack([np.eye(2), 2 * np.eye(2), np.array([[0.0, 5.0], [0.0, 0.0]])])
    np.testing.assert_allclose(analysis.singular_values(stack), [[1, 1], [2, 2], [5, 0]], atol=1e-14)
    with pytest.raises(ValueError, match=r"square matrix, got shape \(2, 3\)"):
        analysis.spectral_radius(np.ones((2, 3)))


def test_power_iteration_angles_for_a_diagonal_matrix_are_atan_of_halves():
    # M^k (1, 1) = (2^k, 1): the angle to e_1 is atan(2^-k)
    angles = analysis.power_iteration_angles(np.diag([2.0, 1.0]), [1.0, 1.0], steps=30)
    np.testing.assert_allclose(angles, np.degrees(np.arctan(0.5 ** np.arange(31))), rtol=1e-12, atol=0)


def test_power_iteration_angles_of_a_symmetric_matrix_follow_its_eigen_expansion():
    rng = np.random.default_rng(6)
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    eigenvalues = np.array([-0.9, 0.6, 0.3, -0.1])  # the dominant one is negative: lines, not signs
    M = Q @ np.diag(eigenvalues) @ Q.T
    x = rng.standard_normal(4)
    c = Q.T @ x  # x in the eigenbasis
    k = np.arange(16)
    dominant = np.abs(c[0] * eigenvalues[0] ** k)
    rest = np.sqrt(np.sum((c[1:, None] * eigenvalues[1:, None] ** k) ** 2, axis=0))
    np.testing.assert_allclose(analysis.power_iteration_angles(M, x, 15), np.degrees(np.arctan2(rest, dominant)),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("M, message", [
    (np.array([[0.0, -1.0], [1.0, 0.0]]), r"same modulus \(0\+1j and 0-1j\)"),  # +-i: a rotation
    (np.array([[0.5, -2.0], [1.0, 0.5]]), r"same modulus.*complex pair"),
    (np.diag([1.0, -1.0]), r"same modulus \(1 and -1\)"),
])
def test_no_single_dominant_direction_is_refused(M, message):
    with pytest.raises(ValueError, match=message):
        analysis.power_iteration_angles(M, [1.0, 0.5], steps=3)


def test_angles_refuse_a_zero_vector_and_negative_steps():
    with pytest.raises(ValueError, match="nonzero vector x of shape"):
        analysis.power_iteration_angles(np.diag([2.0, 1.0]), [0.0, 0.0], steps=3)
    with pytest.raises(ValueError, match="number of steps must be an integer >= 0, got -1"):
        analysis.power_iteration_angles(np.diag([2.0, 1.0]), [1.0, 0.0], steps=-1)


def test_angle_between_lines_ignores_signs_and_is_accurate_for_tiny_angles():
    assert analysis.angle_between_lines([1, 0], [-1, 1]) == pytest.approx(45.0)
    assert analysis.angle_between_lines([1, 0], [0, 3]) == pytest.approx(90.0)
    assert analysis.angle_between_lines([1, 0], [1, 1e-12]) == pytest.approx(math.degrees(1e-12), rel=1e-9)


# -- truncation bias ---------------------------------------------------------------------------
def test_cosine_similarity_and_relative_error_of_known_vectors():
    assert analysis.cosine_similarity([1, 0], [1, 1]) == pytest.approx(1 / math.sqrt(2))
    assert analysis.cosine_similarity([1, 2], [-2, -4]) == pytest.approx(-1.0)
    assert analysis.relative_error([1, 1], [1, 0]) == pytest.approx(1.0)
    assert analysis.relative_error([0, 0], [3, 4]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="b is the zero vector"):
        analysis.cosine_similarity([1, 0], [0, 0])
    with pytest.raises(ValueError, match="reference is the zero vector"):
        analysis.relative_error([1, 0], [0, 0])


def test_flatten_follows_the_dict_order():
    np.testing.assert_array_equal(analysis.flatten({"b": np.array([[1, 2]]), "a": np.array(3)}), [1, 2, 3])


@pytest.mark.parametrize("k", [1, 2, 4])
def test_truncation_bias_of_tbptt_1_k_is_that_of_the_hand_truncated_gradient(k):
    xs, ys = sequence(T=8, batch=2)
    model = rnn.ElmanRNN(2, 4, 3, seed=7)
    w = weights(model)
    truncated = analysis.flatten(manual.elman_bptt(w["A"], w["B"], w["C"], xs, ys, k=k))
    full = analysis.flatten(manual.elman_bptt(w["A"], w["B"], w["C"], xs, ys))
    (bias,) = analysis.truncation_bias(model, xs, ys, [rnn.TBPTT(1, k)])
    assert bias.cosine == pytest.approx(truncated @ full / np.linalg.norm(truncated) / np.linalg.norm(full), abs=1e-12)
    assert bias.relative_error == pytest.approx(np.linalg.norm(truncated - full) / np.linalg.norm(full), abs=1e-12)
    assert bias.updates == 8
    assert bias.relative_error > 1e-3  # truncation really changed it


def test_the_full_gradient_has_no_bias():
    xs, ys = sequence(T=6)
    (bias,) = analysis.truncation_bias(rnn.ElmanRNN(2, 4, 3, seed=8), xs, ys, [rnn.Checkpointed(2)])
    assert bias.cosine == pytest.approx(1.0, abs=1e-12)
    assert bias.relative_error < 1e-12


def test_summed_gradient_adds_the_updates():
    xs, ys = sequence(T=6)
    model = rnn.ElmanRNN(2, 4, 3, seed=9)
    updates = rnn.gradients(model, xs, ys, rnn.Chunked(2))
    summed = analysis.summed_gradient(model, xs, ys, rnn.Chunked(2))
    for name in summed:
        np.testing.assert_allclose(summed[name], updates[0][name] + updates[1][name] + updates[2][name], atol=1e-15)


# -- random estimators ---------------------------------------------------------------------------
def test_gradient_samples_are_reproducible_draws_and_exact_when_nothing_is_cut():
    xs, ys = sequence(T=6)
    model = rnn.ElmanRNN(2, 3, 3, seed=10)
    full = analysis.flatten(analysis.summed_gradient(model, xs, ys, rnn.Full()))
    keep_all = analysis.gradient_samples(model, xs, ys, rnn.Randomized(1.0), n=3)
    np.testing.assert_allclose(keep_all, np.tile(full, (3, 1)), rtol=0, atol=1e-12)
    a = analysis.gradient_samples(model, xs, ys, rnn.Randomized(0.5, seed=3), n=4)
    b = analysis.gradient_samples(model, xs, ys, rnn.Randomized(0.5, seed=3), n=4)
    np.testing.assert_array_equal(a, b)
    assert len({tuple(row) for row in a}) > 1  # the draws differ
    with pytest.raises(ValueError, match="number of draws n must be an integer >= 1, got 0"):
        analysis.gradient_samples(model, xs, ys, rnn.Randomized(0.5), n=0)


def test_running_mean_error_and_total_variance_equal_numpy_loops():
    rng = np.random.default_rng(11)
    samples, reference = rng.standard_normal((20, 5)) + 1.0, np.ones(5)
    want = [np.linalg.norm(samples[:n].mean(axis=0) - reference) / np.linalg.norm(reference) for n in range(1, 21)]
    np.testing.assert_allclose(analysis.running_mean_error(samples, reference), want, rtol=1e-12)
    assert analysis.total_variance(samples) == pytest.approx(np.trace(np.cov(samples.T)), rel=1e-12)
    with pytest.raises(ValueError, match="at least 2 draws"):
        analysis.total_variance(samples[:1])


def test_estimator_stats_by_hand():
    stats = analysis.estimator_stats([[1.0, 0.0], [3.0, 0.0]], [2.0, 0.0])
    # mean (2, 0): no error; variance of (1, 3) is 2; standard error sqrt(2/2)/2; each draw is off by 1/2
    assert (stats.n, stats.mean_error, stats.total_variance) == (2, 0.0, pytest.approx(2.0))
    assert stats.standard_error == pytest.approx(0.5)
    assert stats.draw_error == pytest.approx(0.5)


def test_fixed_runs_the_plan_it_was_given():
    xs, ys = sequence(T=7)
    model = rnn.ElmanRNN(2, 3, 3, seed=12)
    fixed = analysis.Fixed(rnn.Chunked(3).plan(7))
    for got, want in zip(rnn.gradients(model, xs, ys, fixed), rnn.gradients(model, xs, ys, rnn.Chunked(3))):
        for name in want:
            np.testing.assert_array_equal(got[name], want[name])
    with pytest.raises(ValueError, match="plan is for T=7 steps, but the sequence has T=5"):
        rnn.gradients(model, xs[:5], ys[:5], fixed)
    with pytest.raises(TypeError, match="needs an rnn.Plan"):
        analysis.Fixed(rnn.Chunked(3))


@pytest.mark.parametrize("p", [0.3, 0.7])
def test_randomized_exact_mean_is_the_full_gradient(p):
    xs, ys = sequence(T=6, batch=2)
    model = rnn.ElmanRNN(2, 3, 3, seed=13)
    exact = analysis.randomized_exact_moments(model, xs, ys, p)
    full = analysis.flatten(analysis.summed_gradient(model, xs, ys, rnn.Full()))
    assert exact.draws == 2 ** 5
    np.testing.assert_allclose(exact.mean, full, rtol=0, atol=1e-12)
    assert exact.total_variance > 1e-3 * full @ full  # unbiased, but not exact


def test_randomized_exact_variance_agrees_with_sampling_and_vanishes_at_p_1():
    xs, ys = sequence(T=5)
    model = rnn.ElmanRNN(2, 3, 3, seed=14)
    exact = analysis.randomized_exact_moments(model, xs, ys, 0.5)
    samples = analysis.gradient_samples(model, xs, ys, rnn.Randomized(0.5, seed=0), n=1000)
    assert analysis.total_variance(samples) == pytest.approx(exact.total_variance, rel=0.15)
    keep_all = analysis.randomized_exact_moments(model, xs, ys, 1.0)
    assert keep_all.draws == 1
    assert keep_all.total_variance == 0.0


def test_randomized_exact_moments_refuse_long_sequences_and_bad_p():
    xs, ys = sequence(T=14)
    model = rnn.ElmanRNN(2, 3, 3)
    with pytest.raises(ValueError, match=r"2\^13 draws for T=14; use T <= 13"):
        analysis.randomized_exact_moments(model, xs, ys, 0.5)
    with pytest.raises(ValueError, match=r"p must be in \(0, 1\], got 0"):
        analysis.randomized_exact_moments(model, xs[:4], ys[:4], 0)


# -- cost -------------------------------------------------------------------------------------------
def test_measure_reports_the_plan_and_the_tape_memory():
    rng = np.random.default_rng(15)
    model = rnn.ElmanRNN(2, 8, 2, seed=15)
    before = weights(model)

    def cost(strategy, T):
        return analysis.measure(model, rng.standard_normal((T, 4, 2)), rng.standard_normal((T, 4, 2)), strategy,
                                repeats=1)

    chunked_short, chunked_long = cost(rnn.Chunked(4), 40), cost(rnn.Chunked(4), 80)
    full_short, full_long = cost(rnn.Full(), 40), cost(rnn.Full(), 80)
    assert (chunked_short.updates, chunked_long.updates, full_long.updates) == (10, 20, 1)
    assert chunked_short.peak_bytes == chunked_long.peak_bytes  # bounded by the window
    assert 1.8 <= full_long.peak_bytes / full_short.peak_bytes <= 2.2  # the whole sequence: linear in T
    assert chunked_long.peak_bytes < full_long.peak_bytes / 5
    assert full_long.seconds_per_step == full_long.seconds / 80
    for name, value in weights(model).items():
        np.testing.assert_array_equal(value, before[name])
    assert all(p.grad is None for p in model.parameters())
    with pytest.raises(ValueError, match="repeats must be an integer >= 1"):
        analysis.measure(model, rng.standard_normal((4, 2)), rng.standard_normal((4, 2)), rnn.Full(), repeats=0)
