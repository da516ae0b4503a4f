"""The exceptions minigrad raises, each for one kind of mistake.

Every message says what went wrong, where (the op and the shapes or dtypes
involved), and, where there is one, the fix.  Each class also derives from the
built-in exception a Python user would expect (ValueError, TypeError,
RuntimeError), so ``except ValueError`` keeps working.
"""


class ShapeError(ValueError):
    """An op got arrays whose shapes do not fit together (``matmul: shapes ...``)."""


class DtypeError(TypeError):
    """An op got a value of a type or dtype it cannot differentiate (ints, strings)."""


class FreedGraphError(RuntimeError):
    """backward reached a node whose saved arrays an earlier backward released."""


class NonScalarBackwardError(RuntimeError):
    """backward() was called on a non-scalar tensor without an explicit ``grad``."""


class AnomalyError(FloatingPointError):
    """In anomaly mode, an op produced a NaN or an infinity."""


class DivergenceError(FloatingPointError):
    """Training met a non-finite loss or gradient (``rnn.fit``): it stopped before the
    optimizer step, so the weights are the last finite ones."""


class GradcheckError(AssertionError):
    """gradcheck found an analytic gradient that disagrees with finite differences."""


class BackwardError(TypeError):
    """An op's backward handed back something the engine cannot use.

    ``backward(ctx, grad)`` must return a tuple (or list) with exactly one entry
    per input, each ``None`` (no gradient for that input) or a NumPy array whose
    shape is the input's shape, or a shape NumPy broadcasting made from it (the
    engine sums it back).  A bare array, a wrong count, a Python number, a list
    of numbers or a shape that does not fit raises this, naming the op's class,
    the input and both shapes.  The engine checks every node's return, in
    ``Function.backward_checked``.
    """


class TangentError(TypeError):
    """Forward mode (``mg.jvp``) reached an op it cannot push a tangent through.

    Either the op's class defines no tangent rule (a ``jvp(ctx, *tangents)``
    static method beside its backward), or the rule returned something other
    than ``None`` or one array of the output's shape (or a shape that broadcasts to it).
    """
