"""minigrad: a small tape-based reverse-mode autodiff engine over NumPy arrays.

    import minigrad as mg
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()        # x.grad == [2., 4.]

The tape (``minigrad.tape``) records each op; backward walks it in reverse.
Forward mode needs no tape: ``mg.jvp(fn, primals, tangents)`` pushes a tangent
through each op as it runs (``minigrad.forward_mode``).
Truncated BPTT is built from three graph edits: ``stop_gradient``,
``scale_grad`` and ``Tape.cut``.
"""

from . import errors, init, kernels, nn, ops, optim
from .forward_mode import jvp
from .gradcheck import gradcheck
from .ops import (
    concat,
    cross_entropy,
    exp,
    log,
    log_softmax,
    matmul,
    matvec,
    max,
    mean,
    mse,
    relu,
    reshape,
    scale_grad,
    sigmoid,
    softmax,
    stack,
    stop_gradient,
    sum,
    tanh,
    transpose,
)
from .tape import Node, Tape, current_tape, detect_anomaly, is_grad_enabled, no_grad, tags
from .tensor import Tensor, tensor
from . import viz  # noqa: E402  (draws tensors, so it comes after them)

__all__ = [
    "Tensor", "tensor", "Tape", "Node", "current_tape", "no_grad", "tags", "detect_anomaly",
    "is_grad_enabled", "gradcheck", "jvp", "errors", "init", "viz", "kernels", "nn", "ops", "optim",
    "concat", "cross_entropy", "exp", "log", "log_softmax", "matmul", "matvec", "max", "mean", "mse",
    "relu", "reshape", "scale_grad", "sigmoid", "softmax", "stack", "stop_gradient", "sum",
    "tanh", "transpose",
]
__version__ = "0.1.0"
