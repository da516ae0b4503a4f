"""The memory section: peak bytes held for backward under four BPTT strategies as T grows.

``rnn.run(model, xs, ys, strategy, loss="ce").peak_bytes`` is the most bytes
the tape's live nodes saved for backward at any update (plus, for
Checkpointed, the stored states).  Measured with the fused Elman cell in
float32 on one seeded character stream:

* Full: the whole sequence stays on the tape, so it grows like T;
* Chunked(50) and TBPTT(25, 50): the tape holds one window, so they must stay
  flat from T = 1,000 to 100,000;
* Checkpointed(round(sqrt T)): sqrt(T) stored states plus one segment's tape.
  Its square-root bound is computed from measurements: sqrt(T) times the bytes
  of one state, plus the peak of Full BPTT over one segment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

import rnn

from .configs import character_stream

STRATEGY_NAMES = ("Full", "Chunked(50)", "TBPTT(25, 50)", "Checkpointed(√T)")
#: Full BPTT's process memory is about this many times the bytes its tape saved (Python objects, temporaries)
FULL_OVERHEAD = 2.0


def make_strategy(name: str, T: int):
    """The rnn strategy a row of the table stands for, at sequence length T."""
    factories = {
        "Full": rnn.Full,
        "Chunked(50)": lambda: rnn.Chunked(50),
        "TBPTT(25, 50)": lambda: rnn.TBPTT(25, 50),
        "Checkpointed(√T)": lambda: rnn.Checkpointed(checkpoint_segment(T)),
    }
    return factories[name]()


def checkpoint_segment(T: int) -> int:
    """round(sqrt T): the segment that balances stored states against one segment's tape."""
    return max(1, round(math.sqrt(T)))


@dataclass(frozen=True)
class MemorySettings:
    """The sequence lengths and sizes of the memory table (batch 16, hidden 128 in the full run)."""

    Ts: tuple = (1_000, 10_000, 100_000)
    batch: int = 16
    hidden: int = 128
    vocab: int = 65
    max_T: int | None = None  # longer sequences are skipped (with a note)


@dataclass(frozen=True)
class MemoryRow:
    """One cell of the memory table: a strategy's peak bytes at one T, or why it was skipped."""

    strategy: str
    T: int
    peak_bytes: int | None  # None when skipped
    note: str = ""


@dataclass(frozen=True)
class SqrtBound:
    """Checkpointed's measured peak next to its square-root bound at one T."""

    T: int
    segment: int
    bound_bytes: float  # sqrt(T) * state bytes + Full's peak over one segment
    peak_bytes: int

    @property
    def ratio(self) -> float:
        """Measured peak / bound (1.0: exactly the bound)."""
        return self.peak_bytes / self.bound_bytes


@dataclass
class MemoryResult:
    """The whole memory section: every row and every square-root bound."""

    settings: MemorySettings
    rows: list = field(default_factory=list)
    bounds: list = field(default_factory=list)

    def peak(self, strategy: str, T: int) -> int | None:
        """The measured peak bytes of ``strategy`` at ``T`` (None if skipped or not run)."""
        return next((r.peak_bytes for r in self.rows if r.strategy == strategy and r.T == T), None)

    def flatness(self, strategy: str) -> tuple[float, int, int] | None:
        """(peak at the longest measured T / peak at the shortest, shortest T, longest T)."""
        measured = sorted((r.T, r.peak_bytes) for r in self.rows if r.strategy == strategy and r.peak_bytes)
        if len(measured) < 2:
            return None
        (T_low, low), (T_high, high) = measured[0], measured[-1]
        return high / low, T_low, T_high


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (None where there is no such file)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _skip_reason(result: MemoryResult, strategy: str, T: int) -> str:
    """Why (strategy, T) is not measured, or "" to measure it."""
    settings = result.settings
    if settings.max_T is not None and T > settings.max_T:
        return f"skipped: T > --max-T {settings.max_T:,}"
    if strategy == "Full":
        shorter = [r for r in result.rows if r.strategy == "Full" and r.peak_bytes]
        available = available_bytes()
        if shorter and available is not None:
            needed = FULL_OVERHEAD * shorter[-1].peak_bytes / shorter[-1].T * T
            if needed > available / 2:
                return f"skipped: needs ~{needed / 2**30:.1f} GiB, {available / 2**30:.1f} GiB available"
    return ""


def measure_memory(settings: MemorySettings, progress=iter, log=None) -> MemoryResult:
    """Run every strategy at every T (shortest first) and record peak_bytes and the sqrt bounds.

    ``progress`` wraps the list of runs (e.g. tqdm); ``log(message)``, if given, hears of each row.
    """
    model = rnn.ElmanRNN(settings.vocab, settings.hidden, settings.vocab, f="tanh", g="identity", seed=0,
                         fused=True, dtype=np.float32)
    xs, ys = character_stream(max(settings.Ts), settings.batch, settings.vocab, seed=0)
    result = MemoryResult(settings)
    runs = [(T, name) for T in sorted(settings.Ts) for name in STRATEGY_NAMES]
    for T, name in progress(runs):
        reason = _skip_reason(result, name, T)
        peak = None if reason else rnn.run(model, xs[:T], ys[:T], make_strategy(name, T), loss="ce").peak_bytes
        result.rows.append(MemoryRow(name, T, peak, reason))
        if log is not None:
            log(f"memory {name} at T = {T:,}: {reason or f'{peak:,} bytes'}")
        if name.startswith("Checkpointed") and peak is not None:
            segment = checkpoint_segment(T)
            one_segment = rnn.run(model, xs[:segment], ys[:segment], rnn.Full(), loss="ce").peak_bytes
            state_bytes = settings.batch * settings.hidden * np.dtype(np.float32).itemsize
            result.bounds.append(SqrtBound(T, segment, math.sqrt(T) * state_bytes + one_segment, peak))
    return result
