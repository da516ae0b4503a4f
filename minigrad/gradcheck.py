"""Check analytic gradients against central finite differences, in float64.

For every input that requires grad, each element is nudged by +-eps and
(f(x + eps) - f(x - eps)) / (2 eps) is compared with what backward computed.
A non-scalar output is reduced to a scalar with fixed random weights, so every
output element is checked.  On a mismatch, GradcheckError reports, per input,
the worst element: its index, both values and their difference.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .errors import GradcheckError
from .tape import Tape
from .tensor import Tensor


def _scalar_objective(fn, inputs, weights_holder):
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    if out.data.size == 1:
        return out.sum()
    if weights_holder.get("w") is None:
        weights_holder["w"] = np.random.default_rng(0).standard_normal(out.shape)
    return (out * weights_holder["w"]).sum()


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    """Return True if fn's gradients w.r.t. every input that requires grad match finite differences.

    ``inputs`` are float64 Tensors (float32 gives meaningless differences and is
    refused).  Raises GradcheckError with a per-input report on a mismatch.
    """
    if not callable(fn):
        raise TypeError(f"gradcheck: fn must be a function of the inputs that returns a Tensor, "
                        f"got {fn!r} of type {type(fn).__name__}")
    if isinstance(inputs, Tensor) or not hasattr(inputs, "__iter__"):
        raise TypeError(f"gradcheck: inputs must be a list of Tensors, got {type(inputs).__name__}"
                        + ("; wrap a single tensor as [x]" if isinstance(inputs, Tensor) else ""))
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value) and value >= 0) \
                or (name == "eps" and value == 0):
            raise ValueError(f"gradcheck: {name} must be a finite number {'> 0' if name == 'eps' else '>= 0'}, "
                             f"got {value!r}")
    inputs = list(inputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"gradcheck: input {i} is a {type(x).__name__}, not a Tensor")
        if x.requires_grad and x.dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} is {x.dtype}; finite differences need float64 inputs")
    checked = [i for i, x in enumerate(inputs) if x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")

    weights = {}
    with Tape():
        for i in checked:
            inputs[i].grad = None
        _scalar_objective(fn, inputs, weights).backward()
    analytic = {i: (np.zeros_like(inputs[i].data) if inputs[i].grad is None else inputs[i].grad.copy()) for i in checked}

    failures = []
    for i in checked:
        x = inputs[i]
        numeric = np.zeros_like(x.data)
        for idx in np.ndindex(x.shape):
            saved = x.data[idx]
            x.data[idx] = saved + eps
            with Tape():
                plus = _scalar_objective(fn, inputs, weights).item()
            x.data[idx] = saved - eps
            with Tape():
                minus = _scalar_objective(fn, inputs, weights).item()
            x.data[idx] = saved
            numeric[idx] = (plus - minus) / (2 * eps)
        error = np.abs(analytic[i] - numeric) - (atol + rtol * np.abs(numeric))
        if np.any(error > 0) or not np.all(np.isfinite(analytic[i])):
            worst = np.unravel_index(np.nanargmax(np.where(np.isfinite(error), error, np.inf)), x.shape) if x.shape else ()
            failures.append(
                f"input {i} (shape {x.shape}): worst element {tuple(int(k) for k in worst)}: "
                f"analytic {analytic[i][worst]:.10g}, numeric {numeric[worst]:.10g}, "
                f"difference {analytic[i][worst] - numeric[worst]:.3g} "
                f"({int(np.sum(error > 0))} of {x.size} elements outside atol={atol}, rtol={rtol})"
            )
    for i in checked:
        inputs[i].grad = None
    if failures:
        raise GradcheckError("gradcheck failed:\n  " + "\n  ".join(failures))
    return True
