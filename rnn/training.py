"""Training runs as a library: build one from keyword arguments, train it, evaluate it, compare strategies.

    run = rnn.training.build(task="echo", delay=10, cell="elman", hidden=32,
                             strategy="tbptt:5,20", steps=6000, lr=0.003, clip=1.0)
    progress = rnn.training.train(run)            # Progress: step, updates, log rows
    rnn.training.evaluate(run.model, run.source.evaluation)

    result = rnn.training.compare_strategies(["full", "chunked:3", "artbp:0.1"], task="echo", delay=10)
    result.table                                   # one row per strategy: loss, metric, updates, time, memory

The command lines (``python -m rnn.train``, ``rnn.compare``, ``rnn.demo``)
are shells over these functions; the run folder's files are ``rnn.runfiles``.

How the stream is cut (``steps`` time steps, in pieces of ``seq_len``)::

    steps:   |----- piece 0 -----|----- piece 1 -----| ... |-- piece n-1 --|
             ^ h0 = initial state ^ synthetic tasks: a fresh draw, state reset
                                  ^ text: the next chunk, state carried over

Inside each piece ``rnn.fit`` runs the strategy: Full makes one update per
piece, Chunked(k) one every k steps, and so on.  So every strategy sees
exactly the same data; they differ only in where gradient flows and when the
weights change.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

import minigrad as mg

from . import registry, tasks
from .bptt import fit
from .truncation import Strategy

TASKS = ("echo", "adding", "reber", "sine", "text")
OPTIMIZERS = {"sgd": mg.optim.SGD, "adam": mg.optim.Adam, "adagrad": mg.optim.Adagrad}
EVAL_BATCH = 64
LOG_POINTS = 50  # about this many log rows per run


class ConfigError(ValueError):
    """A setting that cannot make a run (an unknown name, a bad size): one line of text."""


@dataclass(frozen=True)
class Config:
    """Every setting of a training run; saved as a run folder's config.json.

    ``strategy`` is a spec (``"tbptt:5,20"``, see ``rnn.parse_strategy``);
    ``file`` is the text for ``task="text"``; ``delay`` is the echo task's.
    """

    task: str = "echo"
    file: str | None = None
    delay: int = 8
    seq_len: int = 50
    batch: int = 32
    cell: str = "elman"
    hidden: int = 32
    strategy: str = "full"
    steps: int = 6000
    optimizer: str = "adam"
    lr: float = 0.01
    clip: float | None = None
    seed: int = 0

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Config":
        """A Config from a dict, refusing unknown keys (a misspelt setting is an error, not a default)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**values)


class TaskSource:
    """The training stream in pieces, and a held-out evaluation task.

    Synthetic tasks: piece i is a fresh draw seeded by (seed, 0, i), and the
    hidden state starts afresh (its sequences are new).  The evaluation task is
    one draw seeded by (seed, 1), never trained on.  Text: piece i is the next
    chunk of each batch stream (wrapping round at the end of the text), and the
    state is carried from chunk to chunk; evaluation reads the first chunk.
    """

    def __init__(self, config: Config):
        self.config = config
        self.text = _load_text(config.file) if config.task == "text" else None
        self.evaluation = self._make(config.seq_len, EVAL_BATCH if self.text is None else config.batch,
                                     (config.seed, 1), offset=0)
        self.n_in, self.n_out = self.evaluation.n_in, self.evaluation.n_out

    def _make(self, T, batch, seed, offset):
        if self.text is not None:
            return self.text.task(T, batch=batch, offset=offset)
        kwargs = {"T": T, "batch": batch, "seed": seed}
        if self.config.task == "echo":
            kwargs["delay"] = self.config.delay
        return tasks.make_task(self.config.task, **kwargs)

    def piece(self, i: int) -> tasks.Task:
        """The i-th training piece (seq_len steps, batch columns)."""
        T, batch = self.config.seq_len, self.config.batch
        if self.text is None:
            return self._make(T, batch, (self.config.seed, 0, i), offset=0)
        return self._make(T, batch, None, offset=(i % self._pieces_per_pass()) * T)

    def starts_stream(self, i: int) -> bool:
        """Whether piece i begins a stream (so the hidden state must start afresh)."""
        return self.text is None or i % self._pieces_per_pass() == 0

    def _pieces_per_pass(self) -> int:
        """Text: how many whole chunks fit in each batch stream (the last character has no target)."""
        per_stream = len(self.text.text) // self.config.batch
        return (per_stream - 1) // self.config.seq_len


def _load_text(path):
    if not path:
        raise ConfigError("task 'text' needs a file: a UTF-8 text file (--file PATH)")
    try:
        return tasks.CharText.from_file(path)
    except tasks.TaskError as error:
        raise ConfigError(str(error)) from None


@dataclass
class Run:
    """Everything a training loop needs, built and checked from one Config."""

    config: Config
    source: TaskSource
    model: object
    strategy: Strategy
    optimizer: object


def build(config: Config | None = None, **settings) -> Run:
    """Check the settings and build the run; every problem is a ConfigError with one line of text.

    Pass keyword settings (the fields of ``Config``), or a Config.  ``strategy``
    may be a spec string or a Strategy object (kept as it is; its spec goes into the config).
    """
    strategy = settings.get("strategy")
    if isinstance(strategy, Strategy):
        settings["strategy"] = _spec_of(strategy)
    elif isinstance(strategy, type):
        raise ConfigError(f"strategy must be an instance or a spec, got the class {strategy.__name__}: "
                          f"write {strategy.__name__}(...) or a spec such as 'full'")
    config = Config.from_dict({**(config.as_dict() if config else {}), **settings})
    _check(config)
    try:
        source = TaskSource(config)
        model = registry.make_cell(config.cell, source.n_in, config.hidden, source.n_out, seed=config.seed)
        if not isinstance(strategy, Strategy):
            strategy = registry.parse_strategy(config.strategy, seed=config.seed)
        optimizer = OPTIMIZERS[config.optimizer](model.parameters(), lr=config.lr)
    except (ValueError, TypeError, tasks.TaskError) as error:
        raise ConfigError(str(error)) from None
    return Run(config, source, model, strategy, optimizer)


def _spec_of(strategy: Strategy) -> str:
    try:
        return registry.describe(strategy)
    except ValueError:
        return repr(strategy)  # a strategy a spec cannot write (ARTBP with a schedule): a label only


def _check(config: Config) -> None:
    for key, allowed in (("task", TASKS), ("cell", registry.CELLS), ("optimizer", OPTIMIZERS)):
        if getattr(config, key) not in allowed:
            raise ConfigError(f"unknown {key} {getattr(config, key)!r}; known: {', '.join(allowed)}")
    for key in ("seq_len", "batch", "hidden", "steps"):
        value = getattr(config, key)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{key} must be a positive integer, got {value!r}")
    if config.steps < config.seq_len:
        raise ConfigError(f"steps ({config.steps}) must be at least one piece of seq_len ({config.seq_len})")


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


def chance_level(task: tasks.Task) -> float | None:
    """Accuracy of guessing uniformly (None for an mse metric)."""
    return 1.0 / task.n_out if task.metric_name == "accuracy" else None


def targets_in(task: tasks.Task) -> int:
    """How many target values a task holds (the losses skip -1 and NaN targets)."""
    return int((task.ys >= 0).sum()) if task.loss == "ce" else int((~np.isnan(task.ys)).sum())


@dataclass
class Progress:
    """Where a run stands: the step count survives a resume, the rest describes this session too."""

    step: int = 0
    updates: int = 0
    seconds: float = 0.0
    peak_bytes: int = 0
    rows: list = field(default_factory=list)  # {step, updates, loss, metric, seconds}

    @property
    def last(self) -> dict:
        return self.rows[-1] if self.rows else {}


def train(run: Run, progress: Progress | None = None, on_log=None, on_piece=None) -> Progress:
    """Train from ``progress.step`` (0 for a new Progress) to ``config.steps``, one piece at a time.

    The logged loss is the mean loss per target over the pieces since the last
    log row (losses are sums, so this makes strategies and sizes comparable);
    the metric is measured on the held-out task at each log row.
    ``on_piece(progress)`` runs after every piece (a progress bar),
    ``on_log(row)`` after every log row.
    """
    progress = Progress() if progress is None else progress
    seq_len = run.config.seq_len
    n_pieces = run.config.steps // seq_len
    log_every = max(1, n_pieces // LOG_POINTS)
    loss_sum, target_count, state = 0.0, 0, None
    started = time.perf_counter() - progress.seconds
    for i in range(progress.step // seq_len, n_pieces):
        task = run.source.piece(i)
        h0 = None if run.source.starts_stream(i) else state
        history = fit(run.model, task.xs, task.ys, run.strategy, run.optimizer, loss=task.loss, h0=h0,
                      clip=run.config.clip)
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


# -- comparing strategies ------------------------------------------------------------------
#: the demo (``python -m rnn.demo``): echo with delay 10, where windows shorter than the delay cannot learn
DEMO = {"task": "echo", "delay": 10, "seq_len": 40, "batch": 32, "cell": "elman", "hidden": 32, "steps": 20000,
        "optimizer": "adam", "lr": 0.003, "clip": 1.0}
DEMO_STRATEGIES = ["full", "chunked:3", "chunked:20", "tbptt:5,20", "artbp:0.1"]

TABLE_COLUMNS = ["strategy", "loss", "metric", "updates", "seconds", "peak_bytes"]


@dataclass
class Comparison:
    """Several strategies trained on the same data from the same weights."""

    runs: dict  # {spec: Run}
    table: list  # one row per strategy: TABLE_COLUMNS
    curves: dict  # {spec: log rows}

    @property
    def evaluation(self) -> tasks.Task:
        """The held-out task every run is measured on (the same for all)."""
        return next(iter(self.runs.values())).source.evaluation


def build_runs(strategies, **settings) -> dict:
    """{spec: Run} for every strategy (spec or object), all checked before anything trains."""
    runs = {}
    for strategy in strategies:
        run = build(**{**settings, "strategy": strategy})
        runs[strategy if isinstance(strategy, str) else run.config.strategy] = run
    return runs


def compare_strategies(strategies, on_piece=None, **settings) -> Comparison:
    """Train every strategy with the same settings (so the same data and initial weights).

    ``on_piece(spec, progress)`` runs after every piece of every run (a progress bar).
    """
    return train_runs(build_runs(strategies, **settings), on_piece=on_piece)


def train_runs(runs: dict, on_piece=None) -> Comparison:
    """Train built runs ({spec: Run}) one after the other and tabulate them."""
    table, curves = [], {}
    for spec, run in runs.items():
        report = None if on_piece is None else (lambda p, spec=spec: on_piece(spec, p))
        progress = train(run, on_piece=report)
        table.append(table_row(spec, progress))
        curves[spec] = progress.rows
    return Comparison(runs, table, curves)


def table_row(spec: str, progress: Progress) -> dict:
    """A trained run's row of a comparison table (TABLE_COLUMNS)."""
    last = progress.last
    return {"strategy": spec, "loss": last["loss"], "metric": last["metric"], "updates": progress.updates,
            "seconds": progress.seconds, "peak_bytes": progress.peak_bytes}


def title_of(config: Config) -> str:
    """A plot title: task and model."""
    delay = f" delay {config.delay}" if config.task == "echo" else ""
    return f"{config.task}{delay}, {config.cell} {config.hidden}, seq-len {config.seq_len}"


__all__ = [
    "Config", "ConfigError", "Run", "Progress", "Comparison", "TaskSource", "TASKS", "OPTIMIZERS",
    "build", "build_runs", "train", "evaluate", "predict", "chance_level", "targets_in",
    "DEMO", "DEMO_STRATEGIES", "compare_strategies", "train_runs", "table_row", "title_of", "TABLE_COLUMNS",
]
