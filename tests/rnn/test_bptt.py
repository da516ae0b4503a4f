"""Every strategy against full BPTT, the hand derivations, or an independent reference."""

import gc

import numpy as np
import pytest

import minigrad as mg
import rnn
from minigrad.kernels import ACTIVATION_CODES
from minigrad.nn import Module, Parameter
from rnn import manual

ACTS_F = ["tanh", "sigmoid", "relu", "identity"]
ACTS_G = ["identity", "tanh", "sigmoid"]


def problem(T=9, batch=3, n_in=2, n_hidden=5, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    shape_x = (T, n_in) if batch is None else (T, batch, n_in)
    shape_y = (T, n_out) if batch is None else (T, batch, n_out)
    return rng.standard_normal(shape_x), rng.standard_normal(shape_y)


def weights(model):
    return {name: p.data for name, p in model.named_parameters()}


def assert_grads_close(got, want, atol=1e-10):
    assert got.keys() == want.keys()
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=atol, err_msg=name)


def total(updates):
    return {name: sum(u[name] for u in updates) for name in updates[0]}


# -- a user-defined cell ------------------------------------------------------
class ScalarRecurrence(Module):
    """x_t = w x_{t-1}: a cell with one scalar parameter and no input."""

    def __init__(self, w, x0):
        super().__init__()
        self.w = Parameter(np.array(w))
        self.x0 = x0

    def initial_state(self, batch=None):
        return mg.tensor(self.x0)

    def step(self, x_t, h):
        h = self.w * h
        return h, h


def test_scalar_recurrence_through_a_user_defined_cell():
    cell = ScalarRecurrence(w=0.2, x0=0.9)
    weights_per_step = np.array([0.0, 0.0, 1.0])  # the loss is x_3 itself
    grads = rnn.gradients(cell, np.zeros((3, 1)), weights_per_step, rnn.Full(),
                          loss=lambda y_hat, y: y_hat * y)
    assert len(grads) == 1
    assert grads[0]["w"] == pytest.approx(3 * 0.2 ** 2 * 0.9) == pytest.approx(0.108)


# -- full BPTT = the hand derivation --------------------------------------------
@pytest.mark.parametrize("f", ACTS_F)
@pytest.mark.parametrize("g", ACTS_G)
@pytest.mark.parametrize("fused", [True, False])
def test_full_bptt_equals_the_hand_derivation(f, g, fused):
    xs, ys = problem()
    model = rnn.ElmanRNN(2, 5, 3, f=f, g=g, fused=fused, seed=1)
    (grads,) = rnn.gradients(model, xs, ys, rnn.Full())
    w = weights(model)
    assert_grads_close(grads, manual.elman_bptt(w["A"], w["B"], w["C"], xs, ys, f, g))


@pytest.mark.parametrize("batch, n_hidden, T", [(None, 4, 6), (1, 7, 5), (4, 3, 12), (2, 16, 3)])
def test_full_bptt_equals_the_hand_derivation_for_several_sizes(batch, n_hidden, T):
    xs, ys = problem(T=T, batch=batch, n_hidden=n_hidden)
    model = rnn.ElmanRNN(2, n_hidden, 3, seed=2)
    (grads,) = rnn.gradients(model, xs, ys, rnn.Full())
    w = weights(model)
    assert_grads_close(grads, manual.elman_bptt(w["A"], w["B"], w["C"], xs, ys, "tanh", "identity"))


def test_nonzero_initial_state_is_used():
    xs, ys = problem()
    model = rnn.ElmanRNN(2, 5, 3, seed=3)
    h0 = np.random.default_rng(9).standard_normal((3, 5))
    (grads,) = rnn.gradients(model, xs, ys, rnn.Full(), h0=mg.tensor(h0))
    w = weights(model)
    assert_grads_close(grads, manual.elman_bptt(w["A"], w["B"], w["C"], xs, ys, "tanh", "identity", h0=h0))


def test_linear_rnn_equals_its_closed_forms():
    xs, ys = problem(T=6, batch=2)
    model = rnn.LinearRNN(2, 5, 3, seed=4)
    (grads,) = rnn.gradients(model, xs, ys, rnn.Full())
    w = weights(model)
    closed = manual.linear_rnn_grads(w["W_hx"], w["W_hh"], w["W_qh"], xs, ys)
    # the closed forms use the loss 1/T sum_t 1/2 ||o_t - y_t||^2
    assert_grads_close({k: v / len(xs) for k, v in grads.items()}, closed)


def test_cross_entropy_loss_matches_finite_differences():
    rng = np.random.default_rng(5)
    xs = rng.standard_normal((6, 2, 3))
    ys = rng.integers(0, 4, size=(6, 2))
    ys[0, 1] = -1  # no target at this step for this example
    model = rnn.ElmanRNN(3, 4, 4, seed=5)
    (grads,) = rnn.gradients(model, xs, ys, rnn.Full(), loss="ce")

    def objective(*params):
        return rnn.unroll(model, xs, ys, rnn.Full(), loss="ce").loss

    params = model.parameters()
    for p in params:
        p.grad = None
    objective().backward()
    assert_grads_close(grads, {n: p.grad for n, p in model.named_parameters()})
    assert mg.gradcheck(objective, params)


# -- truncations ---------------------------------------------------------------
def test_chunked_T_equals_full():
    xs, ys = problem(T=10)
    model = rnn.ElmanRNN(2, 5, 3, seed=6)
    assert_grads_close(rnn.gradients(model, xs, ys, rnn.Chunked(10))[0],
                       rnn.gradients(model, xs, ys, rnn.Full())[0])


@pytest.mark.parametrize("k", [1, 3, 4])
def test_tbptt_k_k_equals_chunked_k(k):
    xs, ys = problem(T=10)
    model = rnn.ElmanRNN(2, 5, 3, seed=7)
    chunked = rnn.gradients(model, xs, ys, rnn.Chunked(k))
    tbptt = rnn.gradients(model, xs, ys, rnn.TBPTT(k, k))
    assert len(chunked) == len(tbptt) == -(-10 // k)
    for a, b in zip(chunked, tbptt):
        assert_grads_close(a, b, atol=0)


def test_chunked_equals_independent_chunks_from_a_carried_detached_state():
    xs, ys = problem(T=10)
    model = rnn.ElmanRNN(2, 5, 3, seed=8)
    got = rnn.gradients(model, xs, ys, rnn.Chunked(4))
    w = weights(model)
    h = np.zeros((3, 5))
    for update, (a, b) in zip(got, [(0, 4), (4, 8), (8, 10)]):
        want = manual.elman_bptt(w["A"], w["B"], w["C"], xs[a:b], ys[a:b], "tanh", "identity", h0=h)
        assert_grads_close(update, want)
        h = manual.elman_forward(w["A"], w["B"], w["C"], xs[a:b], "tanh", "identity", h0=h)["h"][-1]


def tbptt_reference(model, xs, ys, k1, k2):
    """For each update at t: rerun from a detached h_{t-k2} on a fresh tape (no tape cutting).

    The remainder update at T reaches as far back as a full one would have: h_{t_prev + k1 - k2}.
    """
    T = len(xs)
    ends = list(range(k1, T + 1, k1))
    if ends[-1] != T:
        ends.append(T)
    params = dict(model.named_parameters())
    updates, first = [], 1
    for t in ends:
        start = max(first - 1 + k1 - k2, 0)
        with mg.no_grad():
            h = model.initial_state(xs.shape[1])
            for s in range(1, start + 1):
                h, _ = model.step(xs[s - 1], h)
        h = h.detach()
        loss = None
        for s in range(start + 1, t + 1):
            h, y_hat = model.step(xs[s - 1], h)
            if s >= first:
                l_s = 0.5 * mg.mse(y_hat, ys[s - 1], reduction="sum")
                loss = l_s if loss is None else loss + l_s
        for p in params.values():
            p.grad = None
        loss.backward()
        updates.append({n: p.grad.copy() for n, p in params.items()})
        first = t + 1
    return updates


@pytest.mark.parametrize("k1, k2", [(1, 1), (2, 3), (3, 5), (2, 7), (4, 4), (5, 20)])
@pytest.mark.parametrize("fused", [True, False])
def test_tbptt_equals_an_independent_window_recomputation(k1, k2, fused):
    xs, ys = problem(T=13)
    model = rnn.ElmanRNN(2, 5, 3, seed=9, fused=fused)
    got = rnn.gradients(model, xs, ys, rnn.TBPTT(k1, k2))
    want = tbptt_reference(model, xs, ys, k1, k2)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert_grads_close(a, b)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_sum_of_tbptt_1_k_equals_the_hand_truncated_gradient(k):
    xs, ys = problem(T=9)
    model = rnn.ElmanRNN(2, 5, 3, f="sigmoid", g="tanh", seed=10)
    w = weights(model)
    want = manual.elman_bptt(w["A"], w["B"], w["C"], xs, ys, "sigmoid", "tanh", k=k)
    assert_grads_close(total(rnn.gradients(model, xs, ys, rnn.TBPTT(1, k))), want)


def test_truncation_changes_the_gradient():
    xs, ys = problem(T=12)
    model = rnn.ElmanRNN(2, 5, 3, seed=11)
    full = rnn.gradients(model, xs, ys, rnn.Full())[0]
    chunked = total(rnn.gradients(model, xs, ys, rnn.Chunked(2)))
    assert np.abs(full["A"] - chunked["A"]).max() > 1e-3
    np.testing.assert_allclose(full["C"], chunked["C"])  # the readout does not see truncation


@pytest.mark.parametrize("segment", [1, 3, 4, 12, 20])
def test_checkpointed_equals_full(segment):
    xs, ys = problem(T=12)
    model = rnn.ElmanRNN(2, 5, 3, seed=12, bias=True)
    assert_grads_close(rnn.gradients(model, xs, ys, rnn.Checkpointed(segment))[0],
                       rnn.gradients(model, xs, ys, rnn.Full())[0])


def test_fused_and_op_level_cells_agree_with_biases():
    xs, ys = problem(T=8)
    fused = rnn.ElmanRNN(2, 5, 3, f="relu", g="sigmoid", bias=True, seed=13, fused=True)
    ops = rnn.ElmanRNN(2, 5, 3, f="relu", g="sigmoid", bias=True, seed=13, fused=False)
    fused.b_h.data[:] = 0.3
    ops.load_state_dict(fused.state_dict())
    assert_grads_close(rnn.gradients(fused, xs, ys, rnn.TBPTT(2, 3))[1], rnn.gradients(ops, xs, ys, rnn.TBPTT(2, 3))[1])


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("cls", [rnn.ElmanRNN, rnn.LinearRNN])
def test_cells_pass_gradcheck(cls, fused):
    xs, ys = problem(T=4, batch=2, n_hidden=3)
    model = cls(2, 3, 3, seed=14, fused=fused)
    h0 = mg.tensor(np.random.default_rng(1).standard_normal((2, 3)), requires_grad=True)
    x0 = mg.tensor(xs[0], requires_grad=True)

    def two_steps(h, x, *params):
        h1, y1 = model.step(x, h)
        h2, y2 = model.step(x * 0.5, h1)
        return y2 + h2.sum()

    assert mg.gradcheck(two_steps, [h0, x0] + model.parameters())


def test_gradients_leave_parameters_unchanged_and_grads_cleared():
    xs, ys = problem()
    model = rnn.ElmanRNN(2, 5, 3, seed=15)
    before = {k: v.copy() for k, v in weights(model).items()}
    rnn.gradients(model, xs, ys, rnn.TBPTT(2, 4))
    for name, value in weights(model).items():
        np.testing.assert_array_equal(value, before[name])
    assert all(p.grad is None for p in model.parameters())


# -- the graph edits are real nodes -------------------------------------------
@pytest.mark.parametrize("strategy", [rnn.Chunked(3), rnn.Randomized(0.5, seed=1), rnn.ARTBP(c=0.3, seed=2), rnn.TBPTT(2, 5)])
def test_the_tape_holds_edit_nodes_exactly_where_the_plan_says(strategy):
    xs, ys = problem(T=15)
    model = rnn.ElmanRNN(2, 5, 3, seed=16)
    unrolled = rnn.unroll(model, xs, ys, strategy)
    plan = unrolled.plan
    nodes = unrolled.tape.nodes()
    stops = [n.tags["step"] for n in nodes if n.op == "stop_gradient"]
    scales = {n.tags["step"]: n.meta for n in nodes if n.op == "scale_grad"}
    assert stops == plan.cut_steps()
    assert scales == pytest.approx(plan.scaled_steps())
    if isinstance(strategy, (rnn.Randomized, rnn.ARTBP)):
        assert stops and scales  # a draw with both kinds of edits


def test_unrolled_graph_backward_equals_the_sum_of_chunked_updates():
    xs, ys = problem(T=10)
    model = rnn.ElmanRNN(2, 5, 3, seed=17)
    unrolled = rnn.unroll(model, xs, ys, rnn.Chunked(3))
    unrolled.loss.backward()
    assert_grads_close({n: p.grad for n, p in model.named_parameters()},
                       total(rnn.gradients(model, xs, ys, rnn.Chunked(3))))


# -- unbiased random truncations ---------------------------------------------------
def sample_mean_and_bound(model, xs, ys, strategy, n):
    samples = np.array([np.concatenate([g.ravel() for g in total(rnn.gradients(model, xs, ys, strategy)).values()])
                        for _ in range(n)])
    mean = samples.mean(axis=0)
    standard_error = samples.std(axis=0, ddof=1) / np.sqrt(n)
    return samples, mean, standard_error


@pytest.mark.parametrize("strategy", [rnn.Randomized(0.6, seed=3), rnn.ARTBP(c=0.2, seed=4),
                                      rnn.ARTBP(schedule=rnn.survival_schedule(L0=3, a=3), seed=5)])
def test_random_truncations_are_unbiased(strategy):
    xs, ys = problem(T=8, batch=2, n_hidden=3)
    model = rnn.ElmanRNN(2, 3, 3, seed=18)
    full = np.concatenate([g.ravel() for g in rnn.gradients(model, xs, ys, rnn.Full())[0].values()])
    samples, mean, se = sample_mean_and_bound(model, xs, ys, strategy, n=1500)
    # every coordinate within 5 standard errors of the full gradient (and the bound is informative)
    assert np.all(np.abs(mean - full) <= 5 * se + 1e-12), np.max(np.abs(mean - full) / (se + 1e-12))
    assert not np.allclose(samples[0], full)  # one sample alone is not the full gradient
    assert se.max() < 0.2 * np.abs(full).max()


def test_random_strategies_are_reproducible_from_their_seed():
    a = [rnn.Randomized(0.5, seed=7).plan(20).edges for _ in range(2)]
    s1, s2 = rnn.ARTBP(c=0.2, seed=7), rnn.ARTBP(c=0.2, seed=7)
    assert a[0] == a[1]
    assert [s1.plan(30) for _ in range(3)] == [s2.plan(30) for _ in range(3)]
    assert s1.plan(30) != s1.plan(30)  # each call draws afresh


# -- memory ---------------------------------------------------------------------
def peak_bytes(strategy, T):
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((T, 4, 2)), rng.standard_normal((T, 4, 2))
    model = rnn.ElmanRNN(2, 16, 2, seed=19)
    return rnn.run(model, xs, ys, strategy).peak_bytes


@pytest.mark.parametrize("strategy", [rnn.TBPTT(25, 50), rnn.Chunked(50)])
def test_truncated_memory_does_not_grow_with_T(strategy):
    small, large = peak_bytes(strategy, 1000), peak_bytes(strategy, 10_000)
    assert abs(large - small) <= 0.03 * small


def test_full_memory_grows_linearly_and_checkpointed_like_a_square_root():
    full_small, full_large = peak_bytes(rnn.Full(), 1000), peak_bytes(rnn.Full(), 10_000)
    assert 9 <= full_large / full_small <= 11
    ck_small, ck_large = peak_bytes(rnn.Checkpointed(32), 1024), peak_bytes(rnn.Checkpointed(100), 10_000)
    assert 2.5 <= ck_large / ck_small <= 4  # sqrt(10) ~ 3.2
    assert ck_large < full_large / 20


# -- errors ---------------------------------------------------------------------
@pytest.mark.parametrize("make, message", [
    (lambda: rnn.TBPTT(0, 3), r"k1 must be an integer >= 1, got 0"),
    (lambda: rnn.TBPTT(4, 2), r"TBPTT needs k2 >= k1.*k1=4, k2=2"),
    (lambda: rnn.Chunked(2.5), r"k1 must be an integer >= 1, got 2.5"),
    (lambda: rnn.Randomized(0.0), r"p must be in \(0, 1\], got 0.0"),
    (lambda: rnn.Randomized(1.5), r"p must be in \(0, 1\], got 1.5"),
    (lambda: rnn.ARTBP(c=1.0), r"c must be in \(0, 1\), got 1.0"),
    (lambda: rnn.survival_schedule(a=2), r"a > 2"),
    (lambda: rnn.Checkpointed(0), r"segment must be an integer >= 1"),
    (lambda: rnn.ElmanRNN(2, 0, 3), r"n_hidden must be an integer >= 1, got 0"),
    (lambda: rnn.ElmanRNN(2, 3, 3, f="gelu"), rf"f must be one of {', '.join(ACTIVATION_CODES)}, got 'gelu'"),
])
def test_invalid_settings_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_mismatched_inputs_raise_clear_errors():
    model = rnn.ElmanRNN(2, 3, 3)
    xs, ys = problem(T=5)
    with pytest.raises(ValueError, match=r"same number of steps, got T=5 and 4"):
        rnn.gradients(model, xs, ys[:4], rnn.Full())
    with pytest.raises(ValueError, match=r"xs must have 2 input features .* got shape \(5, 3, 4\)"):
        rnn.gradients(model, np.zeros((5, 3, 4)), ys, rnn.Full())
    with pytest.raises(ValueError, match=r"time axis first"):
        rnn.gradients(model, np.zeros((0, 3, 2)), ys[:0], rnn.Full())
    with pytest.raises(ValueError, match=r"loss='ce' needs integer class targets"):
        rnn.gradients(model, xs, ys, rnn.Full(), loss="ce")
    with pytest.raises(ValueError, match=r"hidden must be one of"):
        rnn.gradients(model, xs, ys, rnn.Full(), hidden="detach")
    with pytest.raises(TypeError, match=r"not a cell: it needs initial_state"):
        rnn.gradients(object(), xs, ys, rnn.Full())


# -- fit ------------------------------------------------------------------------
def test_fit_updates_at_the_strategy_update_points_and_learns():
    rng = np.random.default_rng(20)
    xs = rng.standard_normal((400, 8, 1))
    ys = np.roll(xs, 1, axis=0)  # echo the previous input
    ys[0] = np.nan
    model = rnn.ElmanRNN(1, 8, 1, seed=21)
    optimizer = mg.optim.Adam(model.parameters(), lr=0.02)
    history = rnn.fit(model, xs, ys, rnn.Chunked(4), optimizer, clip=5.0)
    assert history.steps == list(range(4, 401, 4))
    first, last = np.mean(history.losses[:10]), np.mean(history.losses[-10:])
    assert last < 0.1 * first


def test_fit_with_hidden_reset_starts_every_window_from_h0():
    xs, ys = problem(T=8)
    model = rnn.ElmanRNN(2, 5, 3, seed=22)
    carried = rnn.gradients(model, xs, ys, rnn.Chunked(4))
    reset = rnn.gradients(model, xs, ys, rnn.Chunked(4), hidden="reset")
    second_alone = rnn.gradients(model, xs[4:], ys[4:], rnn.Full())[0]
    assert_grads_close(reset[1], second_alone)
    assert not np.allclose(carried[1]["A"], reset[1]["A"])


@pytest.mark.parametrize("fused", [True, False])
def test_a_window_that_fills_up_over_many_updates_raises_no_growth_warning(fused):
    """TBPTT(1, 12): the tape grows for 12 updates as planned, not because a state was left attached."""
    import warnings

    model = rnn.ElmanRNN(2, 4, 1, seed=3, fused=fused)
    xs = np.random.default_rng(0).standard_normal((30, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grads = rnn.gradients(model, xs, np.zeros((30, 1)), rnn.TBPTT(1, 12))
    assert len(grads) == 30


@pytest.mark.parametrize("strategy", [rnn.Full(), rnn.TBPTT(2, 4)])
def test_run_leaves_no_recorded_node_alive(strategy):
    """The driver drops its tape without clearing it: reference counting alone must free
    every node (and the arrays they saved) by the time run returns."""
    from minigrad.tape import Node

    def live_nodes():
        return sum(isinstance(o, Node) for o in gc.get_objects())

    model = rnn.ElmanRNN(3, 4, 2, seed=0)
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((9, 3)), rng.standard_normal((9, 2))
    gc.collect()
    before = live_nodes()
    gc.disable()
    try:
        result = rnn.run(model, xs, ys, strategy)
        assert live_nodes() == before
    finally:
        gc.enable()
    assert result.final_state.node is None
