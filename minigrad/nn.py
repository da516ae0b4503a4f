"""Parameters, modules and two layers (Linear, Embedding), in the style of PyTorch.

A ``Module`` is a container that knows its trainable arrays: assigning a
``Parameter`` or a ``Module`` to an attribute registers it, in assignment
order, under a dotted name ("encoder.W", "layers.0.b").  From that one
registry come ``parameters()`` (what an optimizer updates), ``zero_grad()``,
and checkpoints: ``state_dict()`` / ``load_state_dict()`` and ``save()`` /
``load()`` to a NumPy ``.npz`` file (plain arrays, never pickle, so loading a
checkpoint cannot run code).

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(2, 16, seed=0)
            self.out = nn.Linear(16, 1, seed=1)

        def forward(self, x):
            return self.out(self.hidden(x).tanh())
"""

from __future__ import annotations

import os

import numpy as np

from . import init, ops
from .errors import DtypeError, ShapeError
from .tensor import Tensor, as_tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad: a trainable array of a Module.

    The data are used as given when already a C-contiguous, writeable float
    array (no copy, as ``mg.tensor``), else copied into one: optimizers
    update ``param.data`` in place through a flat view, which needs contiguity.
    """

    __slots__ = ()

    def __init__(self, data, dtype=None, name: str | None = None):
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=True, dtype=dtype, name=name)
        self.data = np.require(self.data, requirements=("C", "W"))


class Module:
    """Base class of every layer and model; subclasses define ``forward``.

    Call ``super().__init__()`` first in a subclass's ``__init__``, then assign
    Parameters and sub-Modules as attributes: they register themselves.
    Plain Tensors are not registered (a hidden state, say, is not trained).
    """

    def __init__(self):
        object.__setattr__(self, "_children", {})

    # -- registration ------------------------------------------------------
    def __setattr__(self, name: str, value) -> None:
        registrable = isinstance(value, (Parameter, Module))
        if registrable and "_children" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: cannot register '{name}' before Module.__init__ ran; "
                "call super().__init__() at the start of __init__"
            )
        if isinstance(value, (list, tuple)) and any(isinstance(v, (Parameter, Module)) for v in value):
            raise TypeError(
                f"{type(self).__name__}.{name}: a plain {type(value).__name__} of Modules or Parameters "
                "is not registered, so they would be neither trained nor saved; "
                "use nn.ModuleList([...]) for modules, one attribute per Parameter"
            )
        if registrable:
            if isinstance(value, Parameter) and value.name is None:
                value.name = name
            self._children[name] = value
        elif "_children" in self.__dict__:
            self._children.pop(name, None)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._children.pop(name, None)
        object.__delattr__(self, name)

    def children(self) -> list["Module"]:
        """The direct sub-Modules, in registration order."""
        return [c for c in self._children.values() if isinstance(c, Module)]

    def modules(self) -> list["Module"]:
        """This module and every module inside it, depth first, in registration order."""
        return [self] + [m for child in self.children() for m in child.modules()]

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs in registration order.

        A Parameter reachable under two names (tied weights) is listed once,
        under the first, so an optimizer does not update it twice.
        """
        named = []
        self._collect_parameters("", set(), named)
        return named

    def _collect_parameters(self, prefix: str, seen: set, named: list) -> None:
        for name, child in self._children.items():
            if not isinstance(child, Parameter):
                child._collect_parameters(f"{prefix}{name}.", seen, named)
            elif id(child) not in seen:
                seen.add(id(child))
                named.append((prefix + name, child))

    def parameters(self) -> list[Parameter]:
        """Every Parameter, in registration order (pass this to an optimizer)."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Forget accumulated gradients: every parameter's ``.grad`` becomes None."""
        for p in self.parameters():
            p.grad = None

    # -- checkpoints -------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """{dotted name: a copy of the parameter's array}."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state) -> None:
        """Copy the arrays of ``state`` (a dict or an ``np.load`` result) into the parameters.

        The names must match exactly and every shape must agree; values are
        cast to each parameter's dtype.  The copy is in place, so an optimizer
        built on these parameters keeps working.  Nothing is changed unless
        every array fits (ValueError listing every problem otherwise).
        """
        targets = {name: p.data for name, p in self.named_parameters()}
        load_arrays_into(f"{type(self).__name__}.load_state_dict", targets, state)

    def save(self, path) -> str:
        """Write ``state_dict()`` to an ``.npz`` file with np.savez; return the path written.

        ".npz" is appended when missing (as np.savez does).
        """
        path = _npz_path(path)
        np.savez(path, **self.state_dict())
        return path

    def load(self, path) -> None:
        """Load parameters saved by ``save`` (no pickle: allow_pickle=False)."""
        path = _npz_path(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{type(self).__name__}.load: no checkpoint file at '{path}'")
        with np.load(path, allow_pickle=False) as archive:
            self.load_state_dict({name: archive[name] for name in archive.files})

    # -- calling -----------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def __repr__(self) -> str:
        lines = [f"  {name}: {p.shape} {p.dtype}" for name, p in self.named_parameters()]
        if not lines:
            return f"{type(self).__name__}()"
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class ModuleList(Module):
    """A list of Modules registered under their indices: ``layers.0.W``, ``layers.1.W``, ..."""

    def __init__(self, modules=()):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> "ModuleList":
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: can only hold Modules, got {type(module).__name__}")
        setattr(self, str(len(self)), module)
        return self

    def __len__(self) -> int:
        return len(self._children)

    def __iter__(self):
        return iter(list(self._children.values()))

    def __getitem__(self, index: int) -> Module:
        return list(self._children.values())[index]


def load_arrays_into(owner: str, targets: dict[str, np.ndarray], state) -> None:
    """Copy ``state[name]`` into ``targets[name]`` in place, casting to its dtype.

    Checks first that the names match exactly and the shapes agree, and
    raises one ValueError, naming ``owner``, that lists every missing key,
    unexpected key and shape mismatch; nothing is copied unless all fit.
    """
    state = dict(state)
    problems = []
    missing = [name for name in targets if name not in state]
    unexpected = [name for name in state if name not in targets]
    if missing:
        problems.append("missing keys: " + ", ".join(f"'{n}' {targets[n].shape}" for n in missing))
    if unexpected:
        problems.append("unexpected keys: " + ", ".join(f"'{n}' {np.shape(state[n])}" for n in unexpected))
    mismatched = [n for n in targets if n in state and np.shape(state[n]) != targets[n].shape]
    if mismatched:
        problems.append("shape mismatch: " + ", ".join(
            f"'{n}' expected {targets[n].shape}, got {np.shape(state[n])}" for n in mismatched))
    if problems:
        raise ValueError(f"{owner}: the state does not fit: " + "; ".join(problems))
    for name, array in targets.items():
        array[...] = state[name]


def _npz_path(path) -> str:
    path = os.fspath(path)
    return path if path.endswith(".npz") else path + ".npz"


class Linear(Module):
    """y = x @ W.T + b, applied to the last axis of x (any leading batch/time axes).

    W has shape (n_out, n_in), so for one column vector this is y = W x + b.
    W is Glorot-uniform initialised from ``np.random.default_rng(seed)``; b is 0.
    """

    def __init__(self, n_in: int, n_out: int, bias: bool = True, seed: int = 0, dtype=np.float64):
        super().__init__()
        self.n_in, self.n_out = n_in, n_out
        rng = np.random.default_rng(seed)
        self.W = Parameter(init.xavier_uniform((n_out, n_in), rng, dtype=dtype), name="W")
        self.b = Parameter(np.zeros(n_out, dtype=dtype), name="b") if bias else None

    def forward(self, x) -> Tensor:
        x = as_tensor(x, like=self.W.dtype, op="Linear")
        if x.ndim == 0 or x.shape[-1] != self.n_in:
            raise ShapeError(
                f"Linear: input of shape {x.shape} must have last dimension n_in={self.n_in} "
                f"(W has shape {self.W.shape})"
            )
        y = x @ self.W.T
        return y if self.b is None else y + self.b


class Embedding(Module):
    """A lookup table: row i of W (shape (n_embeddings, dim)) is the vector of token i.

    ``forward(indices)`` returns W[indices], of shape indices.shape + (dim,).
    Its backward adds the gradient of each output row into the row it came
    from, so a token used k times gets the sum of k gradients.
    W is initialised N(0, 1) from ``np.random.default_rng(seed)``.
    """

    def __init__(self, n_embeddings: int, dim: int, seed: int = 0, dtype=np.float64):
        super().__init__()
        self.n_embeddings, self.dim = n_embeddings, dim
        rng = np.random.default_rng(seed)
        self.W = Parameter(init.normal((n_embeddings, dim), rng, std=1.0, dtype=dtype), name="W")

    def forward(self, indices) -> Tensor:
        indices = self._checked(indices)
        return ops.take_rows(self.W, indices)

    def _checked(self, indices) -> np.ndarray:
        if isinstance(indices, Tensor):
            raise DtypeError(
                f"Embedding: indices must be an integer array, got a Tensor ({indices.dtype}); "
                "tensors hold floats, pass the indices as an int np.ndarray"
            )
        indices = np.asarray(indices)
        if indices.dtype.kind not in "iu":
            raise DtypeError(f"Embedding: indices must be integers, got dtype {indices.dtype}")
        bad = ops.base.out_of_range(indices, 0, self.n_embeddings)
        if bad is not None:
            raise ValueError(
                f"Embedding: index {bad} is out of range for a table of "
                f"{self.n_embeddings} embeddings (valid: 0 to {self.n_embeddings - 1})"
            )
        return indices
