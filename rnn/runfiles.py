"""The files a training run writes: every write atomic, tables as CSV, curves as PNG.

An atomic write goes to a temporary file next to its target, is flushed to
disk, then renamed over the target (``os.replace``), so an interrupted run
never leaves a half-written file: a reader sees the old file or the new one.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

import numpy as np


def _atomic(path, write_to) -> Path:
    """Call ``write_to(file)`` on a temporary file next to ``path``, then rename it over ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        write_to(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


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


