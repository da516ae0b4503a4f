"""Synthetic sequence tasks for studying backpropagation through time.

Every task here is generated from a seed (``np.random.default_rng(seed)``),
needs no download, and comes back as a :class:`Task`: a bundle of input and
target arrays laid out time-major, ``(T, batch, ...)``, the same layout the
recurrent cells consume one step at a time.

The tasks are chosen because each has a *known* dependency length: the number
of time steps between the input that carries some information and the step
where the target needs it. Truncated BPTT with a window of ``k`` steps sends
gradient from the loss at step ``t`` back to the inputs at steps
``t - k + 1 .. t`` only, so it needs ``k >= dependency + 1`` to learn the
long-range part of a task. ``Task.dependency`` records that number so an
experiment can put a truncation length next to it.

- :func:`echo`   -- repeat the symbol seen ``delay`` steps ago.
- :func:`adding` -- add the two marked numbers of a sequence, answer at the end.
- :func:`reber`  -- next-symbol prediction on embedded Reber grammar strings.
- :func:`sine`   -- one-step-ahead prediction of a noisy sum of sines.
- :class:`CharText` -- next-character prediction on any text.

Targets whose position has nothing to predict are marked so the losses skip
them: ``-1`` for class targets (loss ``"ce"``), ``NaN`` for real targets
(loss ``"mse"``).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minigrad import validate

REBER_SYMBOLS = "BTSXPVE"

# The standard Reber grammar as a state machine: state -> its two
# (symbol, next state) choices, each taken with probability 1/2. A string is
# "B", a walk from state 0 until state 5, then "E". The self-loops (S at 1,
# T at 2) and the cycle 3 -X-> 2 -V-> 4 -P-> 3 let strings grow arbitrarily long.
_REBER_GRAPH = {
    0: (("T", 1), ("P", 2)),
    1: (("S", 1), ("X", 3)),
    2: (("T", 2), ("V", 4)),
    3: (("X", 2), ("S", 5)),
    4: (("P", 3), ("V", 5)),
}
_REBER_END = 5
_SHORTEST_EMBEDDED_REBER = len("BTBTXSETE")


class TaskError(ValueError):
    """A task cannot be built from the data it was given (file, text, name)."""


@dataclass(frozen=True, eq=False)
class Task:
    """Inputs, targets and the metric of one sequence task.

    Attributes:
        name: short task name.
        xs: float64 inputs, shape (T, batch, n_in).
        ys: targets. For ``loss == "ce"``: int64 class indices, shape
            (T, batch), ``-1`` where there is no target. For ``loss == "mse"``:
            float64, shape (T, batch, n_out), ``NaN`` where there is no target.
        loss: ``"ce"`` (cross-entropy on logits) or ``"mse"``.
        n_in, n_out: input and output sizes.
        metric_name: ``"accuracy"`` or ``"mse"``.
        metric_mask: bool, shape (T, batch): the positions the task metric is
            computed on -- the ones that test the task's point, e.g. the
            long-range symbol of the embedded Reber grammar.
        dependency: steps between the input holding the needed information
            and the step that needs it (largest over the batch), or ``None``
            when the task has no single long-range dependency.
    """

    name: str
    xs: np.ndarray
    ys: np.ndarray
    loss: str
    n_in: int
    n_out: int
    metric_name: str
    metric_mask: np.ndarray
    dependency: int | None

    def metric(self, y_hat) -> float:
        """The task metric of predictions ``y_hat`` (T, batch, n_out) over ``metric_mask``.

        accuracy: fraction of masked positions where ``argmax(y_hat)`` equals
        the target (``y_hat`` are logits). mse: mean squared error over the
        masked, non-NaN target entries.
        """
        y_hat = np.asarray(y_hat, dtype=np.float64)
        expected = self.xs.shape[:2] + (self.n_out,)
        if y_hat.shape != expected:
            raise ValueError(f"y_hat must have shape {expected}, got {y_hat.shape}")
        if not self.metric_mask.any():
            raise ValueError(f"metric_mask of task {self.name!r} selects no positions")
        if self.metric_name == "accuracy":
            hits = y_hat.argmax(axis=-1) == self.ys
            return float(hits[self.metric_mask].mean())
        targets = self.ys[self.metric_mask]
        keep = ~np.isnan(targets)
        return float(np.mean((y_hat[self.metric_mask][keep] - targets[keep]) ** 2))


def _check_positive(**sizes) -> None:
    for arg, value in sizes.items():
        validate.positive_int(arg, value)


def _one_hot(indices: np.ndarray, n: int) -> np.ndarray:
    return np.eye(n, dtype=np.float64)[indices]


def echo(T: int, delay: int, n_symbols: int = 4, *, batch: int = 1, seed: int = 0) -> Task:
    """Echo: output the symbol that was input ``delay`` steps ago.

    Inputs are symbols drawn uniformly from ``n_symbols``, one-hot encoded.
    The target at step ``t >= delay`` is the input at ``t - delay``; the
    first ``delay`` steps have no target (``-1``). The symbols are independent,
    so nothing but memory of the input ``delay`` steps back beats chance
    accuracy ``1 / n_symbols``: ``dependency = delay``.
    """
    _check_positive(T=T, n_symbols=n_symbols, batch=batch)
    if not 0 <= delay < T:
        raise ValueError(f"delay must satisfy 0 <= delay < T={T}, got delay={delay}")
    if n_symbols < 2:
        raise ValueError(f"n_symbols must be at least 2, got n_symbols={n_symbols}")
    rng = np.random.default_rng(seed)
    symbols = rng.integers(n_symbols, size=(T, batch))
    ys = np.full((T, batch), -1, dtype=np.int64)
    ys[delay:] = symbols[: T - delay]
    return Task(
        name="echo", xs=_one_hot(symbols, n_symbols), ys=ys, loss="ce",
        n_in=n_symbols, n_out=n_symbols, metric_name="accuracy",
        metric_mask=ys >= 0, dependency=delay,
    )


def adding(T: int, *, batch: int = 1, seed: int = 0) -> Task:
    """The adding problem (Hochreiter & Schmidhuber, 1997).

    Input channel 0 holds numbers uniform in [0, 1]; channel 1 is a marker
    that is 1 at exactly two steps, one uniform in the first half
    (``t < T // 2``) and one uniform in the second half. The only target is at
    the last step: the sum of the two marked numbers (loss and metric: mse).

    The first marked number must be carried from its step ``p1`` to the end,
    so ``dependency = T - 1 - p1`` (largest over the batch). Predicting the
    constant 1.0, the mean of the sum, scores mse = Var(u1 + u2) = 2/12 = 1/6;
    a model has learned the task only once it does clearly better than that.
    """
    _check_positive(T=T, batch=batch)
    if T < 2:
        raise ValueError(f"T must be at least 2 (two marked steps), got T={T}")
    rng = np.random.default_rng(seed)
    values = rng.random((T, batch))
    first = rng.integers(0, T // 2, size=batch)
    second = rng.integers(T // 2, T, size=batch)
    columns = np.arange(batch)
    markers = np.zeros((T, batch))
    markers[first, columns] = 1.0
    markers[second, columns] = 1.0
    ys = np.full((T, batch, 1), np.nan)
    ys[-1, :, 0] = values[first, columns] + values[second, columns]
    mask = np.zeros((T, batch), dtype=bool)
    mask[-1] = True
    return Task(
        name="adding", xs=np.stack([values, markers], axis=-1), ys=ys, loss="mse",
        n_in=2, n_out=1, metric_name="mse", metric_mask=mask,
        dependency=int(T - 1 - first.min()),
    )


def reber_string(rng: np.random.Generator, embedded: bool = True) -> str:
    """Draw one string of the (embedded) Reber grammar.

    Plain: ``B``, a random walk through the grammar graph, ``E``
    (e.g. ``"BTSSXXTVVE"``). Embedded: ``B``, then ``T`` or ``P``, a plain
    Reber string, the *same* ``T`` or ``P`` again, ``E``
    (e.g. ``"BPBTXSEPE"``).
    """
    symbols, state = ["B"], 0
    while state != _REBER_END:
        symbol, state = _REBER_GRAPH[state][rng.integers(2)]
        symbols.append(symbol)
    inner = "".join(symbols) + "E"
    if not embedded:
        return inner
    branch = "TP"[rng.integers(2)]
    return f"B{branch}{inner}{branch}E"


def is_reber(s: str, embedded: bool = True) -> bool:
    """Whether ``s`` is a string of the (embedded) Reber grammar."""
    if embedded:
        return (len(s) >= 4 and s[0] == "B" and s[1] in "TP" and s[-2] == s[1]
                and s[-1] == "E" and is_reber(s[2:-2], embedded=False))
    if len(s) < 2 or s[0] != "B" or s[-1] != "E":
        return False
    state = 0
    for symbol in s[1:-1]:
        choices = dict(_REBER_GRAPH.get(state, ()))
        if symbol not in choices:
            return False
        state = choices[symbol]
    return state == _REBER_END


def _reber_stream(rng: np.random.Generator, T: int, embedded: bool):
    """A stream of T symbols of concatenated strings, and the (start, length) of each."""
    text, spans = "", []
    while len(text) < T:
        s = reber_string(rng, embedded)
        spans.append((len(text), len(s)))
        text += s
    return text[:T], spans


def reber(T: int, embedded: bool = True, *, batch: int = 1, seed: int = 0) -> Task:
    """Next-symbol prediction on a stream of concatenated Reber strings.

    Each batch column is a stream of strings drawn by :func:`reber_string`,
    one after another, cut to ``T`` symbols, one-hot over ``REBER_SYMBOLS``.
    The target at step ``t`` is the symbol at ``t + 1`` (cross-entropy); the
    last step has no target. Most next symbols are a coin flip between the
    two grammar choices, so overall accuracy cannot reach 1.

    Why it is long-range (``embedded=True``): in ``B T <reber> T E`` the
    second-to-last symbol must repeat the second one, across the whole inner
    string. ``metric_mask`` marks the steps whose target is that symbol, and
    accuracy there is the long-range metric (chance: 1/2 between T and P).
    ``dependency`` is the longest distance from the remembered symbol (string
    position 1) to the step predicting its repeat (position ``len - 3``).

    With ``embedded=False`` there is no long-range symbol: ``metric_mask``
    marks the steps whose target is a string's final ``E``, which is
    predictable from the grammar state alone, and ``dependency`` is None.
    """
    _check_positive(T=T, batch=batch)
    if T < _SHORTEST_EMBEDDED_REBER:
        raise ValueError(f"T must be at least {_SHORTEST_EMBEDDED_REBER} "
                         f"(the shortest embedded Reber string), got T={T}")
    rng = np.random.default_rng(seed)
    symbols = np.empty((T, batch), dtype=np.int64)
    mask = np.zeros((T, batch), dtype=bool)
    lags = []
    for column in range(batch):
        stream, spans = _reber_stream(rng, T, embedded)
        symbols[:, column] = [REBER_SYMBOLS.index(c) for c in stream]
        for start, length in spans:
            target_step = start + length - (3 if embedded else 2)
            if target_step + 1 < T:
                mask[target_step, column] = True
                lags.append(target_step - (start + 1))
    ys = np.full((T, batch), -1, dtype=np.int64)
    ys[:-1] = symbols[1:]
    return Task(
        name="reber" if embedded else "reber-plain",
        xs=_one_hot(symbols, len(REBER_SYMBOLS)), ys=ys, loss="ce",
        n_in=len(REBER_SYMBOLS), n_out=len(REBER_SYMBOLS), metric_name="accuracy",
        metric_mask=mask, dependency=max(lags) if embedded and lags else None,
    )


def sine(T: int, n_waves: int = 3, noise: float = 0.05, *, batch: int = 1, seed: int = 0) -> Task:
    """One-step-ahead prediction of a noisy sum of sine waves.

    Each batch column has its own clean signal
    ``s(t) = sum_k sin(w_k t + phi_k) / n_waves`` with angular frequencies
    ``w_k`` uniform in [0.1, 1.0] rad/step and phases uniform in [0, 2 pi).
    The input is ``s(t)`` plus Gaussian noise of standard deviation
    ``noise``; the target is the clean ``s(t + 1)`` (the last step has none).

    There is no single long-range dependency (``dependency`` is None): the
    model has to infer frequencies and phases from a window of past inputs,
    and averaging over more steps cancels more of the noise.
    """
    _check_positive(T=T, n_waves=n_waves, batch=batch)
    if T < 2:
        raise ValueError(f"T must be at least 2 (one input, one next value), got T={T}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got noise={noise}")
    rng = np.random.default_rng(seed)
    freqs = rng.uniform(0.1, 1.0, size=(batch, n_waves))
    phases = rng.uniform(0.0, 2 * np.pi, size=(batch, n_waves))
    t = np.arange(T, dtype=np.float64)[:, None, None]
    clean = np.sin(freqs * t + phases).sum(axis=-1) / n_waves          # (T, batch)
    xs = (clean + noise * rng.standard_normal((T, batch)))[..., None]
    ys = np.full((T, batch, 1), np.nan)
    ys[:-1, :, 0] = clean[1:]
    mask = np.ones((T, batch), dtype=bool)
    mask[-1] = False
    return Task(
        name="sine", xs=xs, ys=ys, loss="mse", n_in=1, n_out=1,
        metric_name="mse", metric_mask=mask, dependency=None,
    )


_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def _decode_utf8(data: bytes, name: str) -> str:
    """Decode UTF-8, replacing invalid bytes and warning how many there were."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # surrogateescape maps each invalid byte to one lone surrogate, which
    # valid UTF-8 never decodes to: count them and locate the first one.
    escaped = data.decode("utf-8", errors="surrogateescape")
    n_bad = len(_ESCAPED_BYTE.findall(escaped))
    first = _ESCAPED_BYTE.search(escaped).start()
    offset = len(escaped[:first].encode("utf-8", errors="surrogateescape"))
    warnings.warn(f"{name}: {n_bad} invalid UTF-8 byte(s), first at byte offset {offset}; "
                  "replaced with U+FFFD", UnicodeWarning, stacklevel=3)
    return data.decode("utf-8", errors="replace")


class CharText:
    """A text for next-character prediction, with its character vocabulary.

    ``vocab`` is the sorted list of distinct characters; ``char_to_index``
    maps each to its position; :meth:`encode` / :meth:`decode` convert
    between strings and index arrays.
    """

    def __init__(self, text: str, name: str = "text"):
        if not text:
            raise TaskError(f"{name}: text is empty")
        self.name = name
        self.text = text
        self.vocab = sorted(set(text))
        self.char_to_index = {c: i for i, c in enumerate(self.vocab)}
        self._encoded = self.encode(text)

    @classmethod
    def from_string(cls, text: str, name: str = "text") -> CharText:
        """Build from a string already in memory."""
        return cls(text, name)

    @classmethod
    def from_file(cls, path) -> CharText:
        """Read a UTF-8 text file.

        Raises TaskError for a missing file, a directory, an empty file, or a
        binary file (one containing NUL bytes). Invalid UTF-8 in an otherwise
        textual file is replaced by U+FFFD with a UnicodeWarning.
        """
        path = Path(path)
        if not path.exists():
            raise TaskError(f"{path}: no such file")
        if path.is_dir():
            raise TaskError(f"{path}: is a directory, not a text file")
        data = path.read_bytes()
        if not data:
            raise TaskError(f"{path}: file is empty")
        if b"\0" in data:
            raise TaskError(f"{path}: binary file (NUL byte at offset {data.index(0)})")
        return cls(_decode_utf8(data, str(path)), name=path.name)

    def encode(self, s: str) -> np.ndarray:
        """The int64 vocabulary indices of the characters of ``s``."""
        unknown = set(s) - self.char_to_index.keys()
        if unknown:
            raise TaskError(f"characters not in the vocabulary: {''.join(sorted(unknown))!r}")
        return np.array([self.char_to_index[c] for c in s], dtype=np.int64)

    def decode(self, indices) -> str:
        """The string spelled by vocabulary ``indices``."""
        return "".join(self.vocab[i] for i in np.asarray(indices, dtype=np.int64).ravel())

    def task(self, T: int, batch: int = 1, offset: int = 0) -> Task:
        """A chunk of ``T`` steps of next-character prediction over ``batch`` streams.

        The text is cut into ``batch`` contiguous streams of
        ``n = len(text) // batch`` characters each (the leftover tail is
        dropped), one stream per batch column -- the layout of CMU needle's
        ``batchify``. For ``"abcdefghijklmnopqrstuvwxyz"`` and ``batch=4``,
        ``n = 6`` and ``yz`` is dropped::

            step   col0 col1 col2 col3
              0     a    g    m    s
              1     b    h    n    t
              2     c    i    o    u
              3     d    j    p    v
              4     e    k    q    w
              5     f    l    r    x

        ``xs`` is rows ``offset .. offset+T-1`` one-hot encoded and ``ys`` the
        rows one step later: ``task(2, batch=4)`` reads ``ab gh mn st`` and
        predicts ``bc hi no tu``; ``task(2, batch=4, offset=2)`` is the next
        chunk, continuing each column where the last one stopped.

        Whether the hidden state is carried from one chunk to the next (the
        columns do continue) or reset is the training loop's explicit choice,
        not the data's. ``metric_mask`` is all steps; ``dependency`` is None.
        """
        _check_positive(T=T, batch=batch)
        if offset < 0:
            raise ValueError(f"offset must be >= 0, got offset={offset}")
        n = len(self.text) // batch
        if offset + T + 1 > n:
            raise TaskError(
                f"{self.name}: text too short: {len(self.text)} chars / batch {batch} = "
                f"{n} per stream, need offset + T + 1 = {offset + T + 1}")
        streams = self._encoded[: n * batch].reshape(batch, n).T     # (n, batch)
        V = len(self.vocab)
        return Task(
            name=self.name, xs=_one_hot(streams[offset:offset + T], V),
            ys=streams[offset + 1:offset + T + 1].copy(), loss="ce", n_in=V, n_out=V,
            metric_name="accuracy", metric_mask=np.ones((T, batch), dtype=bool),
            dependency=None,
        )


TASKS = {"echo": echo, "adding": adding, "reber": reber, "sine": sine}


def make_task(name: str, **kwargs) -> Task:
    """Build the registered task ``name`` with the generator's keyword arguments."""
    if name not in TASKS:
        raise TaskError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name](**kwargs)
