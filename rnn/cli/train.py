"""``python -m rnn.train``: train one recurrent model under one BPTT strategy.

    python -m rnn.train --task echo --delay 8 --cell elman --hidden 32 \\
        --strategy tbptt:4,12 --steps 6000 --optimizer adam --lr 0.01 \\
        --clip 1.0 --seed 0 --out runs/echo-tbptt

The run folder holds config.json (the settings), checkpoint.npz (one file:
weights, optimizer state, step, the strategy's random generators, the carried
hidden state and the log rows so far), metrics.csv (step, updates, loss,
metric, seconds per log row, rewritten with each checkpoint), and at the end
of a session curve.png, model.npz (the weights, for ``Module.load``) and, when
graphviz's ``dot`` is installed, window.svg: the first steps unrolled under the
strategy.

``--resume runs/NAME`` continues from the checkpoint, bitwise as if the run had
never stopped; only ``--steps`` (the new total) may differ from config.json.
A checkpoint is written at the end of a piece whenever the time since the last
one is at least 50 times what the last one cost (so about 2% of the run).

Exit codes: 0 done; 2 bad input (one line on stderr, nothing written) or the
folder is in use by another process; 3 training diverged (a non-finite loss,
gradient or weight: one line naming the step; the last good checkpoint is
kept); 130 interrupted: the first Ctrl-C finishes the current piece, saves and
says so; a second one aborts at once, saving nothing more (the last checkpoint stays,
whole: a checkpoint being written when it comes is dropped, never half written).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from minigrad.errors import DivergenceError

from .. import registry, runfiles, training, viz
from ..bptt import unroll
from ..training import Config, ConfigError
from . import common

WINDOW_STEPS = 12  # steps drawn in window.svg
METRIC_COLUMNS = ["step", "updates", "loss", "metric", "seconds"]
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130
#: flags that may differ from config.json on --resume: they change where the run stops, not what it computes
SAFE_ON_RESUME = ("steps",)
#: the most of a run's wall time that checkpoints may take (they are spaced out to keep under it)
CHECKPOINT_SHARE = 0.02
PROG = "rnn.train"


def parser() -> argparse.ArgumentParser:
    """The command line of rnn.train."""
    p = common.OneLineParser(prog="python -m rnn.train",
                             description="train one recurrent model on a sequence task under one BPTT strategy",
                             epilog=common.epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_strategy_arguments(p)
    common.add_run_arguments(p)
    g = p.add_argument_group("run folder")
    g.add_argument("--out", help="the run folder to write (default: runs/TASK-STRATEGY)")
    g.add_argument("--force", action="store_true", help="write into --out even if it exists (its run files are overwritten)")
    g.add_argument("--resume", metavar="RUN", help="continue the run in folder RUN from its checkpoint, bitwise as if "
                                                   "it had not stopped; its config.json is used, and only --steps "
                                                   "(the new total) may differ from it")
    return p


def given_flags(argv) -> dict:
    """The flags the command line actually gives ({dest: value}), defaults left out."""
    p = parser()
    for action in p._actions:  # argparse has no public way to tell a given flag from its default
        action.default = argparse.SUPPRESS
    return vars(p.parse_args(argv))


# -- the run folder ---------------------------------------------------------------------
def write_metrics(folder: Path, progress: training.Progress) -> None:
    runfiles.write_csv(folder / "metrics.csv", progress.rows, METRIC_COLUMNS)


def write_results(folder: Path, run: training.Run, progress: training.Progress) -> None:
    """At the end of a session: curve.png and model.npz (the weights, for ``Module.load``)."""
    evaluation = run.source.evaluation
    c = run.config
    runfiles.plot_curves(folder / "curve.png", {f"{c.strategy} ({c.cell}, {c.hidden})": progress.rows},
                         evaluation.metric_name, f"{c.task}: {c.strategy}", training.chance_level(evaluation))
    runfiles.write_npz(folder / "model.npz", run.model.state_dict())


class Checkpoints:
    """Writes the run's checkpoint (then metrics.csv, its readable view), spaced so that they cost at most
    ``CHECKPOINT_SHARE`` of the wall time, and counts what they cost."""

    def __init__(self, folder: Path, run: training.Run, step: int | None):
        self.folder, self.run = folder, run
        self.step = step  # of the last checkpoint written (or read), None before the first
        self.count, self.seconds, self.last_cost = 0, 0.0, 0.0
        self.last_end = time.perf_counter()
        self.rows_written = -1

    def due(self) -> bool:
        return time.perf_counter() - self.last_end >= self.last_cost / CHECKPOINT_SHARE

    def save(self, progress: training.Progress) -> None:
        started = time.perf_counter()
        training.save_checkpoint(self.folder / runfiles.CHECKPOINT, self.run, progress)
        self.step = progress.step
        if len(progress.rows) != self.rows_written:
            write_metrics(self.folder, progress)
            self.rows_written = len(progress.rows)
        self.last_end = time.perf_counter()
        self.last_cost = self.last_end - started
        self.count, self.seconds = self.count + 1, self.seconds + self.last_cost

    def where(self) -> str:
        if self.step is None:
            return f"no checkpoint was written before it; {self.folder} holds config.json only"
        return f"the last good checkpoint (step {self.step}) is kept in {self.folder}"


def draw_window(folder: Path, run: training.Run) -> None:
    """window.svg: the first steps unrolled under the strategy (only when `dot` exists)."""
    if shutil.which("dot") is None:
        return
    from minigrad.viz import render_source

    task = run.source.evaluation
    steps = min(WINDOW_STEPS, len(task.xs))
    strategy = registry.parse_strategy(run.config.strategy, seed=run.config.seed)  # drawing must not advance run.strategy's random stream
    unrolled = unroll(run.model, task.xs[:steps, :1], task.ys[:steps, :1], strategy, loss=task.loss)
    render_source(viz.compact(unrolled).source, folder / "window.svg")


# -- resuming ------------------------------------------------------------------------------
def read_config(folder: Path) -> Config:
    """The run folder's config.json, complete and well formed, or a ConfigError."""
    path = folder / "config.json"
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--resume {folder}: not a run folder (no config.json)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"--resume {folder}: config.json is damaged ({error})") from None
    except OSError as error:
        raise ConfigError(f"--resume {folder}: cannot read config.json ({error.strerror})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"--resume {folder}: config.json is not a JSON object")
    missing = sorted({f for f in Config.__dataclass_fields__} - set(values))
    if missing:
        raise ConfigError(f"--resume {folder}: config.json lacks {', '.join(missing)}")
    try:
        return Config.from_dict(values)
    except ConfigError as error:
        raise ConfigError(f"--resume {folder}: config.json: {error}") from None


def flag_of(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def differing_flags(given: dict, config: Config) -> list[str]:
    """The given flags that contradict the saved config, as '--lr 5.0 (run: 0.01)' (SAFE_ON_RESUME excepted)."""
    strategy_params = set(registry.strategy_parameters())
    differ = []
    for dest, value in given.items():
        if dest in ("resume", *SAFE_ON_RESUME, "strategy") or dest in strategy_params:
            continue
        if dest in ("out", "force"):
            differ.append(f"{flag_of(dest)} (the run folder is the one given to --resume)")
            continue
        saved = getattr(config, dest)
        same = (os.path.abspath(value) == os.path.abspath(saved)) if dest == "file" and value and saved \
            else value == saved
        if not same:
            differ.append(f"{flag_of(dest)} {value} (run: {saved})")
    if "strategy" in given:
        args = parser().parse_args([])
        for key, value in {**config.as_dict(), **given}.items():
            setattr(args, key, value)
        try:
            spec = common.strategy_spec(args)
        except ConfigError as error:
            return differ + [f"--strategy {given['strategy']} ({error})"]
        if spec != config.strategy:
            differ.append(f"--strategy {spec} (run: {config.strategy})")
    else:
        saved = registry.parse_strategy(config.strategy)
        for name in sorted(strategy_params & set(given)):
            if not hasattr(saved, name):
                differ.append(f"--{name} {given[name]} (run: {config.strategy}, which has no {name})")
            elif given[name] != getattr(saved, name):
                differ.append(f"--{name} {given[name]} (run: {config.strategy}, {name} {getattr(saved, name)})")
    return differ


def resume(args, given: dict) -> tuple[Path, training.Run, training.Progress, runfiles.RunLock]:
    """Check the flags and the folder, lock it, then load config.json and the checkpoint."""
    folder = Path(args.resume)
    if not folder.is_dir():
        raise ConfigError(f"--resume {folder}: " + ("no such folder" if not folder.exists() else "not a folder"))
    common.prepare_out_dir(folder, force=True, flag="--resume")  # writable
    config = read_config(folder)
    differ = differing_flags(given, config)
    if differ:
        raise ConfigError(f"--resume {folder}: {'; '.join(differ)}: these flags differ from the run's config.json; "
                          f"only {', '.join(flag_of(d) for d in SAFE_ON_RESUME)} may change on --resume")
    settings = {} if args.steps is None else {"steps": args.steps}
    lock = runfiles.RunLock(folder).acquire()
    try:
        checkpoint = folder / runfiles.CHECKPOINT
        if checkpoint.exists():
            run, progress = training.load_checkpoint(checkpoint, config, **settings)
        elif (folder / "state.json").exists():
            raise ConfigError(f"--resume {folder}: the run was written by an older version (model.npz, "
                              "optimizer.npz, state.json), which saved too little to continue it exactly; "
                              "start a new run")
        else:  # stopped before its first checkpoint: start again, which is what an uninterrupted run did
            run, progress = training.build(config, **settings), training.Progress()
        if args.steps is not None and args.steps != config.steps:
            runfiles.write_json(folder / "config.json", run.config.as_dict())
    except BaseException:
        lock.release()
        raise
    return folder, run, progress, lock


# -- the command -------------------------------------------------------------------------
def prepare(args, given: dict) -> tuple[Path, training.Run, training.Progress, runfiles.RunLock]:
    """Validate everything and only then create the folder: a ConfigError leaves no trace."""
    if args.resume:
        return resume(args, given)
    config = common.config_from_args(args)
    run = training.build(config)
    name = config.strategy.replace(":", "-").replace(",", "-")
    folder = common.prepare_out_dir(args.out or f"runs/{config.task}-{name}", args.force)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)  # --force overwrites our files, never deletes others
    try:
        lock = runfiles.RunLock(folder).acquire()
    except runfiles.LockedError:
        if created:
            folder.rmdir()
        raise
    try:
        for stale in (runfiles.CHECKPOINT, "metrics.csv"):  # an older run's, which a resume must never pick up
            (folder / stale).unlink(missing_ok=True)
        runfiles.write_json(folder / "config.json", config.as_dict())
        draw_window(folder, run)
    except BaseException:
        lock.release()
        raise
    return folder, run, training.Progress(), lock


def summary(folder: Path, run: training.Run, progress: training.Progress, checkpoints: Checkpoints,
            wall: float) -> str:
    """The lines printed when training ends."""
    row, metric, c = progress.last, run.source.evaluation.metric_name, run.config
    chance = training.chance_level(run.source.evaluation)
    chance_text = f" (chance {chance:.3f})" if chance is not None else ""
    share = 100 * checkpoints.seconds / wall if wall > 0 else 0.0
    return "\n".join([
        f"run       {folder}  [{c.task}, {c.cell} {c.hidden}, {c.strategy}]",
        f"steps     {progress.step} in {progress.updates} updates, {progress.seconds:.1f} s",
        f"loss      {row.get('loss', float('nan')):.4f} per target",
        f"{metric:<9} {row.get('metric', float('nan')):.4f} on held-out data{chance_text}",
        f"tape      peak {runfiles.format_bytes(progress.peak_bytes)} held for one backward",
        f"saved     {checkpoints.count} checkpoints in {checkpoints.seconds:.3f} s ({share:.1f}% of this session's "
        f"{wall:.1f} s)",
    ])


class Interrupt:
    """SIGINT while training: the first asks the loop to stop after the current piece; the second aborts.

    A second Ctrl-C that lands while a checkpoint is being written waits until the
    write is complete (``saving``), so the step the abort message names is the one
    on disk, never the one before it.
    """

    def __init__(self):
        self.requested = False
        self.in_save = False
        self.abort_after_save = False

    @contextmanager
    def saving(self):
        """Hold back an abort while the block writes a checkpoint; abort right after it, if one came."""
        self.in_save = True
        try:
            yield
        finally:
            self.in_save = False
        if self.abort_after_save:
            raise KeyboardInterrupt

    def _handle(self, signum, frame):
        if self.requested:
            if self.in_save:
                self.abort_after_save = True
                return
            raise KeyboardInterrupt
        self.requested = True
        print(f"\n{PROG}: Ctrl-C: finishing the current piece, then saving (Ctrl-C again aborts without saving)",
              file=sys.stderr, flush=True)

    def __enter__(self):
        self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self.previous)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    try:
        folder, run, progress, lock = prepare(args, given_flags(argv))
    except (ConfigError, runfiles.LockedError) as error:
        return common.fail(PROG, error)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted before training started; nothing saved", file=sys.stderr)
        return EXIT_INTERRUPTED
    try:
        return session(folder, run, progress, resumed=bool(args.resume))
    finally:
        lock.release()


def session(folder: Path, run: training.Run, progress: training.Progress, resumed: bool) -> int:
    """Train to config.steps, checkpointing as we go; the exit code."""
    total = run.config.steps // run.config.seq_len * run.config.seq_len
    if progress.step >= total:
        print(f"nothing to do: {folder} is at step {progress.step} of {run.config.steps}; "
              "pass a larger --steps to train further")
        return 0
    from tqdm import tqdm

    started = time.perf_counter()
    checkpoints = Checkpoints(folder, run, progress.step if resumed and progress.step else None)
    if resumed:
        write_metrics(folder, progress)  # drop rows logged after the checkpoint by the stopped session
    bar = tqdm(total=total, initial=progress.step, unit="step", desc=run.config.strategy, dynamic_ncols=True)

    def on_log(row):
        bar.set_postfix(loss=f"{row['loss']:.3f}", **{run.source.evaluation.metric_name: f"{row['metric']:.3f}"})

    interrupt = Interrupt()

    def save(p):
        with interrupt.saving():
            checkpoints.save(p)

    def on_piece(p):
        bar.update(p.step - bar.n)
        if checkpoints.due():
            save(p)

    try:
        with interrupt, np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # the guard reports these
            training.train(run, progress, on_log=on_log, on_piece=on_piece, stop=lambda: interrupt.requested)
            bar.close()
            if checkpoints.step != progress.step:
                save(progress)
            write_results(folder, run, progress)
    except KeyboardInterrupt:
        bar.close()
        print(f"{PROG}: aborted by a second Ctrl-C; {checkpoints.where()}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except DivergenceError as error:
        bar.close()
        print(f"{PROG}: {' '.join(str(error).split())} ({checkpoints.where()})", file=sys.stderr)
        return EXIT_DIVERGED
    if progress.step < total:
        print(f"{PROG}: interrupted at step {progress.step}: checkpoint saved in {folder}; continue with "
              f"python -m rnn.train --resume {folder}", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(summary(folder, run, progress, checkpoints, time.perf_counter() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
