"""What ``rnn.train``, ``rnn.compare`` and ``rnn.demo`` share: from flags to a trained model.

The pieces, in the order a run uses them:

1. ``add_arguments`` / ``config_from_args``: the flags, as a plain dict
   (the ``config.json`` of a run folder).
2. ``build``: task source, model, strategy and optimizer from a config.
   Every user mistake raises :class:`UsageError` *here*, before any file is
   written, so a bad command leaves nothing behind.
3. ``train``: the training loop over the task stream, ``evaluate``: the
   task metric on a held-out draw.
4. ``write_text`` / ``write_npz`` / ``write_csv`` / ``plot_curves``: atomic
   writes (a temporary file, then ``os.replace``), so an interrupted run never
   leaves a half-written file.

How the stream is cut (``--steps`` time steps, in pieces of ``--seq-len``)::

    steps:   |----- piece 0 -----|----- piece 1 -----| ... |-- piece n-1 --|
             ^ h0 = initial state ^ synthetic tasks: a fresh draw, state reset
                                  ^ text: the next chunk, state carried over

Inside each piece ``rnn.fit`` runs the strategy: Full makes one update per
piece, Chunked(k) one every k steps, and so on.  So every strategy sees
exactly the same data; they differ only in where gradient flows and when the
weights change.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import minigrad as mg

from . import tasks
from .bptt import fit
from .cells import GRU, LSTM, ElmanRNN, LinearRNN
from .truncation import ARTBP, TBPTT, Checkpointed, Chunked, Full, Randomized

TASKS = ("echo", "adding", "reber", "sine", "text")
CELLS = {"elman": ElmanRNN, "linear": LinearRNN, "lstm": LSTM, "gru": GRU}
OPTIMIZERS = {"sgd": mg.optim.SGD, "adam": mg.optim.Adam, "adagrad": mg.optim.Adagrad}
STRATEGIES = {
    "full": "full BPTT: one update per piece, gradient back to its first step",
    "chunked": "chunked truncation: update every --k steps, state carried, gradient cut at chunk edges",
    "tbptt": "TBPTT(k1, k2): update every --k1 steps, backpropagating --k2 steps (overlapping windows)",
    "randomized": "randomized truncation: keep each recurrent edge with prob. --p, scaled by 1/p (unbiased)",
    "artbp": "ARTBP: cut after each step with prob. --c, reweight kept edges by 1/(1-c) (unbiased)",
    "checkpointed": "checkpointed BPTT: the full gradient, storing only every --segment-th state",
}
DEFAULT_STEPS = 6000
EVAL_BATCH = 64
LOG_POINTS = 50  # about this many rows in metrics.csv


class UsageError(Exception):
    """A bad command line: the CLIs print its one-line message and exit with code 2."""


# -- flags -------------------------------------------------------------------------
def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(text)
    return value


def add_arguments(parser) -> None:
    """The task, model, optimizer and training flags that train and compare share."""
    g = parser.add_argument_group("task")
    g.add_argument("--task", default="echo", help=f"the sequence task: {', '.join(TASKS)} (default: echo)")
    g.add_argument("--file", help="the UTF-8 text file for --task text (vocabulary built from it)")
    g.add_argument("--delay", type=int, default=8,
                   help="echo: output the symbol seen this many steps ago (the dependency length; default 8)")
    g.add_argument("--seq-len", "--T", dest="seq_len", type=positive_int, default=50,
                   help="length of each training piece; synthetic tasks draw fresh sequences of this length, "
                        "text is read in consecutive chunks of it (default 50)")
    g.add_argument("--batch", type=positive_int, default=32, help="sequences trained side by side (default 32)")
    g = parser.add_argument_group("model")
    g.add_argument("--cell", default="elman", help=f"recurrent cell: {', '.join(CELLS)} (default: elman)")
    g.add_argument("--hidden", type=positive_int, default=32, help="hidden state size (default 32)")
    g = parser.add_argument_group("truncation parameters (see --strategy)")
    g.add_argument("--k", type=positive_int, default=10, help="chunked: chunk length (default 10)")
    g.add_argument("--k1", type=positive_int, default=5, help="tbptt: steps between updates (default 5)")
    g.add_argument("--k2", type=positive_int, default=20, help="tbptt: steps backpropagated, >= k1 (default 20)")
    g.add_argument("--p", type=float, default=0.5, help="randomized: keep probability in (0, 1] (default 0.5)")
    g.add_argument("--c", type=float, default=0.1, help="artbp: truncation probability in (0, 1) (default 0.1)")
    g.add_argument("--segment", type=positive_int, default=10,
                   help="checkpointed: steps between stored states (default 10)")
    g = parser.add_argument_group("optimization")
    g.add_argument("--steps", type=positive_int, default=None,
                   help=f"time steps to train on, in whole pieces of --seq-len (default {DEFAULT_STEPS})")
    g.add_argument("--optimizer", default="adam", help=f"{', '.join(OPTIMIZERS)} (default: adam)")
    g.add_argument("--lr", type=positive_float, default=0.01, help="learning rate (default 0.01)")
    g.add_argument("--clip", type=positive_float, default=None,
                   help="clip each update's gradient to this L2 norm (default: no clipping)")
    g.add_argument("--seed", type=int, default=0, help="seed of the weights, the data and random strategies")


def strategy_help() -> str:
    """One line per strategy, for --help."""
    return "strategies:\n" + "\n".join(f"  {name:<13} {text}" for name, text in STRATEGIES.items())


CONFIG_KEYS = ("task", "file", "delay", "seq_len", "batch", "cell", "hidden", "strategy", "k", "k1", "k2",
               "p", "c", "segment", "steps", "optimizer", "lr", "clip", "seed")


def config_from_args(args) -> dict:
    """The parsed flags as the plain dict saved in config.json."""
    return {key: getattr(args, key) for key in CONFIG_KEYS}


def parse_strategy_spec(spec: str) -> dict:
    """``"tbptt:4,16"`` -> ``{"strategy": "tbptt", "k1": 4, "k2": 16}`` (the notation of rnn.compare).

    full, checkpointed:S, chunked:K, tbptt:K1,K2, randomized:P, artbp[:C].
    """
    name, _, rest = spec.partition(":")
    values = rest.split(",") if rest else []
    shapes = {"full": ([], []), "chunked": (["k"], [int]), "tbptt": (["k1", "k2"], [int, int]),
              "randomized": (["p"], [float]), "artbp": (["c"], [float]), "checkpointed": (["segment"], [int])}
    if name not in shapes:
        raise UsageError(f"unknown strategy {name!r} in {spec!r}; known: {', '.join(shapes)}")
    keys, types = shapes[name]
    if values and len(values) != len(keys) or (not values and name in ("chunked", "tbptt", "randomized")):
        form = f"{name}:{','.join(k.upper() for k in keys)}" if keys else name
        raise UsageError(f"strategy {spec!r} should be written {form}")
    try:
        parsed = {key: kind(v) for key, kind, v in zip(keys, types, values)}
    except ValueError:
        raise UsageError(f"strategy {spec!r}: {','.join(values)!r} is not a number") from None
    return {"strategy": name, **parsed}


# -- building a run from its config ---------------------------------------------------------
class TaskSource:
    """The training stream in pieces, and a held-out evaluation task.

    Synthetic tasks: piece i is a fresh draw seeded by (seed, 0, i), and the
    hidden state starts afresh (its sequences are new).  The evaluation task is
    one draw seeded by (seed, 1), never trained on.  Text: piece i is the next
    chunk of each batch stream (wrapping round at the end of the text), and the
    state is carried from chunk to chunk; evaluation reads the first chunk.
    """

    def __init__(self, config: dict):
        self.config = config
        self.text = _load_text(config["file"]) if config["task"] == "text" else None
        self.evaluation = self._make(config["seq_len"], EVAL_BATCH if self.text is None else config["batch"],
                                     (config["seed"], 1), offset=0)
        self.n_in, self.n_out = self.evaluation.n_in, self.evaluation.n_out

    def _make(self, T, batch, seed, offset):
        if self.text is not None:
            return self.text.task(T, batch=batch, offset=offset)
        kwargs = {"T": T, "batch": batch, "seed": seed}
        if self.config["task"] == "echo":
            kwargs["delay"] = self.config["delay"]
        return tasks.make_task(self.config["task"], **kwargs)

    def piece(self, i: int) -> tasks.Task:
        """The i-th training piece (seq_len steps, batch columns)."""
        T, batch = self.config["seq_len"], self.config["batch"]
        if self.text is None:
            return self._make(T, batch, (self.config["seed"], 0, i), offset=0)
        return self._make(T, batch, None, offset=(i % self._pieces_per_pass()) * T)

    def starts_stream(self, i: int) -> bool:
        """Whether piece i begins a stream (so the hidden state must start afresh)."""
        return self.text is None or i % self._pieces_per_pass() == 0

    def _pieces_per_pass(self) -> int:
        """Text: how many whole chunks fit in each batch stream (the last character has no target)."""
        per_stream = len(self.text.text) // self.config["batch"]
        return (per_stream - 1) // self.config["seq_len"]


def _load_text(path):
    if not path:
        raise UsageError("--task text needs --file PATH (a UTF-8 text file)")
    try:
        return tasks.CharText.from_file(path)
    except tasks.TaskError as error:
        raise UsageError(str(error)) from None


def make_strategy(config: dict):
    """The truncation strategy the config names (ValueError for bad parameters)."""
    name = config["strategy"]
    if name == "full":
        return Full()
    if name == "chunked":
        return Chunked(config["k"])
    if name == "tbptt":
        return TBPTT(config["k1"], config["k2"])
    if name == "randomized":
        return Randomized(config["p"], seed=config["seed"])
    if name == "artbp":
        return ARTBP(config["c"], seed=config["seed"])
    if name == "checkpointed":
        return Checkpointed(config["segment"])
    raise UsageError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}")


@dataclass
class Run:
    """Everything a training loop needs, built and checked from one config."""

    config: dict
    source: TaskSource
    model: object
    strategy: object
    optimizer: object


def build(config: dict) -> Run:
    """Check the config and build the run; every problem is a UsageError with one line of text."""
    for key, allowed in (("task", TASKS), ("cell", CELLS), ("optimizer", OPTIMIZERS), ("strategy", STRATEGIES)):
        if config[key] not in allowed:
            raise UsageError(f"unknown {key} {config[key]!r}; known: {', '.join(allowed)}")
    if config["strategy"] == "tbptt" and config["k2"] < config["k1"]:
        raise UsageError(f"tbptt needs k2 >= k1, got k1={config['k1']}, k2={config['k2']}")
    for key in ("seq_len", "batch", "hidden", "steps", "k", "k1", "k2", "segment"):
        if config[key] is None or config[key] < 1:
            raise UsageError(f"--{key.replace('_', '-')} must be a positive integer, got {config[key]}")
    if config["steps"] < config["seq_len"]:
        raise UsageError(f"--steps ({config['steps']}) must be at least one piece of --seq-len ({config['seq_len']})")
    try:
        source = TaskSource(config)
        model = CELLS[config["cell"]](source.n_in, config["hidden"], source.n_out, seed=config["seed"])
        strategy = make_strategy(config)
        optimizer = OPTIMIZERS[config["optimizer"]](model.parameters(), lr=config["lr"])
    except (ValueError, tasks.TaskError) as error:
        raise UsageError(str(error)) from None
    return Run(config, source, model, strategy, optimizer)


# -- training and evaluation -----------------------------------------------------------
def predict(model, xs) -> np.ndarray:
    """The model's outputs y_hat_1..y_hat_T (T, batch, n_out), forward only (no tape)."""
    outputs = []
    with mg.no_grad():
        h = model.initial_state(xs.shape[1])
        for x in xs:
            h, y_hat = model.step(x, h)
            outputs.append(y_hat.data)
    return np.stack(outputs)


def evaluate(model, task: tasks.Task) -> float:
    """The task metric (accuracy or mse) of the model on ``task``."""
    return task.metric(predict(model, task.xs))


def targets_in(task: tasks.Task) -> int:
    """How many target values a task holds (the losses skip -1 and NaN targets)."""
    return int((task.ys >= 0).sum()) if task.loss == "ce" else int((~np.isnan(task.ys)).sum())


@dataclass
class Progress:
    """Where a run stands: the step count survives --resume, the rest describes this session too."""

    step: int = 0
    updates: int = 0
    seconds: float = 0.0
    peak_bytes: int = 0
    rows: list = field(default_factory=list)  # {step, updates, loss, metric, seconds}

    @property
    def last(self) -> dict:
        return self.rows[-1] if self.rows else {}


def train(run: Run, progress: Progress, on_log=None, on_piece=None) -> Progress:
    """Train from ``progress.step`` to ``config["steps"]``, one piece at a time.

    The logged loss is the mean loss per target over the pieces since the last
    log row (losses are sums, so this makes strategies and sizes comparable);
    the metric is measured on the held-out task at each log row.
    ``on_piece(progress)`` runs after every piece (a progress bar),
    ``on_log(row)`` after every log row.
    """
    seq_len = run.config["seq_len"]
    n_pieces = run.config["steps"] // seq_len
    log_every = max(1, n_pieces // LOG_POINTS)
    loss_sum, target_count, state = 0.0, 0, None
    started = time.perf_counter() - progress.seconds
    for i in range(progress.step // seq_len, n_pieces):
        task = run.source.piece(i)
        h0 = None if run.source.starts_stream(i) else state
        history = fit(run.model, task.xs, task.ys, run.strategy, run.optimizer, loss=task.loss, h0=h0,
                      clip=run.config["clip"])
        state = history.final_state
        loss_sum += sum(history.losses)
        target_count += targets_in(task)
        progress.step, progress.updates = (i + 1) * seq_len, progress.updates + len(history)
        progress.peak_bytes = max(progress.peak_bytes, history.peak_bytes)
        progress.seconds = time.perf_counter() - started
        if (i + 1) % log_every == 0 or i + 1 == n_pieces:
            row = {"step": progress.step, "updates": progress.updates, "loss": loss_sum / max(target_count, 1),
                   "metric": evaluate(run.model, run.source.evaluation), "seconds": round(progress.seconds, 3)}
            progress.rows.append(row)
            loss_sum, target_count = 0.0, 0
            if on_log is not None:
                on_log(row)
        if on_piece is not None:
            on_piece(progress)
    return progress


def chance_level(task: tasks.Task) -> float | None:
    """Accuracy of guessing uniformly (None for an mse metric)."""
    return 1.0 / task.n_out if task.metric_name == "accuracy" else None


# -- files: every write is atomic -------------------------------------------------------
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


def prepare_out_dir(path, force: bool) -> Path:
    """Check (without creating anything) that ``path`` may be written: free, or --force."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path} exists and is not a folder")
    if path.exists() and any(path.iterdir()) and not force:
        raise UsageError(f"--out {path} already exists; pass --force to overwrite its files")
    return path
