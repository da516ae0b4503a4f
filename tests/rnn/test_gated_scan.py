"""The gated scan nodes (``rnn.gated_scan``: ``LSTMScan``, ``GRUScan``) and the driver's gated segments.

* each node passes ``mg.gradcheck`` (float64, unbatched, batched and with
  batch axes that broadcast) with respect to every input, xs included;
* with edge factors 1, 0 and 0.5 inside the segment, the node's gradient and
  tangent equal the finite differences of the function whose edges the
  factors edit: the state entering step t is c s_{t-1} + (1 - c) s_{t-1}*,
  s_{t-1}* frozen at the unperturbed values (what a scale-gradient node
  means: the value unchanged, c times the derivative);
* the driver's scan gives the gradients of stepping the same cell, for every
  parameter and the initial state, under every strategy of the registry (the
  per-op cell's agreement is ``test_cell_table``'s);
* forward mode (``mg.jvp``) through a scan equals finite differences;
* float32 runs, stays float32 and is close to float64;
* one node per segment, whatever its length; bad shapes raise a ShapeError
  that names the node.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import rnn
from minigrad.errors import ShapeError
from minigrad.kernels import gates as gates_module
from rnn import registry
from rnn.gated_scan import GRUScan, LSTMScan

N_IN, N_HIDDEN, N_OUT = 2, 3, 2
CELLS = [rnn.LSTM, rnn.GRU]
SHAPES = pytest.mark.parametrize("x_lead, h_lead", [((), ()), ((2,), (2,)), ((2,), ()), ((), (2,))],
                                 ids=["unbatched", "batch2", "xs-batched-only", "state-batched-only"])
FACTORS = [(1.0, 0.0, 0.5, 1.0), (0.5, 1.0, 1.0, 0.0), (0.0, 0.5, 0.5, 0.5)]
FACTOR_IDS = ["cut-scale", "scale-cut", "all-edited"]


def stepping(cls):
    """The fused cell without its scan: the driver steps it, one ``LSTMStep``/``GRUStep`` node per
    step with the plan's edge edits as stop-gradient / scale-gradient nodes."""
    return type(f"Stepping{cls.__name__}", (cls,), {"scan": None})


def make(cls, fused=True, dtype=np.float64, seed=0):
    """A cell whose every parameter (biases too) is random, so each gate term is exercised."""
    model = cls(N_IN, N_HIDDEN, N_OUT, seed=seed, fused=fused, dtype=dtype)
    rng = np.random.default_rng(seed + 100)
    model.load_state_dict({name: 0.6 * rng.standard_normal(a.shape) for name, a in model.state_dict().items()})
    return model


def node_inputs(cls, rng, L, x_lead, h_lead):
    """Random float64 arrays for every input of the cell's scan node, in the node's order."""
    model = make(cls)
    params = {name: p.data for name, p in model.named_parameters()}
    names = ("W", "U", "b") + (("b_hn",) if cls is rnn.GRU else ())
    states = [0.5 * rng.standard_normal(h_lead + (N_HIDDEN,)) for _ in range(2 if cls is rnn.LSTM else 1)]
    return [params[n].copy() for n in names] + states + [rng.standard_normal((L,) + x_lead + (N_IN,))]


def scan_node(cls):
    return LSTMScan if cls is rnn.LSTM else GRUScan


def frozen_mixture(cls, arrays, factors, frozen=None):
    """The function whose derivative a segment with ``factors`` computes, stepped with length-one
    scans: the state entering step t is c s_{t-1} + (1 - c) frozen[t] (frozen: the states of the
    unperturbed run).  Returns (outputs of every step stacked, the states entering each step)."""
    *weights, xs = arrays
    n_state = 2 if cls is rnn.LSTM else 1
    weights, state = weights[:-n_state], list(weights[-n_state:])
    outputs, entering = [], []
    for t, c in enumerate(factors):
        if frozen is not None:
            state = [c * s + (1 - c) * f for s, f in zip(state, frozen[t])]
        entering.append([s.copy() for s in state])
        with mg.no_grad():
            out = scan_node(cls).apply(*weights, *state, xs[t:t + 1], factors=(1.0,)).data[0]
        state = [out[..., :N_HIDDEN], out[..., N_HIDDEN:]] if cls is rnn.LSTM else [out]
        outputs.append(out)
    return np.stack(outputs), entering


# -- the nodes against finite differences ----------------------------------------------
@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
@SHAPES
def test_a_scan_node_passes_gradcheck(cls, x_lead, h_lead):
    arrays = node_inputs(cls, np.random.default_rng(1), 4, x_lead, h_lead)
    inputs = [mg.tensor(a, requires_grad=True) for a in arrays]
    assert mg.gradcheck(lambda *ts: scan_node(cls).apply(*ts, factors=(1.0,) * 4), inputs)


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("factors", FACTORS, ids=FACTOR_IDS)
@pytest.mark.parametrize("x_lead, h_lead", [((), ()), ((2,), (2,))], ids=["unbatched", "batch2"])
def test_the_factors_inside_the_node_edit_its_edges(cls, factors, x_lead, h_lead):
    """dL/d(each input) of the node with ``factors`` = the central differences of the frozen mixture."""
    rng = np.random.default_rng(2)
    arrays = node_inputs(cls, rng, len(factors), x_lead, h_lead)
    _, frozen = frozen_mixture(cls, arrays, (1.0,) * len(factors))  # the unedited run's states
    w = rng.standard_normal(frozen_mixture(cls, arrays, factors, frozen)[0].shape)
    inputs = [mg.tensor(a, requires_grad=True) for a in arrays]
    with mg.Tape():
        (scan_node(cls).apply(*inputs, factors=factors) * w).sum().backward()
    eps = 1e-6
    for i, (a, x) in enumerate(zip(arrays, inputs)):
        numeric = np.empty_like(a)
        for k in np.ndindex(a.shape):
            nudged = [b.copy() for b in arrays]
            nudged[i][k] += eps
            up = np.sum(w * frozen_mixture(cls, nudged, factors, frozen)[0])
            nudged[i][k] -= 2 * eps
            down = np.sum(w * frozen_mixture(cls, nudged, factors, frozen)[0])
            numeric[k] = (up - down) / (2 * eps)
        got = np.zeros_like(a) if x.grad is None else x.grad
        np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-8, err_msg=f"input {i}")


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("factors", [(1.0,) * 4] + FACTORS, ids=["pass"] + FACTOR_IDS)
@SHAPES
def test_the_tangent_of_a_scan_node_is_the_finite_difference(cls, factors, x_lead, h_lead):
    """mg.jvp along every input at once = (f(x + eps v) - f(x - eps v)) / (2 eps), f the frozen mixture."""
    rng = np.random.default_rng(3)
    arrays = node_inputs(cls, rng, len(factors), x_lead, h_lead)
    _, frozen = frozen_mixture(cls, arrays, (1.0,) * len(factors))
    v = [rng.standard_normal(a.shape) for a in arrays]
    with mg.no_grad():
        out, tangent = mg.jvp(lambda *ts: scan_node(cls).apply(*ts, factors=factors), [mg.tensor(a) for a in arrays], v)
    eps = 1e-6
    up = frozen_mixture(cls, [a + eps * d for a, d in zip(arrays, v)], factors, frozen)[0]
    down = frozen_mixture(cls, [a - eps * d for a, d in zip(arrays, v)], factors, frozen)[0]
    np.testing.assert_allclose(out.data, frozen_mixture(cls, arrays, factors, frozen)[0], rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(tangent, (up - down) / (2 * eps), rtol=1e-6, atol=1e-8)


# -- the driver: scanning = stepping the per-op cell, for every strategy -----------------------
#: a small instance of every registered strategy, for a sequence of T = 9 steps
SPECS = {"full": "full", "tbptt": "tbptt:2,5", "chunked": "chunked:3", "randomized": "randomized:0.5,seed=1",
         "artbp": "artbp:c=0.3,seed=2", "checkpointed": "checkpointed:4", "rtrl": "rtrl", "uoro": "uoro:seed=3",
         "snap": "snap"}


def test_every_registered_strategy_has_a_spec_here():
    assert set(SPECS) == set(registry.STRATEGIES)


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("spec", SPECS.values(), ids=list(SPECS))
@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_scanning_gives_the_gradients_of_stepping(cls, spec, loss):
    """Every update's gradient of every parameter, and dL/dh0 summed over the updates, of the fused
    cell (the driver scans its segments) equal those of the same cell stepped (one step node per
    step, each edge edited by stop-gradient / scale-gradient nodes).  (The online strategies step
    every cell: for them this holds trivially.)"""
    rng = np.random.default_rng(4)
    xs = rng.standard_normal((9, 2, N_IN))
    ys = rng.integers(0, N_OUT, size=(9, 2)) if loss == "ce" else rng.standard_normal((9, 2, N_OUT))
    h0_values = [0.5 * rng.standard_normal((2, N_HIDDEN)) for _ in range(2 if cls is rnn.LSTM else 1)]
    results = []
    for scans in (True, False):
        model = make(cls if scans else stepping(cls))
        assert (model.scan is not None) == scans
        h0 = [mg.tensor(a.copy(), requires_grad=True) for a in h0_values]
        grads = rnn.gradients(model, xs, ys, rnn.parse_strategy(spec), loss=loss,
                              h0=tuple(h0) if cls is rnn.LSTM else h0[0])
        results.append((grads, [np.zeros_like(h.data) if h.grad is None else h.grad for h in h0]))
    (scanned, dh0_scanned), (stepped, dh0_stepped) = results
    assert len(scanned) == len(stepped) >= 1
    for update, (a, b) in enumerate(zip(scanned, stepped)):
        for name in b:
            np.testing.assert_allclose(a[name], b[name], rtol=1e-10, atol=1e-12, err_msg=f"update {update}: {name}")
    for a, b in zip(dh0_scanned, dh0_stepped):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg="dL/dh0")


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_a_segment_is_one_node_whatever_its_length(cls):
    """Full BPTT over T steps records one scan node (and a readout), for T = 3 and T = 30."""
    counts = {}
    for T in (3, 30):
        model = make(cls)
        xs, ys = np.ones((T, 2, N_IN)), np.zeros((T, 2, N_OUT))
        plan, snapshots = rnn.viz.record_run(model, xs, ys, rnn.Full())
        ops = [node.op for node in snapshots[0][1]]
        assert ops.count(scan_node(cls).name) == 1 and "lstm_step" not in ops and "gru_step" not in ops
        counts[T] = len(ops)
    assert counts[3] == counts[30]


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_the_scan_keeps_the_plans_factors_and_the_last_state(cls):
    model = make(cls)
    rng = np.random.default_rng(5)
    xs = rng.standard_normal((5, N_IN))
    h0 = model.initial_state()
    with mg.Tape():
        states, outputs = model.scan(xs, h0, (1.0, 0.0, 0.5, 1.0, 1.0))
        node = (states[0].node.inputs[0] if cls is rnn.LSTM else states).node  # the LSTM's h: a slice of [h | c]
        assert node.fn is scan_node(cls) and node.meta.factors == (1.0, 0.0, 0.5, 1.0, 1.0)
    with mg.no_grad():  # the last stacked state is the state after stepping five times
        state = h0
        for x in xs:
            state, y = model.step(x, state)
    for got, want in zip(states if cls is rnn.LSTM else (states,), state if cls is rnn.LSTM else (state,)):
        np.testing.assert_allclose(got.data[-1], want.data, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(outputs.data[-1], y.data, rtol=1e-13, atol=1e-14)


# -- float32 -------------------------------------------------------------------------
@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_float32_runs_stays_float32_and_is_close_to_float64(cls):
    rng = np.random.default_rng(6)
    xs = rng.standard_normal((12, 3, N_IN))
    ys = rng.integers(0, N_OUT, size=(12, 3))
    results = {}
    for dtype in (np.float64, np.float32):
        model = make(cls, dtype=dtype)
        with mg.no_grad():
            states, outputs = model.scan(xs.astype(dtype), model.initial_state(3), (1.0,) * 12)
        grads = rnn.gradients(model, xs.astype(dtype), ys, rnn.TBPTT(3, 5), loss="ce")
        parts = states if isinstance(states, tuple) else (states,)
        results[dtype] = ([p.data for p in parts] + [outputs.data], grads)
    (values64, grads64), (values32, grads32) = results[np.float64], results[np.float32]
    assert all(v.dtype == np.float32 for v in values32)
    assert all(g.dtype == np.float32 for update in grads32 for g in update.values())
    for a, b in zip(values32, values64):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for u32, u64 in zip(grads32, grads64):
        for name in u64:
            np.testing.assert_allclose(u32[name], u64[name], rtol=1e-4, atol=1e-5, err_msg=name)


def test_the_float32_kernels_are_within_a_float32_spacing_of_float64():
    """In float32 the kernels use the rational tanh and sigmoid(v) = (1 + tanh(v / 2)) / 2: each gate,
    h and c, and each derivative, stays within about one float32 spacing of the float64 kernels'."""
    rng = np.random.default_rng(7)
    rows, n = 5, 37  # n not a multiple of the vector width: the loops' remainders too
    pre, c_prev = 3 * rng.standard_normal((rows, 4 * n)), rng.standard_normal((rows, n))
    grad = rng.standard_normal((rows, 2 * n))
    px, ph, b_hn, h_prev = (3 * rng.standard_normal(s) for s in ((rows, 3 * n), (rows, 3 * n), n, (rows, n)))
    out = {}
    for dtype in (np.float64, np.float32):
        a = {k: v.astype(dtype) for k, v in dict(pre=pre, c_prev=c_prev, grad=grad, px=px, ph=ph, b_hn=b_hn,
                                                 h_prev=h_prev).items()}
        gates, hc, dpre, dc = np.empty_like(a["pre"]), np.empty_like(a["grad"]), np.empty_like(a["pre"]), \
            np.empty_like(a["c_prev"])
        gates_module.lstm_forward(a["pre"], a["c_prev"], gates, hc)
        gates_module.lstm_backward(a["grad"], gates, hc, a["c_prev"], dpre, dc)
        g_gates, hn, h = np.empty_like(a["px"]), np.empty_like(a["h_prev"]), np.empty_like(a["h_prev"])
        gates_module.gru_forward(a["px"], a["ph"], a["b_hn"], a["h_prev"], g_gates, hn, h)
        out[dtype] = [gates, hc, dpre, dc, g_gates, hn, h]
    for name, a32, a64 in zip(["gates", "hc", "dpre", "dc_prev", "gru gates", "hn", "h"], out[np.float32],
                              out[np.float64]):
        assert a32.dtype == np.float32
        np.testing.assert_allclose(a32, a64, rtol=4e-7, atol=1.5e-7, err_msg=name)


# -- errors --------------------------------------------------------------------------
@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_bad_shapes_name_the_scan(cls):
    model = make(cls)
    h = model.initial_state(2)
    op = scan_node(cls).name
    with pytest.raises(ShapeError, match=rf"^{op}: 2 edge factors for a segment of 3 steps; pass one factor "
                                         r"per step \(1 passes, 0 cuts, c scales\)$"):
        model.scan(np.ones((3, 2, N_IN)), h, (1.0, 1.0))
    with pytest.raises(ShapeError, match=rf"^{op}: xs must hold a segment of L >= 1 steps, shape \(L, n_in\) or "
                                         r"\(L, \.\.\., n_in\); got shape \(2,\)$"):
        model.scan(np.ones(N_IN), h, (1.0,))
    with pytest.raises(ShapeError, match=rf"^{op}: W .* x \(2, 5\) and state .* do not fit; with n = n_hidden they "
                                         r"must be W"):
        model.scan(np.ones((3, 2, 5)), h, (1.0,) * 3)
    with pytest.raises(ShapeError, match=rf"^{op}: .* do not fit"):  # batch 3 against the state's batch 2
        model.scan(np.ones((3, 3, N_IN)), h, (1.0,) * 3)


def test_the_gru_scan_checks_b_hn():
    model = make(rnn.GRU)
    with pytest.raises(ShapeError, match=r"^gru_scan: b_hn must have shape \(n_hidden,\) = \(3,\), got \(4,\)$"):
        GRUScan.apply(model.W, model.U, model.b, np.zeros(4), model.initial_state(), np.ones((2, N_IN)),
                      factors=(1.0, 1.0))


def test_the_lstm_scan_wants_the_tuple_state():
    model = make(rnn.LSTM)
    with pytest.raises(TypeError, match=r"^LSTM.run_segment: state must be the tuple \(h, c\)"):
        model.scan(np.ones((2, N_IN)), model.initial_state()[0], (1.0, 1.0))


@pytest.mark.parametrize("make", [lambda: rnn.LSTM(3, 4, 2, seed=0), lambda: rnn.GRU(3, 4, 2, seed=0),
                                  lambda: rnn.ElmanRNN(3, 4, 2, seed=0), lambda: rnn.LinearRNN(3, 4, 2, seed=0)],
                         ids=["lstm", "gru", "elman", "linear"])
def test_a_subclass_that_overrides_step_is_stepped_not_scanned(make):
    """A student's cell that replaces only ``step`` must run its own step: the inherited scan computes the parent's."""
    parent = make()
    assert parent.scan is not None  # the built-in fused cell scans its segments

    class OwnStep(type(parent)):
        calls = 0

        def step(self, x, state):
            OwnStep.calls += 1
            return super().step(x, state)

    cell = make()
    cell.__class__ = OwnStep
    assert cell.scan is None
    xs, ys = np.random.default_rng(1).standard_normal((5, 2, 3)), np.random.default_rng(2).standard_normal((5, 2, 2))
    stepped = rnn.gradients(cell, xs, ys, rnn.TBPTT(2, 3))
    assert OwnStep.calls == 5
    for got, want in zip(stepped, rnn.gradients(parent, xs, ys, rnn.TBPTT(2, 3))):
        for name in want:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-10, atol=1e-12)
