"""The truncation primitives: nodes that change how gradient flows, not values.

stop_gradient(x): forward identity, backward nothing, so every path through it
is cut.  scale_grad(x, c): forward identity, backward times c.  Both are real
nodes on the tape, so a drawing or a count of the tape shows where a strategy
cut or reweighted the graph.  (``Tensor.detach()`` is different: it makes a new
leaf and records no node at all.)
"""

import numbers

from ..errors import DtypeError
from .base import Function


class StopGradient(Function):
    """y = x;  dL/dx = 0 (no gradient passes)."""

    name = "stop_gradient"

    @staticmethod
    def forward(ctx, x):
        return x.view()

    @staticmethod
    def backward(ctx, grad):
        return (None,)


class ScaleGrad(Function):
    """y = x;  dL/dx = c * dL/dy."""

    name = "scale_grad"

    @staticmethod
    def forward(ctx, x, factor):
        ctx.meta = factor
        return x.view()

    @staticmethod
    def backward(ctx, grad):
        return (grad * ctx.meta,)


def stop_gradient(x):
    return StopGradient.apply(x)


def scale_grad(x, c):
    if not isinstance(c, numbers.Real) or isinstance(c, bool):
        raise DtypeError(f"scale_grad: the factor must be a real number, got {type(c).__name__}")
    return ScaleGrad.apply(x, factor=float(c))
