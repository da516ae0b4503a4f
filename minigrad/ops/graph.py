"""The truncation primitives: nodes that change how gradient flows, not values.

stop_gradient(x): forward identity, backward nothing, so every path through it
is cut.  scale_grad(x, c): forward identity, backward times c.  Both are real
nodes on the tape, so a drawing or a count of the tape shows where a strategy
cut or reweighted the graph.  (``Tensor.detach()`` is different: it makes a new
leaf and records no node at all.)

These are the gradient-editing nodes: their backward is deliberately *not* the
derivative of their forward (which is 1).  Their tangent rule follows their
backward, not their forward: stop_gradient's tangent is zero, scale_grad's is
c times the input's.  Then the two modes stay transposes of each other,
<u, J v> = <J^T u, v>, where J is the edited Jacobian the graph now stands for,
so forward mode (``mg.jvp``, RTRL) and reverse mode (backward, BPTT) estimate the
same truncated or rescaled quantity.  (This is also what JAX's stop_gradient does
in forward mode.  A detached tensor likewise has no tangent: it is a constant.)
"""

import numbers

from .. import validate
from ..errors import DtypeError
from .base import Function


class StopGradient(Function):
    """y = x;  dL/dx = 0 (no gradient passes).  Tangent: dy = 0 (no tangent passes either)."""

    name = "stop_gradient"

    @staticmethod
    def forward(ctx, x):
        return x.view()

    @staticmethod
    def backward(ctx, grad):
        return (None,)

    @staticmethod
    def jvp(ctx, dx):
        return None  # a zero tangent: what comes out of the cut is a constant for forward mode too


class ScaleGrad(Function):
    """y = x;  dL/dx = c * dL/dy.  Tangent: dy = c * dx (not dx: it follows the backward)."""

    name = "scale_grad"

    @staticmethod
    def forward(ctx, x, factor):
        ctx.meta = factor
        return x.view()

    @staticmethod
    def backward(ctx, grad):
        return (grad * ctx.meta,)

    @staticmethod
    def jvp(ctx, dx):
        return dx * ctx.meta


def stop_gradient(x):
    return StopGradient.apply(x)


def scale_grad(x, c):
    if not isinstance(c, numbers.Real) or isinstance(c, bool):
        raise DtypeError(f"scale_grad: the factor must be a real number, got {type(c).__name__}")
    return ScaleGrad.apply(x, factor=validate.real("scale_grad: the factor c", c))
