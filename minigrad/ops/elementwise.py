"""Element-wise functions: exp, log, tanh, sigmoid, relu.

Each backward multiplies the incoming gradient by the local derivative.  The
activations save their *output* and express the derivative through it
(tanh' = 1 - y^2, sigmoid' = y (1 - y)); the numba kernels do that multiply in
one pass.

An element-wise function's Jacobian is diagonal, hence its own transpose: the
tangent rule is the backward's formula applied to the input tangent,
dy = f'(a) da, and the activations reuse the same kernel for it.
"""

import numpy as np

from ..kernels import ACTIVATION_CODES, activation_backward, activation_forward
from .base import Function


def _flat(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).reshape(-1)


def _kernel_forward(z: np.ndarray, name: str) -> np.ndarray:
    out = np.empty(z.shape, dtype=z.dtype)
    activation_forward(_flat(z), ACTIVATION_CODES[name], out.reshape(-1))
    return out


def _kernel_backward(y: np.ndarray, grad: np.ndarray, name: str) -> np.ndarray:
    out = np.empty(y.shape, dtype=np.result_type(y, grad))
    activation_backward(_flat(y), _flat(grad.astype(out.dtype, copy=False)), ACTIVATION_CODES[name], out.reshape(-1))
    return out


class Exp(Function):
    """y = e^a;  dy/da = y.  Tangent: dy = y da."""

    name = "exp"

    @staticmethod
    def forward(ctx, a):
        y = np.exp(a)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        return (grad * ctx.saved[0],)

    @staticmethod
    def jvp(ctx, da):
        return da * ctx.saved[0]


class Log(Function):
    """y = ln a;  dy/da = 1/a.  Tangent: dy = da / a."""

    name = "log"

    @staticmethod
    def forward(ctx, a):
        ctx.save(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(a)

    @staticmethod
    def backward(ctx, grad):
        return (grad / ctx.saved[0],)

    @staticmethod
    def jvp(ctx, da):
        return da / ctx.saved[0]


class _Activation(Function):
    """An activation whose derivative the kernels compute from the output y.

    backward: dL/da = f'(a) dL/dy;  tangent: dy = f'(a) da (the same kernel call)."""

    @classmethod
    def forward(cls, ctx, a):
        y = cls.function(a)
        ctx.save(y)
        return y

    @classmethod
    def backward(cls, ctx, grad):
        return (_kernel_backward(ctx.saved[0], grad, cls.name),)

    @classmethod
    def jvp(cls, ctx, da):
        return _kernel_backward(ctx.saved[0], da, cls.name)


class Tanh(_Activation):
    """y = tanh a;  dy/da = 1 - y^2.  Tangent: dy = (1 - y^2) da."""

    name = "tanh"
    function = staticmethod(np.tanh)


class Sigmoid(_Activation):
    """y = 1 / (1 + e^-a);  dy/da = y (1 - y).  Tangent: dy = y (1 - y) da."""

    name = "sigmoid"

    @staticmethod
    def function(a):
        return _kernel_forward(a, "sigmoid")


class Relu(_Activation):
    """y = max(a, 0);  dy/da = 1 where a > 0, else 0.  Tangent: dy = da where a > 0, else 0."""

    name = "relu"

    @staticmethod
    def function(a):
        return np.maximum(a, 0)


def exp(a):
    return Exp.apply(a)


def log(a):
    return Log.apply(a)


def tanh(a):
    return Tanh.apply(a)


def sigmoid(a):
    return Sigmoid.apply(a)


def relu(a):
    return Relu.apply(a)
