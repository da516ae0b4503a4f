"""Gaps in the tests of rnn/online.py that mutation testing found (issue 20; docs/mutation.md).

Each test checks a property the module promises: a gradient against Full BPTT or RTRL,
UORO's unbiasedness computed exactly over every sign pattern, a memory size the
docstrings give, the influence-balancing problem against its hand-derived fixed point.
"""

import itertools

import numpy as np
import pytest

import minigrad as mg
import rnn
from rnn.online import RTRL, UORO, InfluenceBalancing, SnAp, UOROInfluence, direct_pattern
from rnn.states import parts


def problem(T=5, batch=None, n_in=2, n_out=1, seed=0):
    rng = np.random.default_rng(seed)
    lead = (T,) if batch is None else (T, batch)
    return rng.standard_normal(lead + (n_in,)), rng.standard_normal(lead + (n_out,))


def total(updates: list) -> dict:
    return {name: sum(u[name] for u in updates) for name in updates[0]}


def max_difference(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(a[name] - b[name]))) for name in a)


# -- defaults, losses and the reduction ------------------------------------------------------
@pytest.mark.parametrize("strategy", [RTRL(), UORO(), SnAp()])
def test_an_online_strategy_updates_after_every_step_by_default(strategy):
    xs, ys = problem(T=4)
    assert strategy.every == 1
    assert len(rnn.gradients(rnn.ElmanRNN(2, 3, 1, seed=1), xs, ys, strategy)) == 4


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("batch", [None, 2])
def test_online_losses_and_gradients_are_those_of_the_matching_truncation(reduction, batch):
    """RTRL(every=3) makes TBPTT(3, T + 3)'s updates: the same losses (each the sum, or the mean,
    over its own steps' targets) and the same gradients, scaled alike under reduction="mean"."""
    model = rnn.ElmanRNN(2, 3, 1, seed=1)
    xs, ys = problem(T=7, batch=batch)
    online, truncated = (rnn.run(model, xs, ys, s, reduction=reduction) for s in (RTRL(every=3), rnn.TBPTT(3, 10)))
    np.testing.assert_allclose(online.losses, truncated.losses, rtol=1e-12)
    per_step = [rnn.run(model, xs[:t], ys[:t], rnn.Full()).losses[0] for t in (3, 6, 7)]
    sums = np.diff([0.0] + per_step)  # each update's own steps, summed
    targets = np.array([3, 3, 1]) * (1 if batch is None else batch)
    np.testing.assert_allclose(online.losses, sums if reduction == "sum" else sums / targets, rtol=1e-12)
    got, want = (rnn.gradients(model, xs, ys, s, reduction=reduction) for s in (RTRL(every=3), rnn.TBPTT(3, 10)))
    for g, w in zip(got, want):
        assert max_difference(g, w) < 1e-10


# -- the NumPy path of the Elman cell ---------------------------------------------------------
def test_rtrl_and_snap_on_a_diagonal_elman_cell_with_nonzero_biases_are_full_bptt():
    model = rnn.ElmanRNN(2, 3, 1, seed=2, bias=True, f="sigmoid", g="tanh")
    model.A.data = np.diag([0.9, -0.5, 0.7])  # diagonal: SnAp-1 is exact too
    model.b_h.data = np.array([0.3, -0.7, 0.2])  # a bias of zero (the initial value) hides its sign
    model.b_y.data = np.array([-0.4])
    xs, ys = problem(T=6)
    full = rnn.gradients(model, xs, ys, rnn.Full())[0]
    for strategy in (RTRL(every=2), SnAp(every=2)):
        assert max_difference(total(rnn.gradients(model, xs, ys, strategy)), full) < 1e-10


@pytest.mark.parametrize("bias", [False, True])
def test_rtrl_and_snap_on_the_fused_elman_cell_carry_the_recurrent_parameters_only(bias):
    """M_t covers theta_r = (A, B[, b_h]); the readout reaches each loss directly. RTRL keeps
    the full (H, P_r) influence, SnAp-1 one number per recurrent parameter (its O(n^2) memory)."""
    H, n_in = 4, 2
    model = rnn.ElmanRNN(n_in, H, 1, seed=3, bias=bias)
    recurrent = H * H + H * n_in + (H if bias else 0)
    xs, ys = problem(T=5)
    assert rnn.run(model, xs, ys, RTRL()).peak_bytes == H * recurrent * 8
    assert rnn.run(model, xs, ys, SnAp()).peak_bytes == recurrent * 8


def test_rtrl_through_forward_mode_carries_the_state_times_every_parameter():
    """Any other cell (here the per-op Elman cell) carries M_t = dh_t/dtheta of shape (S, P)."""
    H, n_in, n_out = 3, 2, 1
    model = rnn.ElmanRNN(n_in, H, n_out, seed=4, fused=False)
    P = H * H + H * n_in + n_out * H
    assert rnn.run(model, *problem(T=3), RTRL()).peak_bytes == H * P * 8


@pytest.mark.parametrize("make", [lambda: rnn.LSTM(2, 2, 1, seed=5), lambda: rnn.GRU(2, 2, 1, seed=6)])
def test_snap_on_a_gated_cell_gets_the_readout_gradient_exactly(make):
    """The generic SnAp-1 path: the readout's columns of N_t are zero, so its gradient is exact."""
    model = make()
    xs, ys = problem(T=5)
    snap = total(rnn.gradients(model, xs, ys, SnAp()))
    full = rnn.gradients(model, xs, ys, rnn.Full())[0]
    for name in ("C", "b_y"):
        np.testing.assert_allclose(snap[name], full[name], rtol=1e-10, atol=1e-12)
    assert max_difference(snap, full) > 1e-4  # and it is an approximation elsewhere


@pytest.mark.parametrize("f", ["relu", "tanh"])
@pytest.mark.parametrize("batch", [None, 2])
def test_snap_through_forward_mode_keeps_the_entries_the_elman_path_keeps(f, batch):
    """SnAp-1 keeps the entries of M that a parameter reaches in one step: for the Elman cell,
    dA_ik and dB_ik reach unit i, whatever the state.  The generic path finds that pattern by
    probing N_t; a relu unit whose pre-activation is negative at a probe has a zero slope there,
    and must not be dropped for good because of it."""
    xs, ys = problem(T=6, batch=batch)
    fused = rnn.ElmanRNN(2, 3, 1, seed=8, f=f)
    per_op = rnn.ElmanRNN(2, 3, 1, seed=8, f=f, fused=False)
    assert max_difference(total(rnn.gradients(fused, xs, ys, SnAp(every=2))),
                          total(rnn.gradients(per_op, xs, ys, SnAp(every=2)))) < 1e-12
    unit = np.concatenate([np.repeat(np.arange(3), 3), np.repeat(np.arange(3), 2)])
    want = np.zeros((3, 9 + 6 + 3), dtype=bool)
    want[unit, np.arange(15)] = True  # the readout C reaches no state entry
    np.testing.assert_array_equal(direct_pattern(per_op, batch), want)


@pytest.mark.parametrize("strategy", [RTRL(every=2), UORO(every=2), SnAp(every=2)])
@pytest.mark.parametrize("make", [lambda: rnn.ElmanRNN(2, 3, 1, seed=7, fused=False),
                                  lambda: rnn.ElmanRNN(2, 3, 1, seed=7), lambda: rnn.LSTM(2, 2, 1, seed=8)])
def test_the_gradients_an_update_hands_out_are_not_changed_by_later_steps(strategy, make):
    """``on_update`` may keep the .grad arrays it is shown (without copying): later steps leave them alone."""
    model = make()
    kept, copies = [], []

    def on_update(update, loss):
        kept.append([p.grad for p in model.parameters()])
        copies.append([p.grad.copy() for p in model.parameters()])

    rnn.run(model, *problem(T=6), strategy, on_update=on_update)
    assert len(kept) == 3
    for arrays, snapshot in zip(kept, copies):
        for a, b in zip(arrays, snapshot):
            np.testing.assert_array_equal(a, b)


# -- UORO ---------------------------------------------------------------------------------------
class _Signs:
    """A stand-in for UORO's generator: hands out the given sign vectors, one per step, then +1s."""

    def __init__(self, signs):
        self.signs = list(signs)

    def choice(self, options, size):
        return np.reshape(self.signs.pop(0), size) if self.signs else np.ones(size)


class _UOROWithSigns(UORO):
    def __init__(self, signs):
        super().__init__()
        self.signs = signs

    def influence(self, model, batch):
        self.carrier = UOROInfluence(model, _Signs(self.signs))
        return self.carrier


@pytest.mark.parametrize("make, T", [
    (lambda: rnn.ElmanRNN(2, 2, 1, seed=9, fused=False), 3),  # S = 2: every sign of steps 1 and 2
    (lambda: rnn.ElmanRNN(2, 3, 1, seed=9, bias=True, f="sigmoid", g="tanh"), 2),
    (lambda: rnn.LSTM(2, 2, 1, seed=10), 2),  # a state of two parts, (h, c): S = 4
])
def test_uoro_averaged_over_every_sign_pattern_is_exactly_rtrl(make, T):
    """E[nu nu^T] = I holds exactly over all 2^S sign vectors, and the rho's are even in nu, so
    the mean of UORO's estimate over every pattern of the signs that reach the gradients (the
    steps before the last) is the exact gradient: unbiasedness without sampling noise."""
    model = make()
    xs, ys = problem(T=T, n_in=2)
    S = sum(part.data.shape[-1] for part in parts(model.initial_state()))
    patterns = list(itertools.product([-1.0, 1.0], repeat=S * (T - 1)))
    estimates = [total(rnn.gradients(model, xs, ys, _UOROWithSigns(np.reshape(p, (T - 1, S)))))
                 for p in patterns]
    mean = {name: np.mean([e[name] for e in estimates], axis=0) for name in estimates[0]}
    exact = total(rnn.gradients(model, xs, ys, RTRL()))
    assert max_difference(mean, exact) < 1e-10
    assert max(max_difference(e, exact) for e in estimates) > 1e-3  # each single pattern is off


def test_uoro_balances_the_norms_of_its_two_factors():
    """rho_1 = sqrt(||nu^T N|| / ||nu||) makes ||rho_1 nu|| = ||nu^T N / rho_1||: after the first
    step (s = theta = 0 before it) the two factors of s theta^T have the same norm."""
    model = rnn.ElmanRNN(2, 3, 1, seed=11, fused=False)
    strategy = _UOROWithSigns([[1.0, -1.0, 1.0]])
    rnn.run(model, *problem(T=1), strategy)
    s, theta = strategy.carrier.s, strategy.carrier.theta
    assert np.linalg.norm(theta) > 0.1
    np.testing.assert_allclose(np.linalg.norm(s), np.linalg.norm(theta), rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_uoro_is_exact_and_finite_while_the_state_does_not_depend_on_the_parameters(seed):
    """A LinearRNN fed a zero input from h_0 = 0 has h_1 = 0 whatever its weights: N_1 = 0 and
    nu^T N_1 = 0.  The rho's stay finite, and UORO's estimate over two steps is RTRL's exactly."""
    model = rnn.LinearRNN(2, 3, 1, seed=12)
    xs, ys = problem(T=2)
    xs[0] = 0.0
    estimate = total(rnn.gradients(model, xs, ys, UORO(seed=seed)))
    assert all(np.all(np.isfinite(g)) for g in estimate.values())
    assert max_difference(estimate, total(rnn.gradients(model, xs, ys, RTRL()))) < 1e-12


def test_online_plans_say_what_each_strategy_carries():
    carries = [s.plan(4).carries for s in (RTRL(), UORO(), SnAp())]
    assert [c.split()[0] for c in carries] == ["RTRL", "UORO", "SnAp-1"]
    assert "exact" in carries[0] and "rank-one" in carries[1] and "one step" in carries[2]


# -- the influence-balancing problem ------------------------------------------------------
def test_influence_balancing_defaults_are_the_papers_problem():
    cell = InfluenceBalancing()
    assert (cell.n, cell.positive, cell.n_in) == (23, 10, 1)
    assert [n for n, _ in cell.named_parameters()] == ["theta"] and cell.theta.data.tolist() == [0.0]
    assert cell.optimum == pytest.approx(-1 / 6)


def test_influence_balancing_steps_each_unit_to_the_mean_with_its_neighbour_plus_its_signed_theta():
    cell = InfluenceBalancing(n=4, positive=1, theta=0.5)
    s = np.array([1.0, 2.0, 4.0, 8.0])
    s_new, y_hat = cell.step(mg.tensor([[0.0]]), mg.tensor(s[None]))
    np.testing.assert_allclose(s_new.data, [[1.5 + 0.5, 3.0 - 0.5, 6.0 - 0.5, 4.0 - 0.5]])
    np.testing.assert_allclose(y_hat.data, [[2.0]])  # y_hat = s_1
    assert cell.initial_state().shape == (4,) and cell.initial_state(3).shape == (3, 4)


@pytest.mark.parametrize("n, positive", [(5, 1), (6, 4), (23, 10)])
def test_influence_balancing_reaches_s1_equal_one_at_its_optimum(n, positive):
    """The fixed point s = (I - mixing)^-1 b theta has s_1 = 2 theta (2 positive - n): 1 at theta*."""
    cell = InfluenceBalancing(n=n, positive=positive, theta=1.0)
    fixed = np.linalg.solve(np.eye(n) - cell.mixing, cell.signs)
    assert fixed[0] == pytest.approx(2 * (2 * positive - n))
    assert fixed[0] * cell.optimum == pytest.approx(1.0)


def test_rtrl_on_influence_balancing_is_full_bptt():
    cell = InfluenceBalancing(n=6, positive=2, theta=0.3)
    xs, ys = np.zeros((8, 1)), np.ones((8, 1))
    exact = total(rnn.gradients(cell, xs, ys, RTRL(every=4)))
    np.testing.assert_allclose(exact["theta"], rnn.gradients(cell, xs, ys, rnn.Full())[0]["theta"], rtol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=3, positive=4), "positive must be at most n=3, got 4"),
    (dict(positive=-1), "positive must be an integer >= 0, got -1"),
    (dict(n=0), "n must be an integer >= 1, got 0"),
])
def test_influence_balancing_refuses_bad_sizes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        InfluenceBalancing(**kwargs)


def test_influence_balancing_takes_no_positive_unit():
    cell = InfluenceBalancing(n=3, positive=0)
    assert cell.signs.tolist() == [-1.0, -1.0, -1.0] and cell.optimum == pytest.approx(-1 / 6)
