"""What runs next to the student's code: data in and out, the engine's answers switched off, and errors.

This file travels three ways: into the grader's worker (where a submission is
graded, in its own process), into every released assignment folder (as
``harness.py``, used by its ``conftest.py`` when a student runs ``pytest``), and
into the grader's test runner.  It depends on NumPy and the standard library
only, and never on the engine: switched-off engine functions are named by
strings ("minigrad.ops.base:unbroadcast") and looked up where they live.

Data.  A test hands the student's code *data* and gets data back: None, bools,
numbers, strings, lists, tuples, dicts, NumPy arrays and NumPy scalars (of
booleans, integers, floats or complex numbers).  ``encode`` turns such a value
into JSON-ready objects (an array becomes its dtype, shape and raw bytes in
base64), ``decode`` turns them back, checking every piece; nothing is ever
pickled, so a hostile worker can at worst send wrong data.

Switched off.  While a task is graded, the engine's own implementation of
what that task asks for is replaced by a function that raises
``SwitchedOff`` (see ``switch_off``): delegating to the engine scores nothing.
``substitute`` does the opposite for another task's function: the student's
``unbroadcast`` becomes the engine's while task 1.2 is graded, so that each
task is graded on its own.

Errors.  ``StudentError`` carries an exception raised in (or through) the
student's code as data: its type, message and the student's own frames;
``describe_error`` writes the one-line summary and the student's lines that a
report shows.
"""

from __future__ import annotations

import base64
import importlib
import json
import math
import sys
import traceback
from pathlib import Path

import numpy as np

MESSAGE_LIMIT = 2000  # characters of an exception message that a report keeps
FRAME_LIMIT = 12  # of the student's frames
CODE_LIMIT = 200  # characters of one source line of a frame
MAX_DEPTH = 64  # nesting of lists, tuples and dicts in one value
ARRAY_KINDS = "biufc"  # booleans, signed and unsigned integers, floats, complex numbers


class DataError(ValueError):
    """A value cannot cross between the grader and the student's code (not data, or malformed)."""


class SwitchedOff(RuntimeError):
    """The student's code called an engine function that is switched off for the task being graded."""


class StudentError(Exception):
    """An exception raised by the student's code (or by a probe on what it returned), as data.

    ``kind`` is the exception's type name, ``message`` its text (cut to
    MESSAGE_LIMIT characters) and ``frames`` a list of (line, function, code)
    of the student's file, innermost last; ``filename`` is that file's name.
    """

    def __init__(self, kind: str, message: str, frames=(), filename: str = ""):
        super().__init__(f"{kind}: {message}")
        self.kind = _cut(str(kind), 100)
        self.message = _cut(str(message), MESSAGE_LIMIT)
        self.frames = [(int(line), _cut(str(name), 100), _cut(str(code), CODE_LIMIT))
                       for line, name, code in list(frames)[-FRAME_LIMIT:]]
        self.filename = _cut(str(filename), 100)

    def as_data(self) -> dict:
        return {"kind": self.kind, "message": self.message, "frames": [list(f) for f in self.frames],
                "filename": self.filename}

    @classmethod
    def from_data(cls, data) -> "StudentError":
        """The StudentError described by ``data`` (from ``as_data``); DataError if it is malformed."""
        try:
            frames = [(int(line), str(name), str(code)) for line, name, code in data["frames"][-FRAME_LIMIT:]]
            return cls(str(data["kind"]), str(data["message"]), frames, str(data.get("filename", "")))
        except (KeyError, TypeError, ValueError) as error:
            raise DataError(f"a malformed error report ({error})") from None

    @classmethod
    def from_exception(cls, error: BaseException, student_file) -> "StudentError":
        """The exception ``error`` with the frames of its traceback that are in ``student_file``."""
        path = Path(student_file)
        frames = [(f.lineno, f.name, (f.line or "").strip())
                  for f in traceback.extract_tb(error.__traceback__) if _same_file(f.filename, path)]
        if isinstance(error, SyntaxError) and error.filename and _same_file(error.filename, path):
            frames.append((error.lineno or 0, "<module>", (error.text or "").strip()))
        try:
            message = str(error.msg) if isinstance(error, SyntaxError) else str(error)
        except Exception:  # noqa: BLE001 - a hostile __str__ must not stop the report
            message = "(the exception's message could not be turned into text)"
        return cls(type(error).__name__, message, frames, path.name)

    def describe(self) -> str:
        return describe_error(self.kind, self.message, self.frames, self.filename)


def describe_error(kind: str, message: str, frames, filename: str) -> str:
    """'Kind: first line  (file.py:LINE)', then the student's frames, then the full message if it has more lines."""
    message = message.strip()
    first = message.splitlines()[0] if message else ""
    where = f"  ({filename}:{frames[-1][0]})" if frames else ""
    lines = [f"{kind}: {first}{where}" if first else f"{kind}{where}"]
    if frames:
        lines.append(f"Traceback in {filename} (most recent call last):")
        for line, name, code in frames:
            lines.append(f"  line {line}, in {name}")
            if code:
                lines.append(f"    {code}")
    if "\n" in message:
        lines.append(f"{kind}: {message}")
    return "\n".join(lines)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more characters cut)"


def _same_file(filename: str, path: Path) -> bool:
    try:
        return Path(filename).resolve() == path.resolve()
    except (OSError, ValueError):
        return False


# -- data ------------------------------------------------------------------------------------------

def encode(value, _depth: int = 0):
    """``value`` as JSON-ready objects (see the module docstring); DataError if it is not data."""
    if _depth > MAX_DEPTH:
        raise DataError(f"values nest deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, complex):
        return {"__complex__": [encode(value.real), encode(value.imag)]}
    if isinstance(value, np.ndarray):
        return {"__ndarray__": _array_parts(value)}
    if isinstance(value, np.generic):
        return {"__scalar__": _array_parts(np.asarray(value))}
    if isinstance(value, list):
        return [encode(v, _depth + 1) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, _depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"__dict__": [[encode(k, _depth + 1), encode(v, _depth + 1)] for k, v in value.items()]}
    raise DataError(
        f"a {type(value).__module__}.{type(value).__qualname__} cannot be passed between the tests and your code: "
        "use NumPy arrays, numbers, strings, lists, tuples and dicts"
    )


def _array_parts(array: np.ndarray) -> list:
    if array.dtype.kind not in ARRAY_KINDS or array.dtype.fields is not None:
        raise DataError(f"an array of dtype {array.dtype} cannot be passed: use arrays of numbers or booleans")
    return [array.dtype.str, list(array.shape), base64.b64encode(array.tobytes(order="C")).decode("ascii")]


def decode(obj, _depth: int = 0):
    """The value that ``encode`` turned into ``obj``; DataError for anything it could not have written."""
    if _depth > MAX_DEPTH:
        raise DataError(f"values nest deeper than {MAX_DEPTH} levels")
    if obj is None or isinstance(obj, (bool, str, int, float)):
        return obj
    if isinstance(obj, list):
        return [decode(v, _depth + 1) for v in obj]
    if isinstance(obj, dict) and len(obj) == 1:
        (tag, body), = obj.items()
        if tag == "__ndarray__":
            return _array_from(body)
        if tag == "__scalar__":
            array = _array_from(body)
            if array.shape != ():
                raise DataError("a scalar with a shape")
            return array[()]
        if tag == "__tuple__" and isinstance(body, list):
            return tuple(decode(v, _depth + 1) for v in body)
        if tag == "__dict__" and isinstance(body, list):
            out = {}
            for pair in body:
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise DataError("a malformed dict entry")
                key = decode(pair[0], _depth + 1)
                try:
                    out[key] = decode(pair[1], _depth + 1)
                except TypeError:
                    raise DataError(f"a dict key of type {type(key).__name__} cannot be hashed") from None
            return out
        if tag == "__float__" and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag == "__complex__" and isinstance(body, list) and len(body) == 2:
            real, imag = (decode(v, _depth + 1) for v in body)
            if isinstance(real, float) and isinstance(imag, float):
                return complex(real, imag)
    raise DataError(f"not a value the harness writes: {_cut(repr(obj), 80)}")


def _array_from(body) -> np.ndarray:
    if not (isinstance(body, list) and len(body) == 3 and isinstance(body[0], str) and isinstance(body[1], list)
            and isinstance(body[2], str)):
        raise DataError("a malformed array")
    dtype_text, shape, data = body
    try:
        dtype = np.dtype(dtype_text)
    except TypeError:
        raise DataError(f"an unknown dtype {dtype_text!r}") from None
    if dtype.kind not in ARRAY_KINDS or dtype.fields is not None or dtype.itemsize > 32:
        raise DataError(f"an array of dtype {dtype} is not accepted")
    if len(shape) > 32 or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise DataError(f"a malformed array shape {shape}")
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise DataError("an array whose bytes are not base64") from None
    if len(raw) != math.prod(shape) * dtype.itemsize:
        raise DataError(f"an array of shape {tuple(shape)} and dtype {dtype} with {len(raw)} bytes")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def dumps(message: dict) -> str:
    """One message as one line of JSON (NaN and infinities are already tagged by ``encode``)."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False)


def loads(line) -> dict:
    """The message on one line; DataError if it is not a JSON object."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError) as error:
        raise DataError(f"a message that is not JSON ({_cut(str(error), 100)})") from None
    if not isinstance(message, dict):
        raise DataError("a message that is not a JSON object")
    return message


def roundtrip(value):
    """``value`` sent across and back, as the grader's worker would see it: copies, and a DataError for non-data."""
    return decode(json.loads(dumps({"v": encode(value)}))["v"])


# -- the engine's answers, switched off ------------------------------------------------------------

def resolve(target: str):
    """The object named by 'package.module:Name.attr' (importing the module), and (owner, attribute)."""
    module_name, _, qualname = target.partition(":")
    owner = importlib.import_module(module_name)
    parts = qualname.split(".")
    for part in parts[:-1]:
        owner = getattr(owner, part)
    return getattr(owner, parts[-1]), owner, parts[-1]


def switch_off(targets, task: str, scope=("minigrad", "rnn")) -> "Undo":
    """Replace each target by a function that raises SwitchedOff; return how to undo it.

    A target is 'package.module:Name.attr' (see ``resolve``), or a pair
    (target, 'module:factory') where ``factory(original, task)`` makes the
    replacement (a guard rather than a plain refusal).  A method is replaced
    on the class named (even where it is inherited); a module-level function
    or kernel is replaced in every loaded module of ``scope`` (and in
    ``probes``) that holds it, so that ``from minigrad.ops import unbroadcast``
    after this finds the replacement too.  A target that no longer exists (the
    engine was refactored) is skipped: the grader's own tests check that each
    one resolves.
    """
    undo = Undo()
    for entry in targets:
        target, factory = (entry, None) if isinstance(entry, str) else entry
        try:
            original, owner, name = resolve(target)
        except (ImportError, AttributeError, ValueError):
            continue
        stub = _stub(target, task) if factory is None else resolve(factory)[0](original, task)
        if isinstance(owner, type):
            raw = next((k.__dict__[name] for k in owner.__mro__ if name in k.__dict__), original)
            if isinstance(raw, staticmethod):
                replacement = staticmethod(stub)
            elif isinstance(raw, classmethod):
                replacement = classmethod(lambda cls, *a, _stub=stub, **k: _stub(*a, **k))
            else:
                replacement = stub
            undo.set(owner, name, replacement)
            continue
        for module in list(sys.modules.values()):
            module_name = getattr(module, "__name__", "") or ""
            if not (module_name.split(".")[0] in scope or module_name == "probes"):
                continue
            namespace = getattr(module, "__dict__", {})
            for key, value in list(namespace.items()):
                if value is original:
                    undo.set(module, key, stub)
    return undo


def _stub(target: str, task: str):
    label = target.replace(":", ".")

    def switched_off(*args, **kwargs):
        raise SwitchedOff(
            f"{label} is the engine's own answer to {task}, so it is switched off while {task} is graded: "
            "write it yourself (your README says what you may use)"
        )

    switched_off.__qualname__ = switched_off.__name__ = f"switched_off[{label}]"
    return switched_off


def substitute(module, replacements: dict) -> "Undo":
    """Set ``module.<name>`` to each replacement (an object, or a 'module:Name' target); return how to undo it."""
    undo = Undo()
    for name, replacement in replacements.items():
        value = resolve(replacement)[0] if isinstance(replacement, str) else replacement
        undo.set(module, name, value)
    return undo


class Undo:
    """Attribute assignments that can be reverted, newest first."""

    _missing = object()

    def __init__(self):
        self._done = []

    def set(self, owner, name, value) -> None:
        self._done.append((owner, name, owner.__dict__.get(name, self._missing) if isinstance(owner, type)
                           else getattr(owner, name, self._missing)))
        setattr(owner, name, value)

    def __call__(self) -> None:
        while self._done:
            owner, name, old = self._done.pop()
            if old is self._missing:
                delattr(owner, name)
            else:
                setattr(owner, name, old)


class EngineBlocker:
    """An import hook that refuses the engine (an assignment in plain NumPy): ``import minigrad`` fails with a reason."""

    def __init__(self, names=("minigrad", "rnn"), reason="this assignment is written in plain NumPy"):
        self.names, self.reason = tuple(names), reason

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.names:
            raise ImportError(f"{fullname} is not available here: {self.reason} (see your README)")
        return None


def load_student(path, name: str):
    """Import the student's file at ``path`` as module ``name`` (a fresh module object, registered in sys.modules)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
