"""Element-wise arithmetic with NumPy broadcasting: + - * / ** and negation.

Each backward is the local derivative times the incoming gradient; the base
class sums it back to each input's shape when broadcasting stretched it.  Each
tangent rule (``jvp``) is the same derivative times the input tangents, added
up; a ``None`` tangent is an input held constant, whose term is left out, and
the base class stretches the result to the output's shape.
"""

import numbers


from ..errors import DtypeError
from .base import Function, broadcast_shape


class _Binary(Function):
    @classmethod
    def check(cls, a, b):
        broadcast_shape(cls.name, a, b)


class Add(_Binary):
    """z = a + b;  dz/da = 1, dz/db = 1.  Tangent: dz = da + db."""

    name = "add"

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad):
        return grad, grad

    @staticmethod
    def jvp(ctx, da, db):
        if db is None:
            return da
        return db if da is None else da + db


class Sub(_Binary):
    """z = a - b;  dz/da = 1, dz/db = -1.  Tangent: dz = da - db."""

    name = "sub"

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, grad):
        return grad, -grad

    @staticmethod
    def jvp(ctx, da, db):
        if db is None:
            return da
        return -db if da is None else da - db


class Mul(_Binary):
    """z = a * b;  dz/da = b, dz/db = a.  Tangent: dz = da b + a db."""

    name = "mul"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        return grad * b, grad * a

    @staticmethod
    def jvp(ctx, da, db):
        a, b = ctx.saved
        if db is None:
            return da * b
        return a * db if da is None else da * b + a * db


class Div(_Binary):
    """z = a / b;  dz/da = 1/b, dz/db = -a/b^2.  Tangent: dz = (da - z db) / b."""

    name = "div"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        grad_a = grad / b
        return grad_a, -grad_a * a / b

    @staticmethod
    def jvp(ctx, da, db):
        a, b = ctx.saved
        if db is None:
            return da / b
        d = -(a / b) * db if da is None else da - (a / b) * db
        return d / b


class Neg(Function):
    """z = -a;  dz/da = -1.  Tangent: dz = -da."""

    name = "neg"

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        return (-grad,)

    @staticmethod
    def jvp(ctx, da):
        return -da


class Pow(Function):
    """z = a ** p for a constant number p;  dz/da = p a^(p-1).  Tangent: dz = p a^(p-1) da."""

    name = "pow"

    @staticmethod
    def forward(ctx, a, exponent):
        ctx.save(a)
        ctx.meta = exponent
        return a ** exponent

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        p = ctx.meta
        return (grad * p * a ** (p - 1),)

    @staticmethod
    def jvp(ctx, da):
        (a,) = ctx.saved
        p = ctx.meta
        return da * p * a ** (p - 1)


def add(a, b):
    return Add.apply(a, b)


def sub(a, b):
    return Sub.apply(a, b)


def mul(a, b):
    return Mul.apply(a, b)


def div(a, b):
    return Div.apply(a, b)


def neg(a):
    return Neg.apply(a)


def pow(a, exponent):
    """a ** exponent, where the exponent is a constant number (not a tensor)."""
    if not isinstance(exponent, numbers.Real) or isinstance(exponent, bool):
        raise DtypeError(
            f"pow: the exponent must be a constant real number, got {type(exponent).__name__}; "
            "for a tensor exponent write exp(b * log(a))"
        )
    return Pow.apply(a, exponent=float(exponent))


__all__ = ["add", "sub", "mul", "div", "neg", "pow"]
