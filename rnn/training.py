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

Stopping and resuming: the end of a piece is a consistent point.  There
``save_checkpoint(path, run, progress)`` writes one file holding everything
the rest of the run depends on, and ``load_checkpoint(path, config)`` rebuilds
the run from it; training on from there is bitwise the run that never stopped::

    progress = rnn.training.Progress()
    rnn.training.train(run, progress, stop=lambda: progress.step >= 3000)
    rnn.training.save_checkpoint("run/checkpoint.npz", run, progress)
    run, progress = rnn.training.load_checkpoint("run/checkpoint.npz", run.config)
    rnn.training.train(run, progress)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import time
from dataclasses import dataclass, field

import numpy as np

import minigrad as mg
from minigrad import validate
from minigrad.errors import DivergenceError
from minigrad.nn import CheckpointError, read_npz

from . import registry, tasks
from .bptt import fit
from .states import parts
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

    def fingerprint(self) -> str | None:
        """What identifies the training data beyond the config: the text's SHA-256 (None for synthetic tasks,
        which the config's seed fixes).  A checkpoint records it, so a resume on an edited text is refused."""
        if self.text is None:
            return None
        return hashlib.sha256(self.text.text.encode("utf-8")).hexdigest()

    def _pieces_per_pass(self) -> int:
        """Text: how many whole chunks fit in each batch stream (the last character has no target)."""
        per_stream = len(self.text.text) // self.config.batch
        return (per_stream - 1) // self.config.seq_len


def _load_text(path):
    if not path:
        raise ConfigError("task 'text' needs a file: a UTF-8 text file (--file PATH)")
    try:
        validate.readable_file("the text file", path)
        return tasks.CharText.from_file(path)
    except (tasks.TaskError, ValueError) as error:
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
    """The task metric (accuracy or mse) of the model on ``task``; NaN when an output is not finite
    (an accuracy read from the argmax of NaN outputs would be a number that means nothing)."""
    outputs = predict(model, task.xs)
    if not np.all(np.isfinite(outputs)):
        return float("nan")
    return task.metric(outputs)


def chance_level(task: tasks.Task) -> float | None:
    """Accuracy of guessing uniformly (None for an mse metric)."""
    return 1.0 / task.n_out if task.metric_name == "accuracy" else None


def targets_in(task: tasks.Task) -> int:
    """How many target values a task holds (the losses skip -1 and NaN targets)."""
    return int((task.ys >= 0).sum()) if task.loss == "ce" else int((~np.isnan(task.ys)).sum())


@dataclass
class Progress:
    """Where a run stands after a whole number of pieces: everything a resume needs besides the weights.

    ``state`` is the hidden state carried into the next piece (text; None when
    the next piece starts afresh), ``loss_sum``/``target_count`` the loss
    summed since the last log row.  ``seconds`` and ``peak_bytes`` describe
    the sessions so far (they are not part of what a resume must reproduce).
    """

    step: int = 0
    updates: int = 0
    seconds: float = 0.0
    peak_bytes: int = 0
    rows: list = field(default_factory=list)  # {step, updates, loss, metric, seconds}
    state: object = None
    loss_sum: float = 0.0
    target_count: int = 0

    @property
    def last(self) -> dict:
        return self.rows[-1] if self.rows else {}


def train(run: Run, progress: Progress | None = None, on_log=None, on_piece=None, stop=None) -> Progress:
    """Train from ``progress.step`` (0 for a new Progress) to ``config.steps``, one piece at a time.

    The logged loss is the mean loss per target over the pieces since the last
    log row (losses are sums, so this makes strategies and sizes comparable);
    the metric is measured on the held-out task at each log row.
    ``on_piece(progress)`` runs after every piece (a progress bar, a
    checkpoint), ``on_log(row)`` after every log row, before on_piece.
    ``stop()``, if given, is asked after every piece: True returns at once,
    with ``progress`` at that piece's end (a consistent point to save).

    A non-finite loss or gradient (``rnn.fit``'s guard) or non-finite weights
    after a piece raise ``DivergenceError`` naming the run's step; ``progress``
    then still describes the end of the last whole piece, but the weights may
    hold the updates made inside the failed piece: reload a checkpoint.
    """
    progress = Progress() if progress is None else progress
    seq_len = run.config.seq_len
    n_pieces = run.config.steps // seq_len
    log_every = max(1, n_pieces // LOG_POINTS)
    started = time.perf_counter() - progress.seconds
    for i in range(progress.step // seq_len, n_pieces):
        task = run.source.piece(i)
        h0 = None if run.source.starts_stream(i) else progress.state
        try:
            history = fit(run.model, task.xs, task.ys, run.strategy, run.optimizer, loss=task.loss, h0=h0,
                          clip=run.config.clip)
        except DivergenceError as error:
            raise _diverged(error, progress) from None
        _check_weights(run.model, progress.step + seq_len)
        progress.state = None if run.source.starts_stream(i + 1) else history.final_state
        progress.loss_sum += sum(history.losses)
        progress.target_count += targets_in(task)
        progress.step, progress.updates = (i + 1) * seq_len, progress.updates + len(history)
        progress.peak_bytes = max(progress.peak_bytes, history.peak_bytes)
        progress.seconds = time.perf_counter() - started
        if (i + 1) % log_every == 0 or i + 1 == n_pieces:
            row = {"step": progress.step, "updates": progress.updates,
                   "loss": progress.loss_sum / max(progress.target_count, 1),
                   "metric": evaluate(run.model, run.source.evaluation), "seconds": round(progress.seconds, 3)}
            progress.rows.append(row)
            progress.loss_sum, progress.target_count = 0.0, 0
            if on_log is not None:
                on_log(row)
        if on_piece is not None:
            on_piece(progress)
        if stop is not None and stop():
            break
    return progress


def _diverged(error: DivergenceError, progress: Progress) -> DivergenceError:
    """``fit``'s DivergenceError restated with the run's step (fit counts steps within its piece).

    The new error has ``step`` (the run's step) and ``last_good_step`` (the end of the last whole piece).
    """
    text = str(error)
    found = re.search(r"at step (\d+) \(update (\d+)\)", text)
    if found:
        step = progress.step + int(found.group(1))
        text = text.replace(found.group(0), f"at step {step} (update {progress.updates + int(found.group(2))})", 1)
    else:
        step = None
        text = f"in the piece after step {progress.step}: {text}"
    diverged = DivergenceError(text)
    diverged.step, diverged.last_good_step = step, progress.step
    return diverged


def _check_weights(model, step: int) -> None:
    """Finite updates can still overflow the weights: stop there, before anything saves them."""
    for name, p in model.named_parameters():
        if not np.all(np.isfinite(p.data)):
            error = DivergenceError(f"training diverged by step {step}: the weights of {name} are no longer "
                                    "finite after the updates. Lower the learning rate or clip the gradient norm")
            error.step, error.last_good_step = step, None
            raise error


# -- checkpoints -------------------------------------------------------------------------------
CHECKPOINT_FORMAT = "rnn.training checkpoint"
CHECKPOINT_VERSION = 1
MAX_META_BYTES = 64 * 2 ** 20


def checkpoint_of(run: Run, progress: Progress) -> tuple[dict, dict]:
    """Everything a resume needs, as (arrays, meta): one consistent snapshot at the end of a piece.

    arrays: ``model/<name>`` (the weights), ``optimizer/<name>`` (its state),
    ``state/<i>`` (the carried hidden state, when there is one).  meta (JSON):
    the step (recorded here and checked on load), updates, the loss summed
    since the last log row, the log rows so far, the config, every random
    generator of the strategy (its bit generator's state), and the data's
    fingerprint.  The data position is the step: piece i is a pure function of
    (config, i) (``TaskSource``), so no data generator needs saving.
    """
    arrays = {f"model/{name}": value for name, value in run.model.state_dict().items()}
    arrays.update({f"optimizer/{name}": value for name, value in run.optimizer.state_dict().items()})
    if progress.state is not None:
        arrays.update({f"state/{i}": np.array(part.data) for i, part in enumerate(parts(progress.state))})
    meta = {
        "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
        "step": progress.step, "updates": progress.updates, "seconds": progress.seconds,
        "peak_bytes": progress.peak_bytes, "loss_sum": progress.loss_sum, "target_count": progress.target_count,
        "rows": progress.rows, "config": run.config.as_dict(),
        "state": None if progress.state is None else ("tuple" if isinstance(progress.state, tuple) else "tensor"),
        "generators": {name: g.bit_generator.state for name, g in generators(run.strategy).items()},
        "data": run.source.fingerprint(),
    }
    return arrays, meta


def generators(strategy) -> dict:
    """The strategy's random generators by attribute name (Randomized, ARTBP and UORO keep ``_rng``)."""
    return {name: value for name, value in sorted(vars(strategy).items()) if isinstance(value, np.random.Generator)}


def expected_arrays(run: Run) -> dict:
    """{member name: shape} of every array a checkpoint of ``run`` may hold (``state/*`` only when carried)."""
    shapes = {f"model/{name}": p.shape for name, p in run.model.named_parameters()}
    shapes.update({f"optimizer/{name}": value.shape for name, value in run.optimizer.state_dict().items()})
    initial = run.model.initial_state(run.config.batch)
    shapes.update({f"state/{i}": part.shape for i, part in enumerate(parts(initial))})
    return shapes


def read_checkpoint(path, run: Run) -> tuple[dict, dict]:
    """(arrays, meta) of a checkpoint file written for ``run``'s config: member names, shapes and sizes
    are checked from the zip directory first (``minigrad.nn.read_npz``), then meta is parsed."""
    shapes = expected_arrays(run)
    optional = tuple(name for name in shapes if name.startswith("state/"))
    try:
        found = read_npz(path, shapes, owner="checkpoint", texts={"meta.json": MAX_META_BYTES}, optional=optional)
        meta = json.loads(found.pop("meta.json"))
    except CheckpointError as error:
        meta = _peek_meta(path)  # arrays that do not fit: say why, if the meta knows (another config, another text)
        if isinstance(meta, dict) and isinstance(meta.get("config"), dict):
            _check_identity(run, meta, lambda message: ConfigError(f"{path}: {message}"))
        raise ConfigError(str(error).removeprefix("checkpoint: ")) from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: the checkpoint's meta.json is not valid JSON ({error})") from None
    if not isinstance(meta, dict):
        raise ConfigError(f"{path}: the checkpoint's meta.json is not a JSON object")
    return found, meta


def restore(run: Run, arrays: dict, meta: dict, where: str = "checkpoint") -> Progress:
    """Put a checkpoint back into a freshly built ``run`` (same config but for ``steps``); return its Progress.

    Everything is checked before anything changes: the format, the step (an
    integer, a whole number of pieces, and the step of the last log row at
    most), the config, the data fingerprint, the generators, finite weights
    and optimizer state.  Any problem is a ConfigError naming ``where``.
    """
    def bad(message):
        return ConfigError(f"{where}: {message}")

    if meta.get("format") != CHECKPOINT_FORMAT or meta.get("version") != CHECKPOINT_VERSION:
        raise bad(f"not a checkpoint this version can read (format {meta.get('format')!r}, "
                  f"version {meta.get('version')!r}; expected {CHECKPOINT_FORMAT!r} {CHECKPOINT_VERSION})")
    seq_len = run.config.seq_len
    step = _whole(meta, "step", bad)
    updates = _whole(meta, "updates", bad)
    target_count = _whole(meta, "target_count", bad)
    peak_bytes = _whole(meta, "peak_bytes", bad)
    if step % seq_len:
        raise bad(f"step {step} is not a whole number of pieces of seq_len {seq_len}")
    loss_sum, seconds = _real(meta, "loss_sum", bad), _real(meta, "seconds", bad)
    _check_identity(run, meta, bad)
    rows = meta.get("rows")
    columns = ("step", "updates", "loss", "metric", "seconds")
    if not isinstance(rows, list) or not all(isinstance(r, dict) and all(c in r for c in columns) for r in rows):
        raise bad(f"its log rows are damaged (each needs {', '.join(columns)})")
    if any(not isinstance(r["step"], int) or r["step"] > step for r in rows):
        raise bad(f"a log row lies beyond the checkpoint's step {step}")
    _restore_generators(run.strategy, meta.get("generators"), bad)
    state_kind = meta.get("state")
    state_names = sorted(name for name in arrays if name.startswith("state/"))
    expected_names = {None: 0, "tensor": 1, "tuple": len(parts(run.model.initial_state(run.config.batch)))}
    if state_kind not in expected_names or len(state_names) != expected_names[state_kind] \
            or (state_kind == "tensor" and isinstance(run.model.initial_state(1), tuple)):
        raise bad(f"its carried state ({state_kind!r}, {len(state_names)} arrays) does not fit the {run.config.cell} cell")
    for name, value in arrays.items():
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise bad(f"{name} holds NaN or inf: the run had diverged before this checkpoint, so it cannot continue")
    model = {name.removeprefix("model/"): a for name, a in arrays.items() if name.startswith("model/")}
    optimizer = {name.removeprefix("optimizer/"): a for name, a in arrays.items() if name.startswith("optimizer/")}
    try:
        run.model.load_state_dict(model)
        run.optimizer.load_state_dict(optimizer)
    except ValueError as error:
        raise bad(str(error)) from None
    state = None
    if state_kind is not None:
        dtype = parts(run.model.initial_state(1))[0].dtype
        tensors = tuple(mg.tensor(arrays[f"state/{i}"], dtype=dtype) for i in range(len(state_names)))
        state = tensors if state_kind == "tuple" else tensors[0]
    return Progress(step=step, updates=updates, seconds=seconds, peak_bytes=peak_bytes, rows=rows, state=state,
                    loss_sum=loss_sum, target_count=target_count)


def _check_identity(run: Run, meta: dict, bad) -> None:
    """The checkpoint must belong to this run: the same config (but steps) and the same data."""
    saved = meta.get("config")
    if not isinstance(saved, dict):
        raise bad("it records no config")
    differ = sorted(k for k in set(saved) | set(run.config.as_dict())
                    if k != "steps" and saved.get(k) != run.config.as_dict().get(k))
    if differ:
        raise bad("it belongs to another run: " + ", ".join(
            f"{k} {saved.get(k)!r} in the checkpoint, {run.config.as_dict().get(k)!r} in the config" for k in differ))
    if meta.get("data") != run.source.fingerprint():
        raise bad(f"the text file {run.config.file} has changed since the checkpoint was written (its SHA-256 "
                  "differs), so the run cannot continue on the same data")


def _peek_meta(path):
    """The meta.json of a checkpoint whose arrays do not fit, or None if it cannot be read either."""
    try:
        return json.loads(read_npz(path, {}, texts={"meta.json": MAX_META_BYTES}, ignore_others=True)["meta.json"])
    except (CheckpointError, ValueError):
        return None


def _whole(meta: dict, key: str, bad) -> int:
    value = meta.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise bad(f"its {key} must be a non-negative integer, got {value!r}")
    return value


def _real(meta: dict, key: str, bad) -> float:
    value = meta.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad(f"its {key} must be a finite number, got {value!r}")
    return float(value)


def _restore_generators(strategy, saved, bad) -> None:
    """Set each of the strategy's generators to its saved state (all checked before any is set)."""
    current = generators(strategy)
    if not isinstance(saved, dict) or set(saved) != set(current):
        raise bad(f"it records the random generators {sorted(saved) if isinstance(saved, dict) else saved!r}, "
                  f"but {strategy!r} has {sorted(current)}")
    checked = {}
    for name, generator in current.items():
        state = saved[name]
        kind = type(generator.bit_generator)
        if not isinstance(state, dict) or state.get("bit_generator") != kind.__name__:
            raise bad(f"the saved state of generator {name} is not a {kind.__name__} state")
        trial = kind()
        try:
            trial.state = state
        except (TypeError, ValueError, KeyError) as error:
            raise bad(f"the saved state of generator {name} is damaged ({error})") from None
        checked[name] = state
    for name, generator in current.items():
        generator.bit_generator.state = checked[name]


def save_checkpoint(path, run: Run, progress: Progress):
    """Write the checkpoint of ``run`` at ``progress`` to ``path`` as one file, atomically (``rnn.runfiles``)."""
    from .runfiles import write_checkpoint

    arrays, meta = checkpoint_of(run, progress)
    return write_checkpoint(path, arrays, meta)


def load_checkpoint(path, config: Config, **settings) -> tuple[Run, Progress]:
    """Build the run of ``config`` (``settings`` may change ``steps`` only) and restore the checkpoint at ``path``."""
    changed = sorted(set(settings) - {"steps"})
    if changed:
        raise ConfigError(f"only steps may change when a run resumes, not {', '.join(changed)}")
    run = build(config, **settings)
    arrays, meta = read_checkpoint(path, run)
    return run, restore(run, arrays, meta, where=str(path))


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
    diverged: dict = field(default_factory=dict)  # {spec: the DivergenceError's message}, for runs that diverged

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
    """Train built runs ({spec: Run}) one after the other and tabulate them.

    A run that diverges stops there (its row has loss and metric NaN, its
    curve the rows logged before) and the others still train; its message is
    in ``Comparison.diverged``.
    """
    table, curves, diverged = [], {}, {}
    for spec, run in runs.items():
        report = None if on_piece is None else (lambda p, spec=spec: on_piece(spec, p))
        progress = Progress()
        try:
            train(run, progress, on_piece=report)
        except DivergenceError as error:
            diverged[spec] = str(error)
        table.append(table_row(spec, progress, diverged=spec in diverged))
        curves[spec] = progress.rows
    return Comparison(runs, table, curves, diverged)


def table_row(spec: str, progress: Progress, diverged: bool = False) -> dict:
    """A trained run's row of a comparison table (TABLE_COLUMNS); loss and metric NaN if it diverged."""
    last = {} if diverged else progress.last
    return {"strategy": spec, "loss": last.get("loss", float("nan")), "metric": last.get("metric", float("nan")),
            "updates": progress.updates, "seconds": progress.seconds, "peak_bytes": progress.peak_bytes}


def title_of(config: Config) -> str:
    """A plot title: task and model."""
    delay = f" delay {config.delay}" if config.task == "echo" else ""
    return f"{config.task}{delay}, {config.cell} {config.hidden}, seq-len {config.seq_len}"


__all__ = [
    "Config", "ConfigError", "Run", "Progress", "Comparison", "TaskSource", "TASKS", "OPTIMIZERS",
    "build", "build_runs", "train", "evaluate", "predict", "chance_level", "targets_in",
    "DEMO", "DEMO_STRATEGIES", "compare_strategies", "train_runs", "table_row", "title_of", "TABLE_COLUMNS",
    "checkpoint_of", "read_checkpoint", "restore", "save_checkpoint", "load_checkpoint", "generators",
]
