"""The op table: one row per differentiable op of minigrad, driving the gradcheck suite.

A row says how to build the op from tensors (``fn``), which input shapes and
keyword variants to try (``cases``), and where the input values must lie so
that finite differences are meaningful (``domains``: positive for log, away
from 0 for a denominator, away from the kink for relu, without ties for max).

``test_ops_gradcheck.test_every_public_op_has_a_table_row`` compares the names here
with ``minigrad.ops.__all__``: a new op cannot skip the suite.  To add an op,
add a row; each ``Case`` becomes one gradcheck, one float32 parity check, one
directional-derivative check and one "the op really ran" check
(``test_ops_gradcheck.py``), and the forward-mode checks of ``test_jvp.py``: its
tangent against finite differences, against backward (<u, J v> = <J^T u, v>, all
inputs together and each alone), with and without a tape, in float32, and with
non-contiguous tangents.

``grad_factor`` is what backward returns relative to the true derivative of the
forward: 1 for every ordinary op, ``c`` for ``scale_grad(x, c)`` and 0 for
``stop_gradient``.  Those two are *meant* to disagree with finite differences,
so the suite asserts that gradcheck rejects them.  Their tangent rules follow
their backward, so ``grad_factor`` scales the expected tangent as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import minigrad as mg
from minigrad import ops

# ---------------------------------------------------------------------------
# Input domains: (rng, shape) -> float64 array of that shape.
# ---------------------------------------------------------------------------


def real(rng, shape):
    """Any real number (standard normal)."""
    return rng.standard_normal(shape)


def moderate(rng, shape):
    """Uniform in [-2, 2] (exp, sigmoid, tanh: keeps derivatives of order 1)."""
    return rng.uniform(-2.0, 2.0, shape)


def positive(rng, shape):
    """Uniform in [0.5, 2] (log, pow with a fractional exponent)."""
    return rng.uniform(0.5, 2.0, shape)


def nonzero(rng, shape):
    """|x| in [0.5, 2] with a random sign (denominators, negative powers)."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)


def off_kink(rng, shape):
    """|x| in [0.1, 2] with a random sign: never within 0.1 of relu's kink at 0."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.1, 2.0, shape)


def no_ties(rng, shape):
    """All values distinct, at least 0.06 apart (max: no ties within +-eps)."""
    n = int(np.prod(shape, dtype=np.int64))
    spaced = (rng.permutation(n) - n / 2) * 0.1 + rng.uniform(-0.02, 0.02, n)
    return spaced.reshape(shape)


def with_nan(rng, shape):
    """Standard normal with about a third of the entries NaN ("no target here")."""
    x = rng.standard_normal(shape)
    if x.size >= 2:
        flat = x.reshape(-1)
        flat[rng.random(x.size) < 1 / 3] = np.nan
        flat[0] = np.nan  # at least one skipped entry
        flat[-1] = 0.5  # and at least one kept
    return x


# ---------------------------------------------------------------------------
# Rows and cases
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One way to call an op: input shapes, keyword arguments, and overrides."""

    shapes: tuple  # one shape per tensor input
    kwargs: dict = field(default_factory=dict)
    label: str = ""  # short readable id; generated from shapes/kwargs if empty
    fn: Callable | None = None  # replaces OpRow.fn (operator syntax, .T, constants)
    domains: tuple | None = None  # replaces OpRow.domains
    grad_factor: float = 1.0  # backward = grad_factor * true derivative


@dataclass(frozen=True)
class OpRow:
    name: str  # the function's name in minigrad.ops (and the tape node's op name)
    fn: Callable  # fn(*tensors, **kwargs) -> Tensor
    cases: tuple
    domains: tuple = (real,)  # one per input (the last is repeated if short)

    def domains_for(self, case: Case) -> tuple:
        doms = case.domains or self.domains
        n = len(case.shapes)
        return tuple(doms[i] if i < len(doms) else doms[-1] for i in range(n))

    def fn_for(self, case: Case) -> Callable:
        return case.fn or self.fn


def case_id(row: OpRow, case: Case) -> str:
    if case.label:
        return f"{row.name}-{case.label}"
    shapes = "&".join(str(s).replace(" ", "") for s in case.shapes)
    kw = ",".join(f"{k}={_short(v)}" for k, v in case.kwargs.items())
    return f"{row.name}-{shapes}" + (f"-{kw}" if kw else "")


def _short(v):
    if isinstance(v, np.ndarray):
        return f"arr{v.shape}".replace(" ", "")
    return str(v).replace(" ", "")


def make_inputs(row: OpRow, case: Case, seed: int = 0, dtype=np.float64, requires_grad=True):
    """Tensors for ``case``, values drawn from the row's domains with a fixed seed."""
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(dom(rng, shape), dtype=np.float64) for dom, shape in zip(row.domains_for(case), case.shapes)]
    return [mg.tensor(a.astype(dtype), requires_grad=requires_grad) for a in arrays]


def _unary(shapes, kwargs_list=({},), **extra):
    """One single-input Case per (shape, kwargs) pair."""
    return tuple(Case((tuple(s),), dict(k), **extra) for s in shapes for k in kwargs_list)


def _nary(shape_sets, kwargs_list=({},), **extra):
    """One Case per (shape set, kwargs) pair; a shape set has one shape per input."""
    return tuple(Case(tuple(ss), dict(k), **extra) for ss in shape_sets for k in kwargs_list)


# Shape sets ----------------------------------------------------------------

BROADCAST_PAIRS = (
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),  # trailing vector
    ((4,), (3, 4)),
    ((3, 1), (1, 4)),  # both stretched
    ((2, 3, 4), (3, 1)),  # missing leading axis and a stretched one
    ((2, 1, 4), (3, 1)),
    ((), (3, 4)),  # scalar operands
    ((3, 4), ()),
    ((), ()),
)

UNARY_SHAPES = ((), (5,), (3, 4), (2, 3, 4))

REDUCE_KWARGS = tuple(
    {"axis": axis, "keepdims": keepdims}
    for axis in (None, 0, -1, (0, 2), (-1, 1))
    for keepdims in (False, True)
)

# targets of cross_entropy (class indices; -1 = no target for that row)
_T_ROWS = np.array([2, -1, 0, 4], dtype=np.int64)  # for logits (4, 5)
_T_3D = np.array([[1, 4, -1], [0, -1, 3]], dtype=np.int64)  # for logits (2, 3, 5)
_T_NONE = np.array([-1, -1, -1], dtype=np.int64)  # every row ignored: loss 0

_BOOL_ROWS = np.array([True, False, True, True])
_BOOL_FULL = (np.arange(4 * 5 * 3).reshape(4, 5, 3) % 3) == 1

# The table ------------------------------------------------------------------

OPS: tuple[OpRow, ...] = (
    # -- arithmetic (broadcasting binary ops) --
    OpRow("add", ops.add, _nary(BROADCAST_PAIRS) + (
        Case(((3, 4), (4,)), label="operator", fn=lambda a, b: a + b),
        Case(((3, 4),), label="ndarray+tensor", fn=lambda a: np.linspace(-1, 1, 4).astype(a.dtype) + a),
        Case(((3, 4),), label="tensor+2.5", fn=lambda a: a + 2.5),
    )),
    OpRow("sub", ops.sub, _nary(BROADCAST_PAIRS) + (
        Case(((3, 1), (1, 4)), label="operator", fn=lambda a, b: a - b),
        Case(((3, 4),), label="2.5-tensor", fn=lambda a: 2.5 - a),
    )),
    OpRow("mul", ops.mul, _nary(BROADCAST_PAIRS) + (
        Case(((3, 1), (1, 4)), label="operator", fn=lambda a, b: a * b),
        Case(((3, 4),), label="x*x", fn=lambda a: a * a),
        Case(((3, 4),), label="int-ndarray*tensor", fn=lambda a: np.arange(4) * a),
    )),
    OpRow("div", ops.div, _nary(BROADCAST_PAIRS) + (
        Case(((2, 3, 4), (3, 1)), label="operator", fn=lambda a, b: a / b),
        Case(((3, 4),), label="2.5/tensor", fn=lambda a: 2.5 / a, domains=(nonzero,)),
    ), domains=(real, nonzero)),
    OpRow("neg", ops.neg, _unary(UNARY_SHAPES) + (
        Case(((3, 4),), label="operator", fn=lambda a: -a),
    )),
    OpRow("pow", ops.pow, (
        *_unary(UNARY_SHAPES, ({"exponent": 2},)),
        *_unary(((3, 4), ()), ({"exponent": 0.5},), domains=(positive,)),
        *_unary(((3, 4), ()), ({"exponent": -1},), domains=(nonzero,)),
        Case(((3, 4),), label="operator**3", fn=lambda a: a ** 3),
    )),
    # -- linear algebra --
    OpRow("matmul", ops.matmul, (
        Case(((3, 4), (4, 5))),  # 2-D @ 2-D
        Case(((4,), (4, 5))),  # 1-D @ 2-D
        Case(((3, 4), (4,))),  # 2-D @ 1-D
        Case(((2, 3, 4), (4, 5))),  # batched @ 2-D (batch broadcast)
        Case(((3, 4), (2, 4, 5))),  # 2-D @ batched
        Case(((2, 3, 4), (2, 4, 5))),  # 3-D @ 3-D
        Case(((2, 1, 3, 4), (3, 4, 2))),  # batch dims (2,1) and (3,) broadcast
        Case(((4,), (2, 4, 5))),  # 1-D @ batched
        Case(((2, 3, 4), (4,))),  # batched @ 1-D
        Case(((3, 4), (4, 5)), label="operator", fn=lambda a, b: a @ b),
        Case(((4,), (4,))),  # 1-D @ 1-D: a dot product, 0-d result
    )),
    OpRow("matvec", ops.matvec, (
        Case(((3, 4), (4,))),  # W x for one vector
        Case(((3, 4), (5, 4))),  # every row of a batch: X W^T
        Case(((3, 4), (2, 5, 4))),  # a batch of sequences
        Case(((1, 4), (4,))),
        Case(((3, 1), (2, 1))),
    )),
    # -- element-wise --
    OpRow("exp", ops.exp, _unary(UNARY_SHAPES), domains=(moderate,)),
    OpRow("log", ops.log, _unary(UNARY_SHAPES), domains=(positive,)),
    OpRow("tanh", ops.tanh, _unary(UNARY_SHAPES) + (
        Case(((3, 4),), label="method", fn=lambda a: a.tanh()),
    ), domains=(moderate,)),
    OpRow("sigmoid", ops.sigmoid, _unary(UNARY_SHAPES) + (
        Case(((3, 4),), label="method", fn=lambda a: a.sigmoid()),
    ), domains=(moderate,)),
    OpRow("relu", ops.relu, _unary(UNARY_SHAPES) + (
        Case(((3, 4),), label="method", fn=lambda a: a.relu()),
    ), domains=(off_kink,)),
    # -- reductions --
    OpRow("sum", ops.sum, _unary(((2, 3, 4),), REDUCE_KWARGS) + _unary(((5,), ()), ({"axis": None},)) + (
        Case(((2, 3, 4),), {"axis": [0, 1]}, label="axis-list"),
        Case(((2, 3, 4),), label="method-axis1-keepdims", fn=lambda a: a.sum(axis=1, keepdims=True)),
    )),
    OpRow("mean", ops.mean, _unary(((2, 3, 4),), REDUCE_KWARGS) + _unary(((5,), ()), ({"axis": None},)) + (
        Case(((2, 3, 4),), label="method-axis-1", fn=lambda a: a.mean(axis=-1)),
    )),
    OpRow("max", ops.max, _unary(((2, 3, 4),), REDUCE_KWARGS) + _unary(((5,), ()), ({"axis": None},)) + (
        Case(((2, 3, 4),), label="method-axis0", fn=lambda a: a.max(axis=0)),
    ), domains=(no_ties,)),
    # -- shape --
    OpRow("reshape", ops.reshape, (
        Case(((3, 4),), {"shape": (12,)}),
        Case(((3, 4),), {"shape": (2, 6)}),
        Case(((3, 4),), {"shape": (-1, 2)}),
        Case(((2, 3, 2),), {"shape": (3, 4)}),
        Case(((),), {"shape": (1, 1)}),
        Case(((1,),), {"shape": ()}),
        Case(((2, 6),), label="method", fn=lambda a: a.reshape(3, 2, 2)),
    )),
    OpRow("transpose", ops.transpose, (
        Case(((3, 4),)),
        Case(((2, 3, 4),)),  # axes=None reverses
        Case(((2, 3, 4),), {"axes": (1, 0, 2)}),
        Case(((2, 3, 4),), {"axes": (2, 0, 1)}),
        Case(((2, 3, 4),), {"axes": (-1, 0, 1)}),
        Case(((3, 4),), label=".T", fn=lambda a: a.T),
        Case(((2, 3, 4),), label="method(1,2,0)", fn=lambda a: a.transpose(1, 2, 0)),
    )),
    OpRow("getitem", ops.getitem, (
        Case(((4, 5, 3),), {"index": 1}, label="int"),
        Case(((4, 5, 3),), {"index": -1}, label="negative-int"),
        Case(((4, 5, 3),), {"index": slice(1, 3)}, label="slice"),
        Case(((4, 5, 3),), {"index": slice(None, None, -1)}, label="reversed"),
        Case(((4, 5, 3),), {"index": (slice(None), slice(4, 0, -2))}, label="negative-step"),
        Case(((4, 5, 3),), {"index": [0, 2, 0, 0]}, label="fancy-repeats"),
        Case(((4, 5, 3),), {"index": (np.array([0, 3, 0]), np.array([1, 1, 1]))}, label="fancy-pairs-repeats"),
        Case(((4, 5, 3),), {"index": np.array([[0, 1], [1, 1]])}, label="fancy-2d-index"),
        Case(((4, 5, 3),), {"index": (slice(None), [4, 0, 4])}, label="slice+fancy"),
        Case(((4, 5, 3),), {"index": (1, slice(None), [2, 0, 2])}, label="int+slice+fancy"),
        Case(((4, 5, 3),), {"index": _BOOL_ROWS}, label="bool-rows"),
        Case(((4, 5, 3),), {"index": _BOOL_FULL}, label="bool-full"),
        Case(((4, 5, 3),), {"index": (Ellipsis, 1)}, label="ellipsis-int"),
        Case(((4, 5, 3),), {"index": (0, Ellipsis, slice(None, None, -1))}, label="int-ellipsis-reversed"),
        Case(((4, 5, 3),), {"index": (None, slice(1, 3))}, label="newaxis"),
        Case(((6,),), {"index": 2}, label="1d-int"),
        Case(((4, 5, 3),), label="operator", fn=lambda a: a[1:, ::-2, [0, 0]]),
    )),
    OpRow("take_rows", ops.take_rows, (
        Case(((5, 3),), {"index": np.array([0, 4, 4, 1])}, label="repeats"),
        Case(((5, 3),), {"index": np.array([[0, 4], [4, 1], [2, 2]])}, label="2d-index"),
        Case(((4, 2),), {"index": np.array([3])}, label="single"),
    )),
    OpRow("concat", lambda *ts, **kw: ops.concat(ts, **kw), (
        Case(((2, 3), (4, 3)), {"axis": 0}),
        Case(((2, 3), (2, 1), (2, 2)), {"axis": 1}),
        Case(((2, 3), (2, 1)), {"axis": -1}),
        Case(((2, 3, 4), (2, 1, 4)), {"axis": 1}),
        Case(((5,),), {"axis": 0}, label="single"),
    )),
    OpRow("stack", lambda *ts, **kw: ops.stack(ts, **kw), (
        Case(((2, 3), (2, 3)), {"axis": 0}),
        Case(((2, 3), (2, 3), (2, 3)), {"axis": 1}),
        Case(((2, 3), (2, 3)), {"axis": 2}),
        Case(((2, 3), (2, 3)), {"axis": -1}),
        Case(((), (), ()), {"axis": 0}),
    )),
    # -- softmax and losses --
    OpRow("softmax", ops.softmax, (
        *_unary(((3, 5), (2, 3, 4)), ({"axis": -1}, {"axis": 0})),
        Case(((2, 3, 4),), {"axis": 1}),
        Case(((5,),), {"axis": 0}),
        Case(((3, 5),), label="method", fn=lambda a: a.softmax()),
    )),
    OpRow("log_softmax", ops.log_softmax, (
        *_unary(((3, 5), (2, 3, 4)), ({"axis": -1}, {"axis": 0})),
        Case(((2, 3, 4),), {"axis": 1}),
        Case(((5,),), {"axis": 0}),
        Case(((3, 5),), label="method", fn=lambda a: a.log_softmax(axis=0)),
    )),
    OpRow("cross_entropy", ops.cross_entropy, (
        Case(((4, 5),), {"targets": _T_ROWS, "reduction": "mean"}, label="ignore-1-mean"),
        Case(((4, 5),), {"targets": _T_ROWS, "reduction": "sum"}, label="ignore-1-sum"),
        Case(((2, 3, 5),), {"targets": _T_3D, "reduction": "mean"}, label="3d-mean"),
        Case(((2, 3, 5),), {"targets": _T_3D, "reduction": "sum"}, label="3d-sum"),
        Case(((5,),), {"targets": np.array(3)}, label="single-row"),
        Case(((3, 4),), {"targets": _T_NONE, "reduction": "mean"}, label="all-ignored"),
        Case(((4, 5),), {"targets": [1, 1, 0, 4]}, label="list-targets"),
    )),
    OpRow("mse", ops.mse, (
        *_nary((((4, 3), (4, 3)),), ({"reduction": "mean"}, {"reduction": "sum"})),
        Case(((4, 3), (4, 3)), {"reduction": "mean"}, label="nan-targets-mean", domains=(real, with_nan)),
        Case(((4, 3), (4, 3)), {"reduction": "sum"}, label="nan-targets-sum", domains=(real, with_nan)),
        Case(((), ()), {"reduction": "mean"}),
    )),
    # -- graph edits: identity forwards whose backward is deliberately not the derivative --
    OpRow("scale_grad", ops.scale_grad, (
        Case(((3, 4),), {"c": 0.25}, grad_factor=0.25),
        Case(((),), {"c": 0.25}, grad_factor=0.25),
        Case(((2, 3),), {"c": -2.0}, grad_factor=-2.0),
    )),
    OpRow("stop_gradient", ops.stop_gradient, (
        Case(((3, 4),), grad_factor=0.0),
        Case(((),), grad_factor=0.0),
    )),
)

ROWS_BY_NAME = {row.name: row for row in OPS}

#: (row, case) for every case of every row, in table order
ALL_CASES = tuple((row, case) for row in OPS for case in row.cases)

#: the binary ops whose inputs broadcast like NumPy's
BROADCASTING_BINARY = ("add", "sub", "mul", "div")
#: the reductions that take axis and keepdims
REDUCTIONS = ("sum", "mean", "max")
