"""The files a training run writes: every write atomic, tables as CSV, curves as PNG, one checkpoint file.

An atomic write goes to a temporary file next to its target (named with the
writer's pid, so two writers never share one), is flushed to disk, renamed
over the target (``os.replace``), and the folder is flushed too (so the rename
itself survives a power cut): a reader sees the old file or the new one, never
a mix.  The checkpoint is one such file (``write_checkpoint``), so the weights,
the optimizer, the position and the random generators always belong together.
``RunLock`` keeps a second process out of a run folder.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
import zipfile
from pathlib import Path

import numpy as np

CHECKPOINT = "checkpoint.npz"
LOCK = "lock"


def _atomic(path, write_to) -> Path:
    """Call ``write_to(file)`` on a temporary file next to ``path``, then rename it over ``path``.

    If anything interrupts the write (an error, a second Ctrl-C), the
    temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write_to(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)
    return path


def fsync_folder(folder) -> None:
    """Flush a folder's entries (a rename inside it) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_checkpoint(path, arrays: dict, meta: dict) -> Path:
    """One file holding every array (a ``.npy`` member each, as np.savez writes them, never pickled) and
    ``meta.json``, written atomically: the unit a resume reads (``rnn.training.read_checkpoint``)."""
    def write_to(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, array in arrays.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
            archive.writestr("meta.json", json.dumps(meta, default=_plain))

    return _atomic(path, write_to)


def _plain(value):
    """JSON for NumPy scalars (a metric may be np.float64's sibling np.float32, a count np.int64)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


class LockedError(ValueError):
    """Another live process holds the run folder's lock."""


class RunLock:
    """An exclusive lock on a run folder: ``flock`` on FOLDER/lock, which holds the holder's pid.

    The operating system releases a flock when its process ends, however it
    ends (SIGKILL included), so a lock left by a dead process is free and the
    next run simply takes it over; a live holder makes ``acquire`` raise
    ``LockedError`` naming its pid.  Where ``fcntl`` does not exist (Windows),
    there is no lock.

        with RunLock(folder):
            ...  # only this process writes into folder
    """

    def __init__(self, folder):
        self.path = Path(folder) / LOCK
        self.fd = None

    def acquire(self) -> "RunLock":
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        for _ in range(20):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _holder(fd)
                os.close(fd)
                raise LockedError(f"{self.path.parent} is in use by process {holder} (it holds {self.path}); "
                                  "wait for it to finish or stop it first") from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:  # (else the holder removed the file between our open and our flock: try again)
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self.fd = fd
                return self
            os.close(fd)
        raise LockedError(f"{self.path.parent}: could not take the lock {self.path}")  # pragma: no cover

    def release(self) -> None:
        if self.fd is None:
            return
        self.path.unlink(missing_ok=True)  # while still holding it, so no one else's lock file is removed
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _holder(fd: int) -> str:
    """The pid written in a lock file (waiting a moment for a holder that has just taken it)."""
    deadline = time.monotonic() + 1.0
    while True:
        text = os.pread(fd, 64, 0).decode(errors="replace").strip()
        if text or time.monotonic() > deadline:
            return text or "(unknown pid)"
        time.sleep(0.02)


def write_text(path, text: str) -> Path:
    """Write a text file atomically."""
    return _atomic(path, lambda f: f.write(text.encode("utf-8")))


def write_json(path, data) -> Path:
    """Write JSON atomically (indented, for people to read)."""
    return write_text(path, json.dumps(data, indent=2) + "\n")


def write_npz(path, arrays: dict) -> Path:
    """Write arrays to an .npz file atomically (np.savez: no pickle)."""
    return _atomic(path, lambda f: np.savez(f, **arrays))


def write_csv(path, rows: list, columns: list) -> Path:
    """Write rows (dicts) as CSV with a header atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_text(path, buffer.getvalue())


def read_csv(path) -> list[dict]:
    """Rows of a CSV written by write_csv, numbers converted back to int or float."""
    with open(path, newline="") as f:
        return [{key: _number(value) for key, value in row.items()} for row in csv.DictReader(f)]


def _number(text: str):
    """'12' -> 12, '0.5' -> 0.5, anything else stays text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def plot_curves(path, curves: dict, metric_name: str, title: str, chance: float | None = None) -> Path:
    """Loss and metric against training step, one line per curve ({label: rows}), as a PNG.

    matplotlib is imported here, with the headless Agg backend, so the CLIs
    start fast and run without a display.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(11, 4))
    for label, rows in curves.items():
        steps = [r["step"] for r in rows]
        ax_loss.plot(steps, [r["loss"] for r in rows], label=label)
        ax_metric.plot(steps, [r["metric"] for r in rows], label=label)
    if chance is not None:
        ax_metric.axhline(chance, color="grey", linestyle=":", label="chance")
    ax_loss.set(xlabel="training step", ylabel="loss per target", title="training loss")
    ax_metric.set(xlabel="training step", ylabel=metric_name, title=f"held-out {metric_name}")
    ax_metric.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return _atomic(path, lambda f: f.write(buffer.getvalue()))


def format_bytes(n: int) -> str:
    """1234567 -> '1.2 MB' (decimal units)."""
    if n < 1000:
        return f"{n} B"
    exponent = min(int(math.log10(n)) // 3, 3)
    return f"{n / 1000 ** exponent:.1f} {('kB', 'MB', 'GB')[exponent - 1]}"


