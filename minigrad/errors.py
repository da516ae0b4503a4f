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


class GradcheckError(AssertionError):
    """gradcheck found an analytic gradient that disagrees with finite differences."""
