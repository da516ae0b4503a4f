"""RTRL, UORO and SnAp-1 against BPTT: exact, unbiased and sparse, with memory that does not grow with T."""

import numpy as np
import pytest

import minigrad as mg
import rnn
from rnn.online import RTRL, UORO, SnAp


def problem(T=7, batch=None, n_in=2, n_out=1, seed=0):
    rng = np.random.default_rng(seed)
    lead = (T,) if batch is None else (T, batch)
    return rng.standard_normal(lead + (n_in,)), rng.standard_normal(lead + (n_out,))


CELLS = {
    "elman fused": lambda: rnn.ElmanRNN(2, 3, 1, seed=1),
    "elman with biases": lambda: rnn.ElmanRNN(2, 3, 1, seed=2, bias=True, f="sigmoid", g="tanh"),
    "elman per-op": lambda: rnn.ElmanRNN(2, 3, 1, seed=3, fused=False),
    "linear": lambda: rnn.LinearRNN(2, 3, 1, seed=4),
    "lstm": lambda: rnn.LSTM(2, 2, 1, seed=5),
    "gru": lambda: rnn.GRU(2, 2, 1, seed=6),
}


def total(updates: list) -> dict:
    return {name: sum(u[name] for u in updates) for name in updates[0]}


def max_difference(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(a[name] - b[name]))) for name in a)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("batch", [None, 3])
def test_rtrl_updates_are_full_reach_truncated_updates_and_sum_to_full_bptt(cell, batch):
    model = CELLS[cell]()
    xs, ys = problem(batch=batch)
    online = rnn.gradients(model, xs, ys, RTRL(every=3))
    # TBPTT(3, T + 3): an update every 3 steps, each reaching back to h_0 (the remainder's too)
    truncated = rnn.gradients(model, xs, ys, rnn.TBPTT(3, len(xs) + 3))
    assert len(online) == len(truncated) == 3
    for got, want in zip(online, truncated):
        assert max_difference(got, want) < 1e-10
    assert max_difference(total(online), rnn.gradients(model, xs, ys, rnn.Full())[0]) < 1e-10


def test_rtrl_with_cross_entropy_on_token_indices():
    model = rnn.ElmanRNN(4, 3, 4, seed=7)
    rng = np.random.default_rng(1)
    xs, ys = rng.integers(0, 4, size=(6, 2)), rng.integers(0, 4, size=(6, 2))
    online = total(rnn.gradients(model, xs, ys, RTRL(every=2), loss="ce"))
    assert max_difference(online, rnn.gradients(model, xs, ys, rnn.Full(), loss="ce")[0]) < 1e-10


def diagonal_elman(seed=0):
    model = rnn.ElmanRNN(2, 3, 1, seed=seed)
    model.A.data = np.diag([0.9, -0.5, 0.7])
    return model


def test_snap_1_is_rtrl_when_the_recurrence_is_diagonal():
    xs, ys = problem(T=8, batch=2)
    model = diagonal_elman()
    snap, exact = (rnn.gradients(model, xs, ys, s(every=4)) for s in (SnAp, RTRL))
    for got, want in zip(snap, exact):
        assert max_difference(got, want) < 1e-12


def test_snap_1_through_forward_mode_agrees_with_the_elman_path():
    """The generic path (a mask probed from N_t) against the NumPy path on the same weights."""
    xs, ys = problem(T=6)
    fused = rnn.ElmanRNN(2, 3, 1, seed=8)
    per_op = rnn.ElmanRNN(2, 3, 1, seed=8, fused=False)
    assert max_difference(total(rnn.gradients(fused, xs, ys, SnAp(every=2))),
                          total(rnn.gradients(per_op, xs, ys, SnAp(every=2)))) < 1e-12


@pytest.mark.parametrize("batch", [None, 2])
def test_snap_1_on_the_per_op_lstm_is_that_of_the_fused_lstm(batch):
    """The per-op LSTM makes h_t from c_t inside the step; SnAp's correction needs dl/dc_t with h_t
    held fixed, not the total through h_t.  The fused LSTM's h and c are two slices of one node."""
    xs, ys = problem(T=6, batch=batch)
    fused, per_op = rnn.LSTM(2, 3, 1, seed=8), rnn.LSTM(2, 3, 1, seed=8, fused=False)
    for got, want in zip(rnn.gradients(per_op, xs, ys, SnAp(every=2)), rnn.gradients(fused, xs, ys, SnAp(every=2))):
        assert max_difference(got, want) < 1e-12


def test_the_loss_reaches_the_lstm_cell_state_only_through_h():
    """dl_t/d(h_t, c_t) with each part held apart: the readout reads h_t alone, so the c_t part is zero
    and the h_t part is C^T (y_hat - y), whichever LSTM made the step."""
    from rnn.online import _loss_state_gradient

    x, y = np.array([0.3, -0.7]), np.array([0.4])
    for model in (rnn.LSTM(2, 3, 1, seed=8), rnn.LSTM(2, 3, 1, seed=8, fused=False)):
        state = (np.array([0.1, -0.2, 0.3]), np.array([0.5, 0.2, -0.4]))
        (h, _), y_hat = model.step(mg.tensor(x), tuple(mg.tensor(s) for s in state))
        grad = _loss_state_gradient(model, x, y, state, "mse")
        np.testing.assert_allclose(grad[3:], 0.0, atol=1e-15)
        np.testing.assert_allclose(grad[:3], model.C.data.T @ (y_hat.data - y), rtol=1e-12)


def test_snap_1_is_biased_for_a_full_recurrence():
    xs, ys = problem(T=8)
    model = rnn.ElmanRNN(2, 3, 1, seed=9)
    snap = total(rnn.gradients(model, xs, ys, SnAp()))
    full = rnn.gradients(model, xs, ys, rnn.Full())[0]
    assert max_difference(snap, full) > 1e-3
    assert np.allclose(snap["C"], full["C"])  # the readout gets its gradient directly, exactly


def test_uoro_is_unbiased_and_its_error_falls_like_one_over_root_n():
    xs, ys = problem(T=5)
    model = rnn.ElmanRNN(2, 2, 1, seed=10, fused=False)
    exact = rnn.analysis.flatten(total(rnn.gradients(model, xs, ys, RTRL())))
    samples = np.stack([rnn.analysis.flatten(total(rnn.gradients(model, xs, ys, UORO(seed=s))))
                        for s in range(1024)])
    error = {n: np.linalg.norm(samples[:n].mean(axis=0) - exact) / np.linalg.norm(exact) for n in (16, 64, 256, 1024)}
    assert error[1024] < 0.1
    slope = np.polyfit(np.log(list(error)), np.log(list(error.values())), 1)[0]
    assert -0.8 < slope < -0.3, (slope, error)
    # a single draw is far off: the average is what is exact
    assert np.linalg.norm(samples[0] - exact) / np.linalg.norm(exact) > 5 * error[1024]


def test_uoro_is_reproducible_from_its_seed():
    xs, ys = problem(T=4)
    model = rnn.ElmanRNN(2, 2, 1, seed=11, fused=False)
    a, b, c = (total(rnn.gradients(model, xs, ys, UORO(seed=s))) for s in (3, 3, 4))
    assert max_difference(a, b) == 0.0 and max_difference(a, c) > 0


@pytest.mark.parametrize("strategy", [RTRL(every=10), SnAp(every=10)])
def test_memory_does_not_grow_with_T(strategy):
    model = rnn.ElmanRNN(2, 4, 1, seed=12)
    peaks = []
    for T in (100, 10_000):
        xs, ys = problem(T=T)
        peaks.append(rnn.run(model, xs, ys, strategy).peak_bytes)
    assert peaks[0] == peaks[1] > 0


def test_uoro_memory_does_not_grow_with_T():
    model = rnn.ElmanRNN(2, 3, 1, seed=13, fused=False)
    peaks = [rnn.run(model, *problem(T=T), UORO(every=5)).peak_bytes for T in (10, 1000)]
    assert peaks[0] == peaks[1] > 0


def test_fit_steps_at_every_update_and_learns():
    model = rnn.ElmanRNN(2, 4, 1, seed=14)
    xs, ys = problem(T=60)
    before = sum(rnn.run(model, xs, ys, rnn.Full()).losses)
    history = rnn.fit(model, xs, ys, RTRL(every=5), mg.optim.SGD(model.parameters(), lr=0.05))
    assert history.steps == list(range(5, 61, 5))
    assert sum(rnn.run(model, xs, ys, rnn.Full()).losses) < before


def test_online_strategies_have_specs_and_plans():
    assert rnn.parse_strategy("rtrl:5") == RTRL(every=5)
    assert rnn.parse_strategy("uoro:2,seed=3") == UORO(every=2, seed=3)
    assert rnn.parse_strategy("snap") == SnAp()
    assert rnn.describe(UORO(every=4, seed=1)) == "uoro:4,seed=1"
    plan = RTRL(every=3).plan(7)
    assert [(u.t, u.first, u.reach) for u in plan.updates] == [(3, 1, 0), (6, 4, 0), (7, 7, 0)]
    assert plan.cut_steps() == [] and plan.scaled_steps() == {}


@pytest.mark.parametrize("make, message", [
    (lambda: SnAp(level=2), "SnAp supports level 1"),
    (lambda: RTRL(every=0), "every must be an integer >= 1, got 0"),
    (lambda: UORO(seed=-1), "seed must be a non-negative integer"),
])
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_hidden_reset_is_refused():
    with pytest.raises(ValueError, match="hidden='reset' has no meaning"):
        rnn.gradients(rnn.ElmanRNN(2, 3, 1), *problem(T=4), RTRL(), hidden="reset")
