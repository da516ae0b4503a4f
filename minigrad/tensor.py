"""Tensor: a NumPy array, its gradient, and the tape node that produced it.

A tensor is a *leaf* when no node produced it (``_node is None``): data you
made, parameters, detached states.  Leaves that require grad receive ``.grad``
after a backward; other tensors pass gradient on without keeping it, unless you
ask with ``retain_grad()`` (useful for looking at dL/dh_t).
"""

from __future__ import annotations

import numbers

import numpy as np

from . import tape as _tape
from .errors import DtypeError, NonScalarBackwardError, ShapeError

FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def _as_float_array(data, dtype, op: str) -> np.ndarray:
    """Convert data to a float32/float64 array, or raise DtypeError saying why not."""
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype not in FLOAT_DTYPES:
            raise DtypeError(f"{op}: dtype must be float64 or float32, got {dtype}")
    array = _as_array(data, op)
    kind = array.dtype.kind
    if kind == "f":
        if dtype is not None and array.dtype != dtype:
            return array.astype(dtype)
        if array.dtype in FLOAT_DTYPES:
            return array
        return array.astype(np.float64)
    if kind in "iub":
        return array.astype(dtype or np.float64)
    raise DtypeError(
        f"{op}: cannot make a differentiable tensor from {array.dtype} data "
        f"(type {type(data).__name__}); pass real numbers"
    )


def _as_array(data, op: str) -> np.ndarray:
    """np.asarray(data), with a message that says what is wrong for ragged lists and huge integers."""
    try:
        array = np.asarray(data)
    except ValueError as error:
        if "inhomogeneous" in str(error) or "sequence" in str(error):
            raise ShapeError(f"{op}: the nested lists are ragged (rows of different lengths: {_lengths(data)}); "
                             "a tensor needs a rectangular array") from None
        raise
    if array.dtype == object and array.size and all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                                     for v in array.ravel()):
        try:  # Python integers beyond int64: as floats, if they fit
            return np.array(array.tolist(), dtype=np.float64)
        except OverflowError:
            digits = len(str(abs(max(array.ravel(), key=abs))))
            raise DtypeError(f"{op}: an integer of {digits} digits is too large for a float64 "
                             "(at most about 1.8e308)") from None
    return array


def _lengths(data) -> str:
    """The lengths of the rows of a ragged nested list, e.g. '[2, 1]'."""
    try:
        return str([len(row) if hasattr(row, "__len__") else "a number" for row in data][:8])
    except TypeError:
        return "unknown"


class Tensor:
    """An n-dimensional float array that remembers how it was computed."""

    __slots__ = ("data", "grad", "requires_grad", "_node", "name", "__weakref__")
    __array_ufunc__ = None  # make ndarray + Tensor call Tensor.__radd__

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        self.data = _as_float_array(data, dtype, "tensor")
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._node = None
        self.name = name

    @classmethod
    def _from_op(cls, data: np.ndarray, requires_grad: bool) -> "Tensor":
        out = cls.__new__(cls)
        out.data = data
        out.grad = None
        out.requires_grad = requires_grad
        out._node = None
        out.name = None
        return out

    # -- properties --------------------------------------------------------
    shape = property(lambda self: self.data.shape, doc="The shape of the data.")
    dtype = property(lambda self: self.data.dtype, doc="float64 or float32.")
    ndim = property(lambda self: self.data.ndim, doc="Number of dimensions.")
    size = property(lambda self: self.data.size, doc="Number of elements.")
    node = property(lambda self: self._node, doc="The tape node that produced this tensor (None for a leaf).")

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    def __len__(self) -> int:
        return len(self.data)

    def item(self) -> float:
        return self.data.item()

    def numpy(self) -> np.ndarray:
        return self.data

    def __repr__(self) -> str:
        name = f"{self.name}: " if self.name else ""
        grad = "" if self.grad is None else f", grad={np.array2string(self.grad, precision=4)}"
        how = f", op={self._node.op}" if self._node is not None else (", requires_grad" if self.requires_grad else "")
        return f"Tensor({name}{np.array2string(self.data, precision=4)}{how}{grad})"

    # -- autodiff ----------------------------------------------------------
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` that requires grad.

        ``grad`` is dL/d(self); it may be omitted only for a scalar (it is then 1).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad (no input of the ops that "
                "made it had requires_grad=True, or it was made under no_grad())"
            )
        if grad is None:
            if self.data.size != 1:
                raise NonScalarBackwardError(
                    f"backward: the tensor has shape {self.shape}, so dL/d(tensor) is ambiguous; "
                    "pass grad= an array of that shape (or reduce to a scalar, e.g. .sum())"
                )
            grad = np.ones(self.data.shape, dtype=self.data.dtype)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ShapeError(f"backward: grad has shape {grad.shape} but the tensor has shape {self.shape}")
        if self._node is None:
            _tape._accumulate_into(self, grad)
        else:
            self._node.tape.backward(self, grad, retain_graph=retain_graph)

    def retain_grad(self) -> "Tensor":
        """Keep dL/d(self) in ``.grad`` during backward even though self is not a leaf."""
        if self._node is not None:
            self._node.retain = True
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def detach(self) -> "Tensor":
        """A new leaf sharing this data, with no history: gradient cannot flow through it."""
        out = Tensor._from_op(self.data, False)
        out.name = self.name
        return out

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        self.requires_grad = bool(flag)
        return self

    # -- operators (the ops live in minigrad.ops) ----------------------------
    def __add__(self, other): return _ops.add(self, other)
    def __radd__(self, other): return _ops.add(other, self)
    def __sub__(self, other): return _ops.sub(self, other)
    def __rsub__(self, other): return _ops.sub(other, self)
    def __mul__(self, other): return _ops.mul(self, other)
    def __rmul__(self, other): return _ops.mul(other, self)
    def __truediv__(self, other): return _ops.div(self, other)
    def __rtruediv__(self, other): return _ops.div(other, self)
    def __matmul__(self, other): return _ops.matmul(self, other)
    def __rmatmul__(self, other): return _ops.matmul(other, self)
    def __pow__(self, exponent): return _ops.pow(self, exponent)
    def __neg__(self): return _ops.neg(self)
    def __getitem__(self, index): return _ops.getitem(self, index)

    # comparisons give plain boolean arrays: they have no gradient
    def __lt__(self, other): return self.data < _raw(other)
    def __le__(self, other): return self.data <= _raw(other)
    def __gt__(self, other): return self.data > _raw(other)
    def __ge__(self, other): return self.data >= _raw(other)
    def __eq__(self, other): return self.data == _raw(other)
    def __ne__(self, other): return self.data != _raw(other)
    __hash__ = object.__hash__

    def reshape(self, *shape): return _ops.reshape(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)
    def transpose(self, *axes): return _ops.transpose(self, (axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes) or None)
    T = property(lambda self: _ops.transpose(self, None), doc="Reverse the axes (the matrix transpose for 2-D).")
    def sum(self, axis=None, keepdims=False): return _ops.sum(self, axis=axis, keepdims=keepdims)
    def mean(self, axis=None, keepdims=False): return _ops.mean(self, axis=axis, keepdims=keepdims)
    def max(self, axis=None, keepdims=False): return _ops.max(self, axis=axis, keepdims=keepdims)
    def exp(self): return _ops.exp(self)
    def log(self): return _ops.log(self)
    def tanh(self): return _ops.tanh(self)
    def sigmoid(self): return _ops.sigmoid(self)
    def relu(self): return _ops.relu(self)
    def softmax(self, axis=-1): return _ops.softmax(self, axis=axis)
    def log_softmax(self, axis=-1): return _ops.log_softmax(self, axis=axis)


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def as_tensor(x, like=None, op: str = "tensor") -> Tensor:
    """``x`` itself if it is a Tensor, else a constant tensor.

    Python numbers take the dtype ``like`` (so ``x32 * 2.0`` stays float32);
    arrays keep a float dtype of their own and convert ints to ``like``.
    """
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (str, bytes)):
        raise DtypeError(f"{op}: cannot use a {type(x).__name__} as a tensor")
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        like = None
    return Tensor(x, dtype=like)


def tensor(data, requires_grad: bool = False, dtype=None, name: str | None = None) -> Tensor:
    """Make a leaf tensor. float64 by default; float32 on request; ints are converted."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


from . import ops as _ops  # noqa: E402  (ops needs Tensor, defined above)
