"""Every cell of ``rnn`` (the rows of ``cell_table.py``) through the same checks.

* two steps pass ``mg.gradcheck`` in float64, unbatched and batched, with
  respect to the state, both inputs and every parameter;
* a cell with a ``scan`` gives, for a stretch with edge factors 1, 0 and 0.5,
  the states (every part of a tuple state), outputs and gradients of stepping
  the cell with the edges edited by stop-gradient / scale-gradient nodes (on
  feature vectors, and on token indices if the cell takes them), in reverse
  and in forward mode;
* in float32 the cell runs, stays float32 (states, outputs, driver
  gradients) and stays close to float64;
* the activation names are the same for the kernels, the cells and the hand
  formulas of ``rnn.manual``;
* every cell in ``rnn.__all__`` and in the registry has a row.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import minigrad as mg
import rnn
from minigrad.kernels import ACTIVATION_CODES, NUMPY_FORMULAS
from rnn import cells, manual, protocol, registry

from .cell_table import CELLS, N_HIDDEN, N_IN, N_OUT

ROW_IDS = [row.name for row in CELLS]
BATCHES = pytest.mark.parametrize("batch", [None, 3], ids=["unbatched", "batch3"])


def random_state(model, batch, rng, dtype=np.float64, requires_grad=True):
    """A random state shaped like ``model.initial_state(batch)`` (a tuple for the LSTM)."""
    zeros = model.initial_state(batch)
    made = tuple(mg.tensor(0.5 * rng.standard_normal(s.shape), dtype=dtype, requires_grad=requires_grad)
                 for s in (zeros if isinstance(zeros, tuple) else (zeros,)))
    return made if isinstance(zeros, tuple) else made[0]


def as_list(state) -> list:
    return list(state) if isinstance(state, tuple) else [state]


def as_state(parts: list, like):
    return tuple(parts) if isinstance(like, tuple) else parts[0]


def total(tensors):
    out = tensors[0].sum()
    for t in tensors[1:]:
        out = out + t.sum()
    return out


# -- the table covers every cell ---------------------------------------------------
def test_every_cell_of_rnn_has_a_row():
    exported = {getattr(rnn, name) for name in rnn.__all__}
    cell_classes = {obj for obj in exported
                    if inspect.isclass(obj) and all(hasattr(obj, m) for m in ("initial_state", "step", "parameters"))
                    and obj is not protocol.Cell}  # the protocol itself describes cells, it is not one
    assert {rnn.ElmanRNN, rnn.LSTM} <= cell_classes  # the filter finds cells
    tabled = {row.cls for row in CELLS}
    assert cell_classes - tabled == set(), f"cells of rnn.__all__ without a row in cell_table.py: {cell_classes - tabled}"
    registered = {entry.cls for entry in registry.CELLS.values()}
    assert registered - tabled == set(), f"registered cells without a row in cell_table.py: {registered - tabled}"
    for row in CELLS:  # and each row builds a cell of the protocol
        assert isinstance(row.make(), protocol.Cell), row.name


def test_the_cells_with_both_forms_have_both_rows():
    """Every cell that takes ``fused`` is tested fused and per-op."""
    for cls in {row.cls for row in CELLS}:
        if "fused" in inspect.signature(cls).parameters:
            assert {row.kwargs.get("fused") for row in CELLS if row.cls is cls} == {True, False}, cls.__name__


def test_the_activation_names_are_one_table():
    """The kernels' codes, the cells' ops and the hand formulas: the same names, in the same order."""
    assert list(cells.ACTIVATIONS) == list(ACTIVATION_CODES) == list(NUMPY_FORMULAS) == list(manual.ACTIVATIONS)
    assert len(set(ACTIVATION_CODES.values())) == len(ACTIVATION_CODES)  # one code per activation
    z = np.linspace(-2.5, 2.5, 11)
    for name, op in cells.ACTIVATIONS.items():  # each cell op computes the table's formula
        f, _ = NUMPY_FORMULAS[name]
        np.testing.assert_allclose(op(mg.tensor(z)).data, f(z), rtol=1e-13, atol=1e-15, err_msg=name)
    with pytest.raises(ValueError, match=f"f must be one of {', '.join(ACTIVATION_CODES)}, got 'gelu'"):
        rnn.ElmanRNN(2, 3, 2, f="gelu")


@pytest.mark.parametrize("row", CELLS, ids=ROW_IDS)
def test_a_batch_below_one_is_refused(row):
    with pytest.raises(ValueError, match="batch must be an integer >= 1, got 0"):
        row.make().initial_state(0)


# -- two steps pass gradcheck ------------------------------------------------------
@pytest.mark.parametrize("row", CELLS, ids=ROW_IDS)
@BATCHES
def test_two_steps_pass_gradcheck(row, batch):
    model = row.make()
    rng = np.random.default_rng(1)
    lead = () if batch is None else (batch,)
    state = random_state(model, batch, rng)
    xs = [mg.tensor(rng.standard_normal(lead + (N_IN,)), requires_grad=True) for _ in range(2)]
    n_state = len(as_list(state))

    def two_steps(*inputs):
        h = as_state(list(inputs[:n_state]), state)
        x1, x2 = inputs[n_state:n_state + 2]
        h, y1 = model.step(x1, h)
        h, y2 = model.step(x2, h)
        return y2 + 0.5 * y1 + total(as_list(h))

    assert mg.gradcheck(two_steps, as_list(state) + xs + model.parameters())


@pytest.mark.parametrize("row", CELLS, ids=ROW_IDS)
@BATCHES
def test_two_steps_in_forward_mode_are_the_transpose_of_backward(row, batch):
    """<u, J v> from ``mg.jvp`` equals <J^T u, v> from backward, for the state, both inputs
    and every parameter at once: the tangent rules of every node a step records."""
    model = row.make()
    rng = np.random.default_rng(4)
    lead = () if batch is None else (batch,)
    params = model.parameters()
    values = [s.data for s in as_list(random_state(model, batch, rng))]
    values += [rng.standard_normal(lead + (N_IN,)) for _ in range(2)]
    n_state = len(values) - 2
    like = model.initial_state(batch)

    def two_steps(*inputs):  # the parameters come last; the cell uses its own, the same tensors
        h = as_state(list(inputs[:n_state]), like)
        h, y1 = model.step(inputs[n_state], h)
        h, y2 = model.step(inputs[n_state + 1], h)
        return mg.concat([y1, y2] + as_list(h), axis=-1)

    v = [rng.standard_normal(a.shape) for a in values] + [rng.standard_normal(p.shape) for p in params]
    with mg.no_grad():
        out, tangent = mg.jvp(two_steps, [mg.tensor(a) for a in values] + params, v)
    u = rng.standard_normal(out.shape)
    leaves = [mg.tensor(a, requires_grad=True) for a in values]
    for p in params:
        p.grad = None
    with mg.Tape():
        (two_steps(*leaves) * u).sum().backward()
    grads = [leaf.grad for leaf in leaves] + [p.grad for p in params]
    transposed = sum(float(np.sum(g * vi)) for g, vi in zip(grads, v))
    assert float(np.sum(u * tangent)) == pytest.approx(transposed, rel=1e-10, abs=1e-12)


# -- a scan is the stepped graph with its edges edited -------------------------------
FACTORS = [(1.0, 1.0, 1.0, 1.0), (1.0, 0.0, 0.5, 1.0), (0.5, 1.0, 0.0, 0.5)]


def edit(state, factor):
    """The per-step graph's edge edit: nothing (1), a stop-gradient node (0), a scale-gradient node."""
    if factor == 1.0:
        return state
    edit_one = mg.stop_gradient if factor == 0.0 else (lambda s: mg.scale_grad(s, factor))
    return as_state([edit_one(s) for s in as_list(state)], state)


def scan_rows():
    return [row for row in CELLS if protocol.scan_of(row.make()) is not None]


def test_the_table_has_cells_with_a_scan():
    assert {row.name for row in scan_rows()} >= {"elman", "linear", "lstm", "gru"}


@pytest.mark.parametrize("row", scan_rows(), ids=[row.name for row in scan_rows()])
@pytest.mark.parametrize("factors", FACTORS, ids=["pass", "cut-scale", "scale-cut"])
@BATCHES
@pytest.mark.parametrize("indices", [False, True], ids=["vectors", "indices"])
def test_a_scan_is_the_stepped_graph_with_edited_edges(row, factors, batch, indices):
    model = row.make()
    if indices and not protocol.accepts_indices(model):
        pytest.skip(f"{row.name} takes no token indices")
    rng = np.random.default_rng(2)
    lead = () if batch is None else (batch,)
    T = len(factors)
    xs = rng.integers(0, N_IN, size=(T,) + lead) if indices else rng.standard_normal((T,) + lead + (N_IN,))
    n_parts = len(as_list(model.initial_state(batch)))  # a stack of states per part: (h, c) for the LSTM
    w_states = [rng.standard_normal((T,) + lead + (N_HIDDEN,)) for _ in range(n_parts)]
    w_outputs = rng.standard_normal((T,) + lead + (N_OUT,))
    h00 = random_state(model, batch, rng)

    def run(scanning):
        h0 = as_state([mg.tensor(s.data.copy(), requires_grad=True) for s in as_list(h00)], h00)
        for p in model.parameters():
            p.grad = None
        with mg.Tape():
            if scanning:
                states, outputs = model.scan(xs, h0, factors)
            else:
                h, stepped_states, stepped_outputs = h0, [], []
                for t in range(T):
                    h, y = model.step(xs[t], edit(h, factors[t]))
                    stepped_states.append(as_list(h))
                    stepped_outputs.append(y)
                states = tuple(mg.stack([parts[k] for parts in stepped_states]) for k in range(n_parts))
                outputs = mg.stack(stepped_outputs)
            states = as_list(states)
            total = (outputs * w_outputs).sum()
            for part, w in zip(states, w_states):
                total = total + (part * w).sum()
            total.backward()
        grads = [np.zeros_like(s.data) if s.grad is None else s.grad for s in as_list(h0)]
        return [s.data for s in states] + [outputs.data] + grads + [p.grad.copy() for p in model.parameters()]

    names = ([f"states[{k}]" for k in range(n_parts)] + ["outputs"] + [f"dL/dh0[{k}]" for k in range(n_parts)]
             + [name for name, _ in model.named_parameters()])
    for name, got, want in zip(names, run(True), run(False)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13, err_msg=f"{row.name}: {name}")


# -- float32 -----------------------------------------------------------------------
@pytest.mark.parametrize("row", CELLS, ids=ROW_IDS)
@BATCHES
def test_float32_runs_stays_float32_and_is_close_to_float64(row, batch):
    rng = np.random.default_rng(3)
    lead = () if batch is None else (batch,)
    T = 5
    xs = rng.standard_normal((T,) + lead + (N_IN,))
    ys = rng.standard_normal((T,) + lead + (N_OUT,))
    results = {}
    for dtype in (np.float64, np.float32):
        model = row.make(dtype=dtype)
        h = model.initial_state(batch)
        for t in range(T):  # stepping, without a tape
            with mg.no_grad():
                h, y = model.step(xs[t].astype(dtype), h)
        grads = rnn.gradients(model, xs.astype(dtype), ys.astype(dtype), rnn.TBPTT(2, 3))  # the driver's way
        results[dtype] = (as_list(h), y, grads)
        if dtype is np.float32:
            assert all(s.dtype == np.float32 for s in as_list(h)) and y.dtype == np.float32
            assert all(g.dtype == np.float32 for update in grads for g in update.values()), \
                {k: g.dtype for update in grads for k, g in update.items()}
    (h64, y64, g64), (h32, y32, g32) = results[np.float64], results[np.float32]
    for a, b in zip(h32 + [y32], h64 + [y64]):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-4, atol=1e-5)
    for u32, u64 in zip(g32, g64):
        for name in u64:
            np.testing.assert_allclose(u32[name], u64[name], rtol=1e-3, atol=1e-4, err_msg=f"{row.name}: {name}")


@pytest.mark.parametrize("row", scan_rows(), ids=[row.name for row in scan_rows()])
@pytest.mark.parametrize("factors", FACTORS, ids=["pass", "cut-scale", "scale-cut"])
@BATCHES
@pytest.mark.parametrize("indices", [False, True], ids=["vectors", "indices"])
def test_a_scan_in_forward_mode_is_the_stepped_graph_with_edited_edges(row, factors, batch, indices):
    """The tangents of a scan's states and outputs (``mg.jvp`` along the state and every
    parameter) equal those of stepping with stop-gradient / scale-gradient edges."""
    model = row.make()
    if indices and not protocol.accepts_indices(model):
        pytest.skip(f"{row.name} takes no token indices")
    rng = np.random.default_rng(5)
    lead = () if batch is None else (batch,)
    T = len(factors)
    xs = rng.integers(0, N_IN, size=(T,) + lead) if indices else rng.standard_normal((T,) + lead + (N_IN,))
    like = model.initial_state(batch)
    h0 = [s.data for s in as_list(random_state(model, batch, rng))]
    params = model.parameters()
    v = [rng.standard_normal(a.shape) for a in h0] + [rng.standard_normal(p.shape) for p in params]

    def scanned(*inputs):
        states, outputs = model.scan(xs, as_state(list(inputs[:len(h0)]), like), factors)
        return mg.concat(as_list(states) + [outputs], axis=-1)

    def stepped(*inputs):
        h, rows = as_state(list(inputs[:len(h0)]), like), []
        for t in range(T):
            h, y = model.step(xs[t], edit(h, factors[t]))
            rows.append(mg.concat(as_list(h) + [y], axis=-1))
        return mg.stack(rows)

    with mg.no_grad():
        got = mg.jvp(scanned, [mg.tensor(a) for a in h0] + params, v)
        want = mg.jvp(stepped, [mg.tensor(a) for a in h0] + params, v)
    np.testing.assert_allclose(got[0].data, want[0].data, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-11, atol=1e-12)
