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
import zipfile
import zlib

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
        """Load parameters saved by ``save``.

        The file's zip directory is checked first (``read_npz``): its member
        names, each member's dtype and shape and its size, so a damaged,
        truncated, pickled or foreign file is a ``CheckpointError`` naming the
        problem, and nothing is read (or allocated) for a member that does not fit.
        """
        path = _npz_path(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{type(self).__name__}.load: no checkpoint file at '{path}'")
        shapes = {name: p.shape for name, p in self.named_parameters()}
        self.load_state_dict(read_npz(path, shapes, owner=f"{type(self).__name__}.load"))

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


class CheckpointError(ValueError):
    """A saved file that cannot be loaded: not an .npz, truncated, damaged, pickled, or holding other arrays."""


def read_npz(path, shapes: dict, owner: str = "read_npz", texts: dict | None = None,
             optional: tuple = (), ignore_others: bool = False) -> dict:
    """The arrays of an .npz file, checked against ``shapes`` from the zip directory before reading any.

    ``shapes`` maps each member name to its expected shape (None: any shape);
    names in ``optional`` may be absent, and with ``ignore_others`` members
    not named are skipped unread instead of refused.  ``texts`` maps names of plain text
    members (not arrays; returned as ``str``) to their largest allowed size in
    bytes.  Every member must be a NumPy array of booleans or numbers (an
    object array would need pickle, which is never used); its header's shape
    must be the expected one and the member's size must be exactly its header
    plus its data, so a damaged file cannot make this allocate more than the
    file holds.  Raises ``CheckpointError`` (a ValueError) naming ``owner``,
    the file and the problem; a missing file is a FileNotFoundError.
    """
    texts = texts or {}
    where = f"{owner}: {os.fspath(path)}"
    with open(path, "rb") as f:
        head = f.read(8)
    if not head.startswith(b"PK"):
        raise CheckpointError(f"{where} is not an .npz file ({_kind_of(head)})")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise CheckpointError(f"{where} is truncated or damaged: its zip directory cannot be read ({error})") from None
    with archive:
        members = {}
        for info in archive.infolist():
            if info.filename in texts:
                members[info.filename] = info
            elif info.filename.endswith(".npy"):
                members[info.filename[:-4]] = info
            else:
                members[info.filename] = info
        expected = set(shapes) | set(texts)
        missing = sorted(expected - set(members) - set(optional))
        unexpected = [] if ignore_others else sorted(set(members) - expected)
        members = {name: info for name, info in members.items() if name in expected}
        if missing or unexpected:
            problems = ([f"missing {', '.join(missing)}"] if missing else []) + \
                       ([f"unexpected {', '.join(unexpected)}"] if unexpected else [])
            raise CheckpointError(f"{where} does not hold the expected arrays: {'; '.join(problems)}")
        out = {}
        for name, info in members.items():
            try:
                if name in texts:
                    if info.file_size > texts[name]:
                        raise CheckpointError(f"{where}: member {name} is {info.file_size} bytes, "
                                              f"more than the {texts[name]} allowed")
                    out[name] = archive.read(info).decode("utf-8")
                else:
                    out[name] = _read_member(archive, info, name, shapes[name], where)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, UnicodeDecodeError) as error:
                raise CheckpointError(f"{where}: member {name} is damaged ({error})") from None
    return out


def _read_member(archive, info, name: str, shape, where: str) -> np.ndarray:
    """One .npy member: header checked against ``shape`` and the member's size, then its data."""
    fmt = np.lib.format
    with archive.open(info) as f:
        try:
            version = fmt.read_magic(f)
            read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            found, fortran, dtype = read_header(f)
        except ValueError as error:
            raise CheckpointError(f"{where}: member {name} is not a NumPy array ({error})") from None
        if dtype.hasobject:
            raise CheckpointError(f"{where}: member {name} holds Python objects (dtype {dtype}), which could "
                                  "only be loaded with pickle; minigrad never loads pickled data")
        if dtype.kind not in "biuf":
            raise CheckpointError(f"{where}: member {name} has dtype {dtype}; expected numbers")
        if shape is not None and tuple(found) != tuple(shape):
            raise CheckpointError(f"{where}: member {name} has shape {tuple(found)}, expected {tuple(shape)}")
        nbytes = int(np.prod(found, dtype=np.int64)) * dtype.itemsize
        if info.file_size != f.tell() + nbytes:
            raise CheckpointError(f"{where}: member {name} is {info.file_size} bytes, but its header "
                                  f"({dtype} {tuple(found)}) needs {f.tell() + nbytes}: the file is damaged")
        data = f.read(nbytes)
    if len(data) != nbytes:
        raise CheckpointError(f"{where}: member {name} is truncated")
    return np.frombuffer(data, dtype=dtype).reshape(found, order="F" if fortran else "C").copy()


def _kind_of(head: bytes) -> str:
    """What a file that is not a zip archive looks like, from its first bytes."""
    if not head:
        return "it is empty"
    if head.startswith(b"\x93NUMPY"):
        return "it is a single .npy array; save with np.savez or Module.save"
    if head[:1] == b"\x80":
        return "it looks like a Python pickle, which minigrad never loads"
    return f"it does not start with a zip signature: {head[:8]!r}"


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
