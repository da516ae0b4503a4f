"""The numba kernels give the same numbers compiled and as plain Python (NUMBA_DISABLE_JIT=1).

The parent process (this test) runs the compiled kernels; a child process,
started with NUMBA_DISABLE_JIT=1, runs this same file as a script, which runs
the very same ``run_kernels`` on the same inputs (passed as .npy files) as plain
Python and saves its results as .npy files.  Each side also proves which mode
it ran in: dispatchers (with ``py_func``) here, plain functions there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np

from minigrad import kernels

KERNEL_NAMES = (
    "activation_forward",
    "activation_backward",
    "softmax_cross_entropy_forward",
    "softmax_cross_entropy_backward",
    "sgd_update",
    "adam_update",
    "adagrad_update",
    "rnn_step_delta",
    "elman_scan_forward",
    "elman_scan_backward",
    "scatter_add_rows",
    "first_out_of_range",
    "tanh_rational",
    "add_vector_times_matrix",
)


def make_inputs() -> dict[str, np.ndarray]:
    """Fixed, seeded inputs, including the values where the branches of the kernels switch."""
    rng = np.random.default_rng(20240601)
    edges = np.array([-1000.0, -30.0, -1e-3, -0.0, 0.0, 1e-3, 30.0, 800.0])
    z = np.concatenate([rng.normal(0, 3, 40), edges])
    logits = rng.normal(0, 2, (7, 5))
    logits[2] += 1e4  # a row of huge logits
    logits[4] -= 1e4
    return {
        "z": z,
        "grad": rng.standard_normal(z.size),
        "logits": logits,
        "targets": np.array([0, 4, 2, -1, 1, 3, -1], dtype=np.int64),
        "grad_rows": rng.uniform(0.1, 2.0, 7),
        "param": rng.standard_normal(30),
        "opt_grads": rng.standard_normal((4, 30)),  # one gradient per update step
    }


def run_kernels(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Call every kernel on ``inputs``; return every output (in-place results included)."""
    out = {}
    z, grad = inputs["z"], inputs["grad"]
    for name, code in kernels.ACTIVATION_CODES.items():
        y = np.empty_like(z)
        kernels.activation_forward(z, code, y)
        dz = np.empty_like(z)
        kernels.activation_backward(y, grad, code, dz)
        out[f"act_forward_{name}"] = y
        out[f"act_backward_{name}"] = dz
        for dtype in (np.float64, np.float32):  # float32: the tanh loops must stay in float32
            h, g, carried = (a.astype(dtype) for a in (y, grad, grad[::-1]))
            delta = np.empty_like(h)
            kernels.rnn_step_delta(h, g, carried, code, delta)
            out[f"step_delta_{name}_{np.dtype(dtype).name}"] = delta
    loss, probs = kernels.softmax_cross_entropy_forward(inputs["logits"], inputs["targets"])
    out["sce_loss"], out["sce_probs"] = loss, probs
    out["sce_dlogits"] = kernels.softmax_cross_entropy_backward(probs, inputs["targets"], inputs["grad_rows"])

    p, v = inputs["param"].copy(), np.zeros_like(inputs["param"])
    for g in inputs["opt_grads"]:
        kernels.sgd_update(p, g, v, 0.1, 0.9)
    out["sgd_param"], out["sgd_velocity"] = p, v
    p = inputs["param"].copy()
    for g in inputs["opt_grads"]:
        kernels.sgd_update(p, g, v, 0.1, 0.0)  # plain SGD: its own loop
    out["sgd_plain_param"] = p

    p, m, s = inputs["param"].copy(), np.zeros_like(inputs["param"]), np.zeros_like(inputs["param"])
    for step, g in enumerate(inputs["opt_grads"], start=1):
        kernels.adam_update(p, g, m, s, 1e-2, 0.9, 0.999, 1e-8, step)
    out["adam_param"], out["adam_m"], out["adam_v"] = p, m, s

    p, acc = inputs["param"].copy(), np.zeros_like(inputs["param"])
    for g in inputs["opt_grads"]:
        kernels.adagrad_update(p, g, acc, 0.5, 1e-10)
    out["adagrad_param"], out["adagrad_acc"] = p, acc

    A = inputs["param"][:9].reshape(3, 3)
    p_steps = inputs["opt_grads"][:, :6].reshape(4, 2, 3)  # 4 steps, 2 rows, 3 units
    h0 = inputs["param"][9:15].reshape(2, 3)
    for name, code in kernels.ACTIVATION_CODES.items():
        path = np.empty((5, 2, 3))  # h_0 and the 4 states
        path[0] = h0
        kernels.elman_scan_forward(np.ascontiguousarray(A.T), p_steps, code, path)
        deltas, factors = np.empty_like(p_steps), np.array([1.0, 0.0, 0.5, 1.0])
        carried = kernels.elman_scan_backward(A, path, inputs["opt_grads"][:, 6:12].reshape(4, 2, 3), factors,
                                              code, deltas)
        out[f"scan_states_{name}"], out[f"scan_deltas_{name}"], out[f"scan_dh0_{name}"] = path, deltas, carried
        path32 = path.astype(np.float32)  # float32 takes the rational tanh
        kernels.elman_scan_forward(np.ascontiguousarray(A.T, dtype=np.float32), p_steps.astype(np.float32), code,
                                   path32)
        out[f"scan_states_{name}_float32"] = path32

    out["unknown_code_raises"] = np.array(unknown_code_raises(z))

    acc = inputs["param"][:5].copy()  # += a 6-vector times a (6, 5) matrix: one block of four rows and two more
    kernels.add_vector_times_matrix(inputs["param"][5:11], inputs["opt_grads"].reshape(-1)[:30].reshape(6, 5), acc)
    out["add_vector_times_matrix"] = acc

    tanh32 = np.empty(z.size, dtype=np.float32)
    kernels.tanh_rational(z.astype(np.float32), tanh32)
    out["tanh_rational"] = tanh32
    targets = inputs["targets"]
    out["first_out_of_range"] = np.array([kernels.first_out_of_range(targets, low, high)
                                          for low, high in ((-1, 5), (0, 5), (-1, 4), (-1, 3))])

    rows, index = inputs["opt_grads"][:, :5], np.array([2, 0, 2, 2])  # row 2 read three times
    scattered = np.zeros((3, 5))
    kernels.scatter_add_rows(scattered, index, rows)
    out["scatter_add_rows"] = scattered
    return out


#: a code that is in no table: every kernel that takes a code must refuse it
UNKNOWN_CODE = max(kernels.ACTIVATION_CODES.values()) + 1


def unknown_code_raises(z: np.ndarray) -> list[bool]:
    """For each kernel that takes an activation code: does it raise ValueError on UNKNOWN_CODE?"""
    h, grad = np.tanh(z[:6]), z[6:12].copy()
    calls = [
        lambda: kernels.activation_forward(z, UNKNOWN_CODE, np.empty_like(z)),
        lambda: kernels.activation_backward(h, grad, UNKNOWN_CODE, np.empty_like(h)),
        lambda: kernels.rnn_step_delta(h, grad, grad, UNKNOWN_CODE, np.empty_like(h)),
        lambda: kernels.elman_scan_forward(np.eye(3), h.reshape(2, 1, 3), UNKNOWN_CODE, np.zeros((3, 1, 3))),
        lambda: kernels.elman_scan_backward(np.eye(3), np.full((3, 1, 3), 0.5), h.reshape(2, 1, 3), np.ones(2),
                                            UNKNOWN_CODE, np.empty((2, 1, 3))),
    ]
    raised = []
    for call in calls:
        try:
            call()
        except ValueError as error:
            raised.append("unknown activation code" in str(error))
        else:
            raised.append(False)
    return raised


def kernel_kinds() -> dict[str, dict]:
    return {
        name: {
            "type": type(getattr(kernels, name)).__name__,
            "has_py_func": hasattr(getattr(kernels, name), "py_func"),
            "is_function": isinstance(getattr(kernels, name), types.FunctionType),
        }
        for name in KERNEL_NAMES
    }


def _child(directory: str) -> None:
    """Run in the NUMBA_DISABLE_JIT=1 process: check the mode, compute, save."""
    assert os.environ.get("NUMBA_DISABLE_JIT") == "1"
    kinds = kernel_kinds()
    for name, kind in kinds.items():
        assert kind["is_function"] and not kind["has_py_func"], f"{name} is still compiled with JIT disabled: {kind}"
    d = Path(directory)
    inputs = {p.stem[len("in_"):]: np.load(p, allow_pickle=False) for p in d.glob("in_*.npy")}
    for key, value in run_kernels(inputs).items():
        np.save(d / f"out_{key}.npy", value, allow_pickle=False)
    print(json.dumps(kinds))


def test_kernels_same_results_without_jit(tmp_path):
    # the parent really runs compiled kernels
    for name, kind in kernel_kinds().items():
        assert kind["has_py_func"] and not kind["is_function"], (
            f"{name} is not a numba dispatcher in the test process ({kind}); is NUMBA_DISABLE_JIT set?"
        )
    inputs = make_inputs()
    for key, value in inputs.items():
        np.save(tmp_path / f"in_{key}.npy", value, allow_pickle=False)

    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), str(tmp_path)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, f"child failed:\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    child_kinds = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(child_kinds) == set(KERNEL_NAMES)
    assert all(k["is_function"] and not k["has_py_func"] for k in child_kinds.values()), child_kinds

    jitted = run_kernels({k: v.copy() for k, v in inputs.items()})
    saved = {p.stem[len("out_"):] for p in tmp_path.glob("out_*.npy")}
    assert saved == set(jitted), f"outputs differ in name: {sorted(saved ^ set(jitted))}"
    for key, value in jitted.items():
        plain = np.load(tmp_path / f"out_{key}.npy", allow_pickle=False)
        assert plain.dtype == value.dtype and plain.shape == value.shape, (key, plain.dtype, value.dtype, plain.shape, value.shape)
        assert np.all(np.isfinite(value)), f"{key}: non-finite values from the compiled kernel"
        # float32: the compiled loop may fuse a multiply-add, which changes the last bit
        rtol = 1e-12 if value.dtype == np.float64 else 4 * np.finfo(np.float32).eps
        np.testing.assert_allclose(value, plain, rtol=rtol, atol=0,
                                   err_msg=f"{key} (shape {value.shape}): compiled vs NUMBA_DISABLE_JIT=1")


def test_kernel_outputs_are_right():
    """Independent of the mode: the kernels compute what their docstrings say."""
    inputs = make_inputs()
    out = run_kernels(inputs)
    z, grad = inputs["z"], inputs["grad"]
    np.testing.assert_array_equal(out["act_forward_identity"], z)
    np.testing.assert_allclose(out["act_forward_tanh"], np.tanh(z), rtol=1e-15)
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(out["act_forward_sigmoid"], 1 / (1 + np.exp(-z)), rtol=1e-14, atol=1e-300)
    np.testing.assert_array_equal(out["act_forward_relu"], np.where(z > 0, z, 0.0))
    np.testing.assert_allclose(out["act_backward_tanh"], grad * (1 - np.tanh(z) ** 2), rtol=1e-12, atol=1e-15)
    s = out["act_forward_sigmoid"]
    np.testing.assert_allclose(out["act_backward_sigmoid"], grad * s * (1 - s), rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(out["act_backward_relu"], np.where(z > 0, grad, 0.0))
    np.testing.assert_array_equal(out["act_backward_identity"], grad)
    # float32 tanh within one float32 spacing, saturating to exactly +-1 (z holds +-30 and +-1000)
    z32 = z.astype(np.float32)
    exact = np.tanh(z32.astype(np.float64))
    spacing = np.spacing(np.abs(exact).astype(np.float32))
    assert np.all(np.abs(out["tanh_rational"] - exact) <= spacing), np.abs(out["tanh_rational"] - exact) / spacing
    np.testing.assert_array_equal(out["tanh_rational"][np.abs(z32) >= 30], np.sign(z32[np.abs(z32) >= 30]))
    # targets [0, 4, 2, -1, 1, 3, -1]: all inside [-1, 5); 0 is the first below 0, 1 the first >= 4, ...
    np.testing.assert_array_equal(out["first_out_of_range"], [-1, 3, 1, 1])
    np.testing.assert_allclose(out["add_vector_times_matrix"],
                               inputs["param"][:5] + inputs["param"][5:11] @ inputs["opt_grads"].reshape(-1)[:30].reshape(6, 5),
                               rtol=1e-13)
    for name, (f, slope) in kernels.NUMPY_FORMULAS.items():  # the kernels compute the table's NumPy formulas
        y = f(z)  # (NumPy's sigmoid, as (1 + tanh(z/2)) / 2, keeps only absolute precision in the far tail)
        np.testing.assert_allclose(out[f"act_forward_{name}"], y, rtol=1e-13, atol=1e-15, err_msg=name)
        np.testing.assert_allclose(out[f"act_backward_{name}"], grad * slope(y), rtol=1e-12, atol=1e-15, err_msg=name)
    assert out["unknown_code_raises"].all(), out["unknown_code_raises"]  # no silent identity
    for name in kernels.ACTIVATION_CODES:  # the float32 scan (rational tanh) follows the float64 one
        np.testing.assert_allclose(out[f"scan_states_{name}_float32"], out[f"scan_states_{name}"], rtol=1e-5, atol=1e-6)
    expected = np.zeros((3, 5))
    np.add.at(expected, np.array([2, 0, 2, 2]), inputs["opt_grads"][:, :5])
    np.testing.assert_allclose(out["scatter_add_rows"], expected, rtol=1e-15)
    for name in kernels.ACTIVATION_CODES:  # the scan's step delta: (grad + carried) * f'(.), f' via the output
        slope = out[f"act_backward_{name}"] / np.where(grad == 0, 1, grad)
        np.testing.assert_allclose(out[f"step_delta_{name}_float64"], (grad + grad[::-1]) * slope, rtol=1e-12, atol=1e-15)

    logits, targets = inputs["logits"], inputs["targets"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(out["sce_probs"], probs, rtol=1e-12)
    lse = np.log(np.exp(shifted).sum(axis=1)) + logits.max(axis=1)
    rows = np.arange(len(targets))
    expected_loss = np.where(targets >= 0, lse - logits[rows, np.maximum(targets, 0)], 0.0)
    np.testing.assert_allclose(out["sce_loss"], expected_loss, rtol=1e-12, atol=1e-9)
    onehot = np.zeros_like(probs)
    onehot[rows, np.maximum(targets, 0)] = 1.0
    expected_d = np.where((targets >= 0)[:, None], inputs["grad_rows"][:, None] * (probs - onehot), 0.0)
    np.testing.assert_allclose(out["sce_dlogits"], expected_d, rtol=1e-12, atol=1e-15)

    # the optimizers, step by step in NumPy
    p, v = inputs["param"].copy(), np.zeros(30)
    for g in inputs["opt_grads"]:
        v = 0.9 * v + g
        p = p - 0.1 * v
    np.testing.assert_allclose(out["sgd_param"], p, rtol=1e-13)
    np.testing.assert_allclose(out["sgd_plain_param"], inputs["param"] - 0.1 * inputs["opt_grads"].sum(0), rtol=1e-13)
    p, m, s2 = inputs["param"].copy(), np.zeros(30), np.zeros(30)
    for t, g in enumerate(inputs["opt_grads"], start=1):
        m = 0.9 * m + 0.1 * g
        s2 = 0.999 * s2 + 0.001 * g * g
        p = p - 1e-2 * (m / (1 - 0.9 ** t)) / (np.sqrt(s2 / (1 - 0.999 ** t)) + 1e-8)
    np.testing.assert_allclose(out["adam_param"], p, rtol=1e-13)
    p, acc = inputs["param"].copy(), np.zeros(30)
    for g in inputs["opt_grads"]:
        acc = acc + g * g
        p = p - 0.5 * g / (np.sqrt(acc) + 1e-10)
    np.testing.assert_allclose(out["adagrad_param"], p, rtol=1e-13)


if __name__ == "__main__":
    _child(sys.argv[1])
