"""The engine's fast paths (issue 19) compute what the slow ones did.

* softmax-cross-entropy in three passes around NumPy's vectorised exp equals
  the one-pass kernel (its specification), compiled and as plain Python;
* the backward kernel writes every entry of a fresh (uninitialised) array;
* ``one_hot_positions`` accepts exactly the one-hot rows;
* ``cross_entropy`` takes targets as arrays and as Tensors alike;
* ``Function.apply`` wraps a scalar result as a 0-d array.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad.kernels.losses import (
    normalize_rows,
    shift_rows,
    softmax_cross_entropy,
    softmax_cross_entropy_backward,
    softmax_cross_entropy_forward,
)
from minigrad.kernels.rnn import one_hot_positions
from minigrad.ops import Function

#: the kernels this file adds or changes: compiled here, plain Python in the child process
KERNELS = ("shift_rows", "normalize_rows", "softmax_cross_entropy_backward", "one_hot_positions")


def logits_and_targets(dtype, rows=9, classes=6, seed=0):
    """Logits with rows of huge and tiny values, and targets with rows that have none (-1)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (rows, classes))
    logits[1] += 1e4
    logits[2] -= 1e4
    logits[3] = 0.0  # a flat row
    targets = rng.integers(0, classes, rows)
    targets[[4, rows - 2]] = -1
    return logits.astype(dtype), targets.astype(np.int64)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-13), (np.float32, 2e-6)])
def test_three_passes_equal_the_one_pass_specification(dtype, rtol):
    logits, targets = logits_and_targets(dtype)
    want_loss, want_probs = softmax_cross_entropy_forward(logits, targets)
    loss, probs = softmax_cross_entropy(logits, targets)
    assert loss.dtype == probs.dtype == np.dtype(dtype)
    np.testing.assert_allclose(probs, want_probs, rtol=rtol, atol=0)
    np.testing.assert_allclose(loss, want_loss, rtol=rtol, atol=1e-12)
    assert np.all(loss[targets < 0] == 0) and np.all(np.isfinite(loss))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=4 * np.finfo(dtype).eps)


def test_the_passes_one_by_one():
    logits, targets = logits_and_targets(np.float64)
    shifted = np.empty_like(logits)
    picked = shift_rows(logits, targets, shifted)
    np.testing.assert_array_equal(shifted, logits - logits.max(axis=1, keepdims=True))
    rows = np.arange(len(targets))
    np.testing.assert_array_equal(picked, np.where(targets >= 0, shifted[rows, np.maximum(targets, 0)], 0.0))
    e = np.exp(shifted)
    total = e.sum(axis=1)
    loss = normalize_rows(e, targets, picked)
    np.testing.assert_allclose(e, np.exp(shifted) / total[:, None], rtol=1e-15)
    np.testing.assert_allclose(loss, np.where(targets >= 0, np.log(total) - picked, 0.0), rtol=1e-15)


def test_backward_kernel_writes_every_entry():
    logits, targets = logits_and_targets(np.float64, rows=200, seed=1)
    targets[::3] = -1
    _, probs = softmax_cross_entropy_forward(logits, targets)
    grad_rows = np.linspace(0.5, 2.0, len(targets))
    for _ in range(3):  # fresh uninitialised arrays each time: garbage would show
        got = softmax_cross_entropy_backward(probs, targets, grad_rows)
        onehot = np.zeros_like(probs)
        onehot[np.arange(len(targets)), np.maximum(targets, 0)] = 1.0
        want = np.where((targets >= 0)[:, None], grad_rows[:, None] * (probs - onehot), 0.0)
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-16)
        assert np.all(got[targets < 0] == 0.0)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_cross_entropy_passes_gradcheck_and_matches_log_softmax(reduction):
    logits, targets = logits_and_targets(np.float64, rows=7, classes=5, seed=2)
    logits[1:3] /= 1e3  # keep the finite differences meaningful
    x = mg.tensor(logits, requires_grad=True)
    assert mg.gradcheck(lambda z: mg.cross_entropy(z, targets, reduction=reduction), [x])
    loss = mg.cross_entropy(x, targets, reduction=reduction)
    log_p = mg.log_softmax(mg.tensor(logits)).data
    kept = targets >= 0
    picked = -log_p[np.arange(len(targets))[kept], targets[kept]]
    want = picked.sum() / (kept.sum() if reduction == "mean" else 1)
    np.testing.assert_allclose(loss.item(), want, rtol=1e-13)


def test_cross_entropy_takes_targets_as_arrays_and_lists_and_refuses_float_tensors():
    logits, targets = logits_and_targets(np.float64)
    x = mg.tensor(logits)
    values = [mg.cross_entropy(x, t).item() for t in (targets, targets.tolist(), targets.astype(np.int32))]
    assert values[0] == values[1] == values[2]
    with pytest.raises(mg.errors.DtypeError, match="targets must be integer class indices, got dtype float64"):
        mg.cross_entropy(x, mg.tensor(targets.astype(float)))


def one_hot_cases():
    """(name, rows, expected positions or None when not one-hot)."""
    eye = np.eye(4)
    cases = [
        ("one-hot", eye[[2, 0, 3, 3]], [2, 0, 3, 3]),
        ("a row with two ones", np.vstack([eye[[1, 2]], [[1.0, 1.0, 0, 0]]]), None),
        ("a row of zeros", np.vstack([eye[[1]], np.zeros((1, 4))]), None),
        ("a half", np.array([[0.0, 0.5, 0.5, 0.0]]), None),
        ("a 1 and a -1", np.array([[1.0, -1.0, 0.0, 0.0]]), None),
        ("a two", np.array([[0.0, 2.0, 0.0, 0.0]]), None),
        ("a NaN beside a 1", np.array([[1.0, np.nan, 0.0, 0.0]]), None),
        ("a NaN alone", np.array([[0.0, np.nan, 0.0, 0.0]]), None),
        ("almost one", np.array([[0.0, 1.0 + 2.0**-20, 0.0, 0.0]]), None),
        ("the last row is not", np.vstack([eye[[0, 1, 2]], [[0.0, 0.0, 0.0, 1e-300]]]), None),
        ("minus zero counts as zero", np.array([[-0.0, 1.0, -0.0, 0.0]]), [1]),
    ]
    return cases


@pytest.mark.parametrize("name, rows, expected", one_hot_cases(), ids=[c[0] for c in one_hot_cases()])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_hot_positions_is_exact(name, rows, expected, dtype):
    positions = np.full(len(rows), -7, dtype=np.int64)
    found = one_hot_positions(np.ascontiguousarray(rows, dtype=dtype), positions)
    assert found == (expected is not None), name
    if expected is not None:
        np.testing.assert_array_equal(positions, expected)


class ScalarResult(Function):
    """An op whose forward returns a NumPy scalar, not an array."""

    name = "scalar_result"

    @staticmethod
    def forward(ctx, a):
        return np.float64(a.sum())

    @staticmethod
    def backward(ctx, grad):
        return (np.full(ctx.inputs[0].shape, grad),)


def test_apply_wraps_a_scalar_result_as_a_0d_array():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = ScalarResult.apply(x)
    assert type(y.data) is np.ndarray and y.shape == ()
    y.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


# -- compiled and as plain Python --------------------------------------------------------------
def kernel_inputs() -> dict:
    logits, targets = logits_and_targets(np.float64, rows=11, classes=5, seed=3)
    eye = np.eye(6)
    return {"logits": logits, "targets": targets, "grad_rows": np.linspace(0.1, 2.0, 11),
            "one_hot": eye[[5, 0, 2, 2, 1]], "not_one_hot": np.vstack([eye[[5, 0]], [[0, 0.5, 0.5, 0, 0, 0]]])}


def run_kernels(inputs: dict) -> dict:
    """Every kernel of this file on ``inputs``; every output (in-place results included)."""
    logits, targets = inputs["logits"], inputs["targets"]
    out = {}
    for dtype in (np.float64, np.float32):
        name = np.dtype(dtype).name
        shifted = np.empty_like(logits, dtype=dtype)
        picked = shift_rows(logits.astype(dtype), targets, shifted)
        out[f"shifted_{name}"], out[f"picked_{name}"] = shifted.copy(), picked
        e = np.exp(shifted)
        out[f"normalized_loss_{name}"] = normalize_rows(e, targets, picked)
        out[f"normalized_{name}"] = e
        loss, probs = softmax_cross_entropy(logits.astype(dtype), targets)
        out[f"sce_loss_{name}"], out[f"sce_probs_{name}"] = loss, probs
        out[f"sce_backward_{name}"] = softmax_cross_entropy_backward(probs, targets, inputs["grad_rows"].astype(dtype))
    positions = np.full(5, -1, dtype=np.int64)
    out["one_hot_found"] = np.array(one_hot_positions(inputs["one_hot"], positions))
    out["one_hot_positions"] = positions
    out["not_one_hot_found"] = np.array(one_hot_positions(inputs["not_one_hot"], np.zeros(3, dtype=np.int64)))
    return out


def _child(directory: str) -> None:
    """Run under NUMBA_DISABLE_JIT=1: prove the kernels are plain functions, compute, save."""
    from minigrad.kernels import losses, rnn as rnn_kernels

    modules = {"shift_rows": losses, "normalize_rows": losses, "softmax_cross_entropy_backward": losses,
               "one_hot_positions": rnn_kernels}
    plain = {name: not hasattr(getattr(module, name), "py_func") for name, module in modules.items()}
    d = Path(directory)
    inputs = {p.stem[len("in_"):]: np.load(p, allow_pickle=False) for p in d.glob("in_*.npy")}
    for key, value in run_kernels(inputs).items():
        np.save(d / f"out_{key}.npy", value, allow_pickle=False)
    print(json.dumps(plain))


def test_kernels_give_the_same_numbers_without_jit(tmp_path):
    from minigrad.kernels import losses, rnn as rnn_kernels

    for name in KERNELS:
        module = rnn_kernels if name == "one_hot_positions" else losses
        assert hasattr(getattr(module, name), "py_func"), f"{name} is not compiled here; is NUMBA_DISABLE_JIT set?"
    inputs = kernel_inputs()
    for key, value in inputs.items():
        np.save(tmp_path / f"in_{key}.npy", value, allow_pickle=False)
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), str(tmp_path)],
                          env={**os.environ, "NUMBA_DISABLE_JIT": "1"}, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"child failed:\n{done.stdout}\n{done.stderr}"
    plain = json.loads(done.stdout.strip().splitlines()[-1])
    assert plain == {name: True for name in KERNELS}, plain
    compiled = run_kernels({k: v.copy() for k, v in inputs.items()})
    assert {p.stem[len("out_"):] for p in tmp_path.glob("out_*.npy")} == set(compiled)
    for key, value in compiled.items():
        python = np.load(tmp_path / f"out_{key}.npy", allow_pickle=False)
        assert python.dtype == value.dtype and python.shape == value.shape, key
        rtol = 1e-14 if value.dtype != np.float32 else 4 * np.finfo(np.float32).eps
        np.testing.assert_allclose(value, python, rtol=rtol, atol=0, err_msg=f"{key}: compiled vs NUMBA_DISABLE_JIT=1")
    assert compiled["one_hot_found"] and not compiled["not_one_hot_found"]
    np.testing.assert_array_equal(compiled["one_hot_positions"], [5, 0, 2, 2, 1])


if __name__ == "__main__":
    _child(sys.argv[1])
