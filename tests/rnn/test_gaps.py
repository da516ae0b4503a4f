"""Tests for behaviour that mutation testing found unchecked (issue 20; docs/mutation.md).

Each test pins one property of the BPTT driver, the strategies or the fused
cell that a small edit of rnn/bptt.py, rnn/truncation.py or rnn/fused.py
changed without any other test noticing.  They go through the public API
(rnn.run, rnn.gradients, rnn.fit, rnn.unroll, the strategies), so they hold
whatever shape the driver's internals take.
"""

import numpy as np
import pytest

import minigrad as mg
import rnn
from minigrad.nn import Parameter


def data(T, n_in=3, n_out=2, batch=None, seed=0):
    rng = np.random.default_rng(seed)
    lead = (T,) if batch is None else (T, batch)
    return rng.normal(size=lead + (n_in,)), rng.normal(size=lead + (n_out,))


class Probe(rnn.ElmanRNN):
    """The per-op Elman cell, recording what the driver asks of it: the batch of each
    initial state and the tape's live node count as each step begins."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, fused=False, **kwargs)
        self.batches, self.live = [], []

    def initial_state(self, batch=None):
        self.batches.append(batch)
        return super().initial_state(batch)

    def step(self, x, h):
        self.live.append(mg.current_tape().live_nodes)
        return super().step(x, h)


# -- index checks: the bad index in position 0 -----------------------------------
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("xs", [[-1, 0, 1], [3, 0, 1], [[3, 0], [1, 2], [0, 0]]])
def test_token_indices_with_a_bad_first_index_are_refused(xs, fused):
    model = rnn.ElmanRNN(3, 4, 2, fused=fused)
    xs = np.asarray(xs)
    ys = np.zeros(xs.shape + (2,))
    with pytest.raises(ValueError, match=r"token indices, which must lie in \[0, n_in\) = \[0, 3\)"):
        rnn.gradients(model, xs, ys, rnn.Full())


@pytest.mark.parametrize("xs", [[-1, 0, 1], [3, 0, 1], [[3, 0], [1, 2], [0, 0]]])
def test_the_fused_scan_refuses_a_bad_first_token_index(xs):
    model = rnn.ElmanRNN(3, 4, 2)
    xs = np.asarray(xs)
    h0 = model.initial_state(xs.shape[1] if xs.ndim == 2 else None)
    bad = xs.reshape(-1)[0]
    with pytest.raises(ValueError, match=rf"elman_scan: token index {bad} is out of range for 3 inputs"):
        model.scan(xs, h0, (1.0,) * len(xs))


def test_cross_entropy_targets_with_a_bad_first_class_are_refused():
    xs, _ = data(4)
    with pytest.raises(ValueError, match=r"target 2 is out of range for 2 classes"):
        rnn.gradients(rnn.ElmanRNN(3, 4, 2), xs, np.array([2, 0, 1, 0]), rnn.Full(), loss="ce")


# -- a parameter that no loss reaches ------------------------------------------------
class WithSpare(rnn.ElmanRNN):
    """An Elman cell with one parameter its step never uses."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.spare = Parameter(np.ones((2, 3)), name="spare")


@pytest.mark.parametrize("strategy", [rnn.Full(), rnn.Chunked(2), rnn.TBPTT(2, 4), rnn.Checkpointed(3)],
                         ids=repr)
@pytest.mark.parametrize("fused", [True, False])
def test_a_parameter_no_loss_reaches_gets_a_zero_gradient(strategy, fused):
    xs, ys = data(7)
    model = WithSpare(3, 4, 2, fused=fused)
    grads = rnn.gradients(model, xs, ys, strategy)
    assert len(grads) == len(strategy.plan(7).updates)
    for update in grads:
        assert set(update) == {"A", "B", "C", "spare"}
        np.testing.assert_array_equal(update["spare"], np.zeros((2, 3)))
        assert np.abs(update["A"]).sum() > 0
    reference = rnn.gradients(rnn.ElmanRNN(3, 4, 2, fused=fused), xs, ys, strategy)
    for mine, theirs in zip(grads, reference):
        for name in "ABC":
            np.testing.assert_allclose(mine[name], theirs[name], rtol=1e-12, atol=1e-14)


def test_fit_steps_past_a_parameter_no_loss_reaches():
    xs, ys = data(8)
    model = WithSpare(3, 4, 2)
    before = model.A.data.copy()
    history = rnn.fit(model, xs, ys, rnn.Chunked(4), mg.optim.SGD(model.parameters(), lr=0.1))
    assert len(history) == 2
    np.testing.assert_array_equal(model.spare.data, np.ones((2, 3)))
    assert not np.array_equal(model.A.data, before)


# -- ARTBP schedules and the survival schedule ----------------------------------------------
@pytest.mark.parametrize("bad", [-0.5, 1.0, 1.5])
def test_an_artbp_schedule_outside_zero_one_is_refused(bad):
    strategy = rnn.ARTBP(schedule=lambda L: bad)
    with pytest.raises(ValueError, match=rf"schedule gave c={bad} for run length 1; it must be in \[0, 1\)"):
        strategy.plan(5)


def test_an_artbp_schedule_is_asked_at_the_current_run_length():
    asked = []

    def schedule(L):
        asked.append(L)
        return 0.0 if L < 3 else 0.999999

    plan = rnn.ARTBP(schedule=schedule, seed=0).plan(6)
    # runs of 3: never cut at run lengths 1 and 2, (almost) always at 3
    assert asked == [1, 2, 3, 1, 2]
    assert plan.cut_steps() == [4]
    assert [(u.t, u.first, u.reach) for u in plan.updates] == [(3, 1, 0), (6, 4, 3)]
    assert plan.edges == (1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0)


def test_a_zero_artbp_schedule_never_cuts_and_scales_nothing():
    plan = rnn.ARTBP(schedule=lambda L: 0.0).plan(9)
    assert plan.edges == (1.0,) * 10
    assert [(u.t, u.first, u.reach) for u in plan.updates] == [(9, 1, 0)]


def survival(L, L0, a):
    return (1 + L / L0) ** (-a)


@pytest.mark.parametrize("L0, a", [(10.0, 3.0), (0.5, 3.0), (4.0, 2.5)])
def test_survival_schedule_is_one_minus_the_survival_ratio(L0, a):
    c = rnn.survival_schedule(L0=L0, a=a)
    for L in (1, 2, 5, 20):
        assert c(L) == pytest.approx(1 - survival(L + 1, L0, a) / survival(L, L0, a), rel=1e-12)
    assert 0 < c(20) < c(1) < 1  # long runs are ever less likely to be cut


def test_survival_schedule_defaults_are_L0_10_and_a_3():
    c = rnn.survival_schedule()
    assert c(1) == pytest.approx(1 - (12 / 11) ** -3, rel=1e-12)
    assert c(4) == pytest.approx(1 - (15 / 14) ** -3, rel=1e-12)


def test_survival_schedule_describes_itself():
    assert rnn.survival_schedule().description == "c(L) = 1 - S(L+1)/S(L), S(L) = (1 + L/10)^-3"
    assert rnn.survival_schedule(L0=0.5, a=2.5).description == "c(L) = 1 - S(L+1)/S(L), S(L) = (1 + L/0.5)^-2.5"


def test_survival_schedule_takes_numpy_numbers_and_refuses_other_kinds():
    c = rnn.survival_schedule(L0=np.float32(4.0), a=np.int64(3))
    assert c(2) == pytest.approx(1 - survival(3, 4.0, 3.0) / survival(2, 4.0, 3.0))
    with pytest.raises(ValueError, match="survival_schedule's a must be a real number, got '3'"):
        rnn.survival_schedule(a="3")
    with pytest.raises(ValueError, match="survival_schedule's L0 must be a real number, got True"):
        rnn.survival_schedule(L0=True)
    with pytest.raises(ValueError, match="survival_schedule's L0 must be finite, got inf"):
        rnn.survival_schedule(L0=float("inf"))


@pytest.mark.parametrize("kwargs, message", [
    ({"a": 2.0}, "needs a > 2"), ({"a": 1.0}, "needs a > 2"), ({"L0": 0.0}, "needs L0 > 0"),
    ({"L0": -1.0}, "needs L0 > 0"),
])
def test_survival_schedule_refuses_an_infinite_variance_or_a_non_positive_scale(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rnn.survival_schedule(**kwargs)


# -- Randomized's default seed ----------------------------------------------------------------
def test_artbp_seeds_zero_by_default():
    default, zero, one = rnn.ARTBP(0.3), rnn.ARTBP(0.3, seed=0), rnn.ARTBP(0.3, seed=1)
    assert default.seed == 0
    draws = [s.plan(60).edges for s in (default, zero, one)]
    assert draws[0] == draws[1] != draws[2]


def test_randomized_seeds_zero_by_default():
    default, zero, one = rnn.Randomized(0.5), rnn.Randomized(0.5, seed=0), rnn.Randomized(0.5, seed=1)
    assert default.seed == 0
    draws = [s.plan(40).edges for s in (default, zero, one)]
    assert draws[0] == draws[1]
    assert draws[0] != draws[2]
    assert set(draws[0][2:]) == {0.0, 2.0}


# -- memory bounds --------------------------------------------------------------------------
def test_chunked_holds_one_chunk_of_nodes_at_every_step():
    """Before each chunk's first step the previous chunk's graph is released, so the tape
    never holds more than one chunk: not two (the last update's graph plus the new one)."""
    xs, ys = data(40)
    one_chunk = rnn.run(Probe(3, 4, 2), xs[:4], ys[:4], rnn.Full()).peak_nodes
    model = Probe(3, 4, 2)
    at_update = []
    result = rnn.run(model, xs, ys, rnn.Chunked(4),
                     on_update=lambda update, loss: at_update.append(mg.current_tape().live_nodes))
    assert len(model.live) == 40 and len(at_update) == 10
    assert max(model.live) < one_chunk
    assert max(at_update) <= one_chunk and result.peak_nodes <= one_chunk
    assert result.peak_nodes == rnn.run(Probe(3, 4, 2), xs[:8], ys[:8], rnn.Chunked(4)).peak_nodes


@pytest.mark.parametrize("fused", [True, False])
def test_checkpointed_reports_a_peak_of_one_segment(fused):
    xs, ys = data(40)
    segment = 5
    one_segment = rnn.run(rnn.ElmanRNN(3, 4, 2, fused=fused), xs[:segment], ys[:segment], rnn.Full()).peak_nodes
    peaks = [rnn.run(rnn.ElmanRNN(3, 4, 2, fused=fused), xs[:T], ys[:T], rnn.Checkpointed(segment)).peak_nodes
             for T in (20, 40)]
    assert peaks[0] == peaks[1]  # does not grow with T
    # one segment's graph plus the three nodes that add <h_end, dL/dh_end> of the segment after it
    assert 0 < one_segment < peaks[0] <= one_segment + 3


def test_checkpointed_records_at_most_one_segment_on_the_tape():
    xs, ys = data(20)
    model = Probe(3, 4, 2)
    result = rnn.run(model, xs, ys, rnn.Checkpointed(5))
    one_segment = rnn.run(Probe(3, 4, 2), xs[:5], ys[:5], rnn.Full()).peak_nodes
    assert len(model.live) == 40  # a no-grad forward, then each segment again
    assert model.live[:20] == [0] * 20
    assert max(model.live) < one_segment <= result.peak_nodes


# -- batched feature inputs ----------------------------------------------------------------------
@pytest.mark.parametrize("strategy", [rnn.Full(), rnn.Chunked(3), rnn.Checkpointed(2)], ids=repr)
def test_batched_features_start_from_a_batched_initial_state(strategy):
    xs, ys = data(6, batch=5)
    model = Probe(3, 4, 2)
    result = rnn.run(model, xs, ys, strategy)
    assert model.batches == [5]
    assert result.final_state.shape == (5, 4)


def test_batched_token_indices_start_from_a_batched_initial_state():
    xs = np.array([[0, 1, 2, 0, 1], [2, 2, 1, 0, 0]])
    ys = np.zeros((2, 5, 2))
    model = Probe(3, 4, 2)
    rnn.run(model, xs, ys, rnn.Full())
    assert model.batches == [5]
    single = Probe(3, 4, 2)
    rnn.run(single, xs[:, 0], ys[:, 0], rnn.Full())
    assert single.batches == [None]


def test_unroll_starts_batched_features_from_a_state_of_shape_batch_by_hidden():
    xs, ys = data(4, batch=5)
    unrolled = rnn.unroll(rnn.ElmanRNN(3, 4, 2), xs, ys, rnn.Full())
    assert unrolled.states[0].shape == (5, 4)
    assert all(h.shape == (5, 4) for h in unrolled.states)
    xs1, ys1 = data(4)
    assert rnn.unroll(rnn.ElmanRNN(3, 4, 2), xs1, ys1, rnn.Full()).states[0].shape == (4,)


# -- plans: what every strategy's plan must satisfy ------------------------------------------
STRATEGIES = [rnn.Full(), rnn.Chunked(3), rnn.TBPTT(2, 5), rnn.TBPTT(3, 3), rnn.Randomized(0.5, seed=3),
              rnn.ARTBP(0.3, seed=4), rnn.ARTBP(schedule=rnn.survival_schedule(L0=2.0), seed=5), rnn.Checkpointed(4)]


@pytest.mark.parametrize("strategy", STRATEGIES, ids=repr)
@pytest.mark.parametrize("T", [1, 2, 7, 12])
def test_every_plan_covers_each_step_once_with_an_edge_factor_per_step(strategy, T):
    plan = strategy.plan(T)
    assert plan.T == T and len(plan.edges) == T + 1
    assert plan.edges[0] == plan.edges[1] == rnn.truncation.PASS  # h_0 is not trained: never edited
    assert plan.updates[0].first == 1 and plan.updates[-1].t == T
    for before, after in zip(plan.updates, plan.updates[1:]):
        assert after.first == before.t + 1  # every loss in exactly one update
    for update in plan.updates:
        assert 0 <= update.reach < update.first <= update.t
    assert plan.carries is None


@pytest.mark.parametrize("strategy", STRATEGIES, ids=repr)
@pytest.mark.parametrize("T", [0, -1, 2.5, True])
def test_every_strategy_refuses_a_sequence_length_that_is_not_a_positive_integer(strategy, T):
    with pytest.raises(ValueError, match=r"T \(the sequence length\) must be an integer >= 1"):
        strategy.plan(T)


def test_full_and_checkpointed_plans_are_one_update_over_everything():
    for plan in (rnn.Full().plan(5), rnn.Checkpointed(2).plan(5)):
        assert plan.edges == (1.0,) * 6
        assert plan.updates == (rnn.Update(5, 1, 0),)
    assert rnn.Full().plan(5).checkpoint is None and rnn.Checkpointed(2).plan(5).checkpoint == 2


def test_plan_queries_read_a_hand_made_plan():
    # a hand-made plan may edit the edge into step 1 too: the queries report every step from 1
    plan = rnn.Plan(4, (1.0, 0.0, 2.0, 0.0, 1.0), (rnn.Update(2, 1, 0), rnn.Update(4, 3, 1)))
    assert plan.cut_steps() == [1, 3]
    assert plan.scaled_steps() == {2: 2.0}
    assert rnn.Plan(3, (1.0, 0.5, 1.0, 0.25), (rnn.Update(3, 1, 0),)).scaled_steps() == {1: 0.5, 3: 0.25}
    assert plan.carries is None and rnn.Plan(1, (1.0, 1.0), (rnn.Update(1, 1, 0),), carries="influence").carries


def test_keep_from_is_the_oldest_state_a_later_update_needs():
    plan = rnn.TBPTT(2, 5).plan(10)  # updates at 2, 4, 6, 8, 10 reaching 0, 0, 1, 3, 5
    assert [u.reach for u in plan.updates] == [0, 0, 1, 3, 5]
    assert [plan.keep_from(i) for i in range(5)] == [0, 1, 3, 5, 10]
    chunked = rnn.Chunked(3).plan(8)
    assert [chunked.keep_from(i) for i in range(3)] == [3, 6, 8]


def test_strategies_say_whether_their_plans_are_random():
    assert [s.random for s in STRATEGIES] == [False, False, False, False, True, True, True, False]


def test_equal_strategies_hash_alike():
    assert hash(rnn.TBPTT(3, 5)) == hash(rnn.TBPTT(3, 5))
    assert len({rnn.TBPTT(3, 5), rnn.TBPTT(3, 5), rnn.Chunked(3), rnn.Chunked(3)}) == 2
    assert {rnn.Randomized(0.5, seed=1): "a"}[rnn.Randomized(0.5, seed=1)] == "a"


@pytest.mark.parametrize("spec, strategy", [
    ("full", rnn.Full()), ("chunked", rnn.Chunked(10)), ("tbptt", rnn.TBPTT(5, 20)),
    ("randomized", rnn.Randomized(0.5)), ("artbp", rnn.ARTBP(0.1)), ("checkpointed", rnn.Checkpointed(10)),
])
def test_a_bare_strategy_name_takes_the_registered_example_values(spec, strategy):
    assert rnn.parse_strategy(spec) == strategy
    assert repr(rnn.parse_strategy(spec)) == repr(strategy)


def test_fixed_takes_only_a_plan_and_compares_by_it():
    plan = rnn.Chunked(2).plan(5)
    with pytest.raises(TypeError, match="Fixed needs an rnn.Plan, got str"):
        rnn.Fixed("chunked:2")
    assert rnn.Fixed(plan).parameters() == {"plan": plan}
    assert rnn.Fixed(plan) == rnn.Fixed(rnn.Chunked(2).plan(5)) != rnn.Fixed(rnn.Chunked(3).plan(5))


# -- h0: the driver cuts the tape there, so it must be a leaf ----------------------------------
class UnfinishedState(rnn.ElmanRNN):
    """A cell whose initial_state is not written yet (an assignment's task): h0 must be given."""

    def initial_state(self, batch=None):
        raise NotImplementedError("initial_state: your code here")


@pytest.mark.parametrize("make", [rnn.ElmanRNN, UnfinishedState])
def test_the_driver_refuses_an_h0_with_a_recorded_history(make):
    xs, ys = data(4)
    model = make(3, 4, 2)
    h0 = mg.tensor(np.zeros(4), requires_grad=True) * 2.0
    with pytest.raises(ValueError, match=r"h0 has a recorded history \(it is the output of op 'mul'\)"):
        rnn.gradients(model, xs, ys, rnn.Full(), h0=h0)
    [grads] = rnn.gradients(model, xs, ys, rnn.Full(), h0=h0.detach())
    assert set(grads) == {"A", "B", "C"}


@pytest.mark.parametrize("make", [rnn.ElmanRNN, UnfinishedState])
def test_unroll_takes_an_h0_with_a_history_and_backpropagates_into_it(make):
    xs, ys = data(4)
    model = make(3, 4, 2)
    start = mg.tensor(np.full(4, 0.1), requires_grad=True)
    unrolled = rnn.unroll(model, xs, ys, rnn.Full(), h0=start * 2.0)
    unrolled.loss.backward()
    assert start.grad is not None and np.abs(start.grad).sum() > 0


# -- the driver hands online and checkpointed strategies to their own executors -----------------
def test_the_driver_runs_an_online_strategy_through_its_own_executor():
    xs, ys = data(6)
    model = rnn.ElmanRNN(3, 4, 2)
    [online] = rnn.gradients(model, xs, ys, rnn.RTRL(every=6))  # exact, like full BPTT
    [full] = rnn.gradients(model, xs, ys, rnn.Full())
    for name in "ABC":
        np.testing.assert_allclose(online[name], full[name], rtol=1e-9, atol=1e-12)
    result = rnn.run(model, xs, ys, rnn.RTRL(every=2))
    assert len(result.losses) == 3
    # the same plan run as windows on the tape gives the same (exact) gradients, but holds the windows
    window = rnn.run(model, xs, ys, rnn.TBPTT(2, 6))
    assert window.losses == pytest.approx(result.losses, rel=1e-12)
    assert result.peak_nodes < window.peak_nodes


@pytest.mark.parametrize("strategy", [rnn.RTRL(every=2), rnn.Checkpointed(2)], ids=repr)
def test_a_strategy_with_a_single_carried_computation_refuses_hidden_reset(strategy):
    xs, ys = data(6)
    with pytest.raises(ValueError, match="hidden='reset' has no meaning for it"):
        rnn.gradients(rnn.ElmanRNN(3, 4, 2), xs, ys, strategy, hidden="reset")


def test_unroll_keeps_a_handle_on_every_state_output_and_loss():
    xs, ys = data(5)
    unrolled = rnn.unroll(rnn.ElmanRNN(3, 4, 2), xs, ys, rnn.Chunked(2))
    assert len(unrolled.states) == 6 and len(unrolled.outputs) == 5 and len(unrolled.losses) == 5
    assert all(y.shape == (2,) for y in unrolled.outputs)
    expected = sum(0.5 * np.sum((y.data - target) ** 2) for y, target in zip(unrolled.outputs, ys))
    assert unrolled.loss.item() == pytest.approx(expected, rel=1e-12)


def test_a_fresh_history_is_empty():
    history = rnn.History()
    assert len(history) == 0 and history.losses == [] and history.steps == []
    assert history.final_state is None and history.peak_nodes == 0


def test_fit_calls_back_after_every_update_with_its_index_update_and_loss():
    xs, ys = data(9)
    model = rnn.ElmanRNN(3, 4, 2)
    calls = []
    history = rnn.fit(model, xs, ys, rnn.Chunked(4), mg.optim.SGD(model.parameters(), lr=0.01),
                      callback=lambda i, update, loss: calls.append((i, update.t, loss)))
    assert [(i, t) for i, t, _ in calls] == [(0, 4), (1, 8), (2, 9)]
    assert [loss for _, _, loss in calls] == history.losses and history.steps == [4, 8, 9]


def test_the_fused_scan_refuses_feature_inputs_without_a_time_axis():
    model = rnn.ElmanRNN(3, 4, 2)
    with pytest.raises(mg.errors.ShapeError, match=r"elman_scan: xs of shape \(3,\) does not hold vectors of the 3"):
        model.scan(np.zeros(3), model.initial_state(), (1.0,))


@pytest.mark.parametrize("xs_kind", ["features", "indices"])
def test_a_float32_fused_tanh_cell_computes_what_the_per_op_cell_does(xs_kind):
    rng = np.random.default_rng(2)
    xs = rng.normal(size=(6, 3)) if xs_kind == "features" else rng.integers(0, 3, size=6)
    ys = rng.normal(size=(6, 2))
    fused = rnn.ElmanRNN(3, 4, 2, dtype=np.float32)
    per_op = rnn.ElmanRNN(3, 4, 2, dtype=np.float32, fused=False)
    states = fused.scan(xs.astype(np.float32) if xs_kind == "features" else xs, fused.initial_state(), (1.0,) * 6)[0]
    assert states.data.dtype == np.float32
    unrolled = rnn.unroll(per_op, xs, ys, rnn.Full())
    np.testing.assert_allclose(states.data, np.stack([h.data for h in unrolled.states[1:]]), rtol=1e-5, atol=1e-6)
    losses = [rnn.run(m, xs, ys, rnn.Chunked(3)).losses for m in (fused, per_op)]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)
