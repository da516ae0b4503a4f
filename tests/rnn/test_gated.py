"""Tests of the gated cells in rnn.gated (LSTM, GRU), fused and op-level.

* one step passes mg.gradcheck w.r.t. every parameter, x and the state,
  unbatched and batched, for the fused node and for the op-level graph;
* fused and op-level give the same outputs and driver gradients;
* through the driver, with the LSTM's tuple state: Checkpointed equals Full
  and TBPTT(k, k) equals Chunked(k), for mse and ce losses;
* the numba kernels give the same numbers run as plain Python (NUMBA_DISABLE_JIT=1);
* bad sizes and states raise errors that name the argument.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import ShapeError
from rnn.bptt import gradients
from rnn.gated import GRU, LSTM, LSTMStep
from rnn.truncation import TBPTT, Checkpointed, Chunked, Full

ROOT = Path(__file__).resolve().parents[2]
CELLS = [LSTM, GRU]
N_IN, N_HIDDEN, N_OUT = 2, 3, 2


def make(cls, fused, n_out=N_OUT, seed=0):
    """A cell whose every parameter is random (biases too), so each gate term is exercised."""
    model = cls(N_IN, N_HIDDEN, n_out, seed=seed, fused=fused)
    rng = np.random.default_rng(seed + 100)
    model.load_state_dict({name: 0.5 * rng.standard_normal(a.shape) for name, a in model.state_dict().items()})
    return model


def random_state(cls, batch, rng):
    """The state parts as a list of random leaves: [h, c] for the LSTM, [h] for the GRU."""
    shape = (N_HIDDEN,) if batch is None else (batch, N_HIDDEN)
    return [mg.tensor(0.5 * rng.standard_normal(shape), requires_grad=True) for _ in range(2 if cls is LSTM else 1)]


def assert_same(a, b, atol=1e-12):
    """Two dicts (or lists of dicts) of arrays agree key by key."""
    if isinstance(a, list):
        assert len(a) == len(b), f"{len(a)} updates vs {len(b)}"
        for x, y in zip(a, b):
            assert_same(x, y, atol)
        return
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=0, atol=atol, err_msg=name)


# -- one step: gradcheck --------------------------------------------------------
@pytest.mark.parametrize("batch", [None, 3], ids=["unbatched", "batch3"])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "ops"])
@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_step_gradcheck(cls, fused, batch):
    model = make(cls, fused)
    rng = np.random.default_rng(1)
    x_shape = (N_IN,) if batch is None else (batch, N_IN)
    x = mg.tensor(rng.standard_normal(x_shape), requires_grad=True)
    state = random_state(cls, batch, rng)
    params = model.parameters()

    def one_step(*inputs):
        x, *state = inputs[len(params):]  # the parameters are used through the model
        state, y_hat = model.step(x, tuple(state) if cls is LSTM else state[0])
        parts = list(state) if cls is LSTM else [state]
        return mg.concat(parts + [y_hat], axis=-1)

    assert mg.gradcheck(one_step, params + [x] + state, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("cls, op", [(LSTM, "lstm_step"), (GRU, "gru_step")])
def test_fused_step_is_one_node_and_ops_are_many(cls, op):
    """fused: one gate node per step (plus slices and readout); op-level: every gate on the tape."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(N_IN)
    for fused in (True, False):
        model = make(cls, fused)
        with mg.Tape() as tape:
            _, y_hat = model.step(x, model.initial_state())  # y_hat keeps the graph alive
            ops = [node.op for node in tape.nodes()]
        if fused:
            assert ops.count(op) == 1 and "sigmoid" not in ops and "tanh" not in ops
        else:
            assert op not in ops and ops.count("sigmoid") == (3 if cls is LSTM else 2)


# -- fused == op-level through the driver -----------------------------------------
def run_forward(model, xs):
    """The y_hat of every step and the final state, without a tape."""
    with mg.no_grad():
        state, outputs = model.initial_state(xs.shape[1]), []
        for x in xs:
            state, y_hat = model.step(x, state)
            outputs.append(y_hat.data)
    parts = state if isinstance(state, tuple) else (state,)
    return {"y_hat": np.array(outputs), **{f"state{i}": s.data for i, s in enumerate(parts)}}


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_fused_equals_ops(cls):
    rng = np.random.default_rng(2)
    xs, ys = rng.standard_normal((6, 2, N_IN)), rng.standard_normal((6, 2, N_OUT))
    fused, ops = make(cls, True), cls(N_IN, N_HIDDEN, N_OUT, seed=0, fused=False)
    ops.load_state_dict(fused.state_dict())
    assert_same(run_forward(fused, xs), run_forward(ops, xs))
    assert_same(gradients(fused, xs, ys, Full()), gradients(ops, xs, ys, Full()))


# -- strategies with a tuple state --------------------------------------------------
def sequence(loss, rng, T=10, batch=2, n_out=3):
    xs = rng.standard_normal((T, batch, N_IN))
    if loss == "ce":
        return xs, rng.integers(0, n_out, size=(T, batch))
    return xs, rng.standard_normal((T, batch, n_out))


@pytest.mark.parametrize("loss", ["mse", "ce"])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "ops"])
@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_strategies_agree(cls, fused, loss):
    model = make(cls, fused, n_out=3)
    xs, ys = sequence(loss, np.random.default_rng(3))
    full = gradients(model, xs, ys, Full(), loss=loss)
    assert_same(gradients(model, xs, ys, Checkpointed(segment=3), loss=loss), full)
    chunked = gradients(model, xs, ys, Chunked(2), loss=loss)
    assert len(chunked) == 5
    assert_same(gradients(model, xs, ys, TBPTT(2, 2), loss=loss), chunked)
    # not vacuous: truncation changes the gradient
    assert not np.allclose(sum(g["U"] for g in chunked), full[0]["U"])


# -- the kernels compiled and as plain Python ------------------------------------------
SCRIPT = """
import sys
import numpy as np
import minigrad as mg
from minigrad.kernels.gates import lstm_forward
from rnn.bptt import gradients
from rnn.gated import GRU, LSTM
from rnn.truncation import Full

out = sys.argv[1]
np.save(f"{out}/compiled.npy", np.array(hasattr(lstm_forward, "py_func")))
rng = np.random.default_rng(4)
xs, ys = rng.standard_normal((5, 3, 2)), rng.standard_normal((5, 3, 2))
for cls in (LSTM, GRU):
    model = cls(2, 4, 2, seed=5, fused=True)
    with mg.no_grad():
        state = model.initial_state(3)
        for x in xs:
            state, y_hat = model.step(x, state)
    np.save(f"{out}/{cls.__name__}_y_hat.npy", y_hat.data)
    for name, g in gradients(model, xs, ys, Full())[0].items():
        np.save(f"{out}/{cls.__name__}_{name}.npy", g)
"""


def test_kernels_match_plain_python(tmp_path):
    script = tmp_path / "fused_run.py"
    script.write_text(SCRIPT)
    runs = {}
    for mode, disable in (("jit", None), ("python", "1")):
        env = {k: v for k, v in os.environ.items() if k != "NUMBA_DISABLE_JIT"}
        if disable:
            env["NUMBA_DISABLE_JIT"] = disable
        (tmp_path / mode).mkdir()
        runs[mode] = subprocess.Popen([sys.executable, str(script), str(tmp_path / mode)], cwd=ROOT, env=env,
                                      stderr=subprocess.PIPE, text=True)
    for mode, proc in runs.items():
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{mode} run failed:\n{err}"
    assert np.load(tmp_path / "jit" / "compiled.npy") and not np.load(tmp_path / "python" / "compiled.npy")
    files = sorted(p.name for p in (tmp_path / "jit").glob("*_*.npy"))
    assert len(files) == 13  # y_hat and 5 gradients (LSTM), y_hat and 6 gradients (GRU)
    for name in files:
        np.testing.assert_allclose(np.load(tmp_path / "jit" / name), np.load(tmp_path / "python" / name),
                                   rtol=1e-12, atol=1e-14, err_msg=name)


# -- dtype -------------------------------------------------------------------------
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "ops"])
@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_float32_stays_float32(cls, fused):
    model = cls(N_IN, N_HIDDEN, N_OUT, fused=fused, dtype=np.float32)
    assert all(p.dtype == np.float32 for p in model.parameters())
    state, y_hat = model.step(np.ones((2, N_IN), dtype=np.float32), model.initial_state(2))
    parts = state if isinstance(state, tuple) else (state,)
    assert y_hat.dtype == np.float32 and all(s.dtype == np.float32 for s in parts)


# -- parameters and errors -------------------------------------------------------------
def test_parameter_names_and_shapes():
    lstm, gru = LSTM(2, 3, 4), GRU(2, 3, 4)
    assert {n: p.shape for n, p in lstm.named_parameters()} == {
        "W": (12, 2), "U": (12, 3), "b": (12,), "C": (4, 3), "b_y": (4,)}
    assert {n: p.shape for n, p in gru.named_parameters()} == {
        "W": (9, 2), "U": (9, 3), "b": (9,), "b_hn": (3,), "C": (4, 3), "b_y": (4,)}
    np.testing.assert_array_equal(lstm.b.data, np.repeat([0.0, 1.0, 0.0, 0.0], 3))  # forget bias 1
    for block in np.split(lstm.U.data, 4):
        np.testing.assert_allclose(block.T @ block, np.eye(3), atol=1e-12)


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("args, name", [
    ((0, 3, 2), "n_in"), ((2, -1, 2), "n_hidden"), ((2, 3, 2.5), "n_out"),
    ((True, 3, 2), "n_in"), ((2, "3", 2), "n_hidden"),
])
def test_bad_sizes(cls, args, name):
    """A size below 1 is a ValueError, a size that is not an integer (2.5, True, "3") a TypeError;
    both name the argument (the checks of minigrad.validate)."""
    kind = ValueError if all(isinstance(a, int) and not isinstance(a, bool) for a in args) else TypeError
    with pytest.raises(kind, match=f"^{name} must be an integer >= 1, got "):
        cls(*args)


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_bad_batch(cls):
    with pytest.raises(ValueError, match="batch must be an integer >= 1, got 0"):
        cls(2, 3, 2).initial_state(0)


def test_lstm_state_must_be_a_tuple():
    model = LSTM(2, 3, 2)
    with pytest.raises(TypeError, match=r"LSTM.step: state must be the tuple \(h, c\)"):
        model.step(np.ones(2), model.initial_state()[0])


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_wrong_input_width_names_the_step(cls):
    model = cls(2, 3, 2)
    with pytest.raises(ShapeError, match=f"{cls.__name__.lower()}_step: .* do not fit"):
        model.step(np.ones(5), model.initial_state())


def test_fused_step_rejects_mismatched_batches():
    model = LSTM(2, 3, 2)
    h, c = model.initial_state(4)
    with pytest.raises(ShapeError, match="lstm_step"):
        LSTMStep.apply(model.W, model.U, model.b, h, c, np.ones((3, 2)))


# -- forward mode: the fused steps' tangent rules --------------------------------
@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("batch", [None, 3], ids=["unbatched", "batch3"])
def test_the_tangent_along_each_input_alone_is_the_op_level_steps(cls, batch):
    """mg.jvp of one fused step along one input at a time (every other tangent None) equals
    the tangent of the op-level step: each branch of the tangent rule, alone."""
    fused, ops = make(cls, fused=True), make(cls, fused=False)
    rng = np.random.default_rng(7)
    state = [s.data for s in random_state(cls, batch, rng)]
    x = rng.standard_normal((N_IN,) if batch is None else (batch, N_IN))
    names = [name for name, _ in fused.named_parameters()] + [f"state{i}" for i in range(len(state))] + ["x"]

    def tangent_of(model, which):
        params = model.parameters()
        primals = params + [mg.tensor(s) for s in state] + [mg.tensor(x)]
        tangents = [rng_for(which).standard_normal(p.shape) if name == which else None
                    for name, p in zip(names, primals)]

        def one_step(*inputs):
            s = inputs[len(params):-1]
            new_state, y_hat = model.step(inputs[-1], tuple(s) if cls is LSTM else s[0])
            return mg.concat(list(new_state if cls is LSTM else (new_state,)) + [y_hat], axis=-1)

        with mg.no_grad():
            return mg.jvp(one_step, primals, tangents)[1]

    def rng_for(which):
        return np.random.default_rng(sum(map(ord, which)))

    for which in names:
        np.testing.assert_allclose(tangent_of(fused, which), tangent_of(ops, which), rtol=1e-12, atol=1e-13,
                                   err_msg=which)
