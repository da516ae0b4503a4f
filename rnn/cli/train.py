"""``python -m rnn.train``: train one recurrent model under one BPTT strategy.

    python -m rnn.train --task echo --delay 8 --cell elman --hidden 32 \\
        --strategy tbptt:4,12 --steps 6000 --optimizer adam --lr 0.01 \\
        --clip 1.0 --seed 0 --out runs/echo-tbptt

The run folder holds config.json (the settings), metrics.csv (step, updates,
loss, metric, seconds per log row), curve.png, the checkpoint (model.npz,
optimizer.npz, state.json) and, when graphviz's ``dot`` is installed,
window.svg: the unrolled graph of the first steps under the strategy.
``--resume runs/NAME`` continues from the checkpoint, step count included.
Ctrl-C saves the checkpoint and exits with code 130.  Bad input is one line on
stderr, exit code 2, and nothing written.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from .. import registry, runfiles, training, viz
from ..bptt import unroll
from ..training import Config, ConfigError
from . import common

WINDOW_STEPS = 12  # steps drawn in window.svg
METRIC_COLUMNS = ["step", "updates", "loss", "metric", "seconds"]


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
    g.add_argument("--resume", metavar="RUN", help="continue the run in folder RUN from its checkpoint; "
                                                   "its config.json is used, only --steps (the new total) may change")
    return p


# -- the run folder ---------------------------------------------------------------------
def save_checkpoint(folder: Path, run: training.Run, progress: training.Progress) -> None:
    """model.npz, optimizer.npz and state.json, each written atomically (the state last)."""
    runfiles.write_npz(folder / "model.npz", run.model.state_dict())
    runfiles.write_npz(folder / "optimizer.npz", run.optimizer.state_dict())
    runfiles.write_json(folder / "state.json", {"step": progress.step, "updates": progress.updates,
                                                "seconds": round(progress.seconds, 3), "peak_bytes": progress.peak_bytes})


def save_metrics(folder: Path, run: training.Run, progress: training.Progress) -> None:
    """metrics.csv and curve.png from every log row so far."""
    runfiles.write_csv(folder / "metrics.csv", progress.rows, METRIC_COLUMNS)
    evaluation = run.source.evaluation
    c = run.config
    runfiles.plot_curves(folder / "curve.png", {f"{c.strategy} ({c.cell}, {c.hidden})": progress.rows},
                         evaluation.metric_name, f"{c.task}: {c.strategy}", training.chance_level(evaluation))


def load_run(folder: Path, steps: int | None) -> tuple[training.Run, training.Progress]:
    """Rebuild a run from its folder: config, weights, optimizer state, step count and log rows."""
    needed = ["config.json", "model.npz", "optimizer.npz", "state.json", "metrics.csv"]
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise ConfigError(f"--resume {folder}: not a run folder (missing {', '.join(missing)})")
    config = Config.from_dict(json.loads((folder / "config.json").read_text()))
    run = training.build(config, **({} if steps is None else {"steps": steps}))
    try:
        run.model.load(folder / "model.npz")
        with np.load(folder / "optimizer.npz", allow_pickle=False) as archive:
            run.optimizer.load_state_dict({name: archive[name] for name in archive.files})
    except ValueError as error:
        raise ConfigError(f"--resume {folder}: checkpoint does not fit its config: {error}") from None
    state = json.loads((folder / "state.json").read_text())
    rows = [row for row in runfiles.read_csv(folder / "metrics.csv") if row["step"] <= state["step"]]
    return run, training.Progress(state["step"], state["updates"], state["seconds"], state["peak_bytes"], rows)


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


# -- the command -------------------------------------------------------------------------
def prepare(args) -> tuple[Path, training.Run, training.Progress]:
    """Validate everything and only then create the folder: a ConfigError leaves no trace."""
    if args.resume:
        folder = Path(args.resume)
        run, progress = load_run(folder, args.steps)
        return folder, run, progress
    config = common.config_from_args(args)
    run = training.build(config)
    name = config.strategy.replace(":", "-").replace(",", "-")
    folder = common.prepare_out_dir(args.out or f"runs/{config.task}-{name}", args.force)
    folder.mkdir(parents=True, exist_ok=True)  # --force overwrites our files, never deletes others
    runfiles.write_json(folder / "config.json", config.as_dict())
    draw_window(folder, run)
    return folder, run, training.Progress()


def summary(folder: Path, run: training.Run, progress: training.Progress) -> str:
    """The lines printed when training ends."""
    row, metric, c = progress.last, run.source.evaluation.metric_name, run.config
    chance = training.chance_level(run.source.evaluation)
    chance_text = f" (chance {chance:.3f})" if chance is not None else ""
    return "\n".join([
        f"run       {folder}  [{c.task}, {c.cell} {c.hidden}, {c.strategy}]",
        f"steps     {progress.step} in {progress.updates} updates, {progress.seconds:.1f} s",
        f"loss      {row.get('loss', float('nan')):.4f} per target",
        f"{metric:<9} {row.get('metric', float('nan')):.4f} on held-out data{chance_text}",
        f"tape      peak {runfiles.format_bytes(progress.peak_bytes)} held for one backward",
    ])


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        folder, run, progress = prepare(args)
    except ConfigError as error:
        print(f"rnn.train: error: {error}", file=sys.stderr)
        return 2
    if progress.step >= run.config.steps:
        print(f"nothing to do: {folder} is at step {progress.step} of {run.config.steps}; "
              "pass a larger --steps to train further")
        return 0
    from tqdm import tqdm

    bar = tqdm(total=run.config.steps // run.config.seq_len * run.config.seq_len, initial=progress.step,
               unit="step", desc=run.config.strategy, dynamic_ncols=True)

    def on_log(row):
        bar.set_postfix(loss=f"{row['loss']:.3f}", **{run.source.evaluation.metric_name: f"{row['metric']:.3f}"})
        save_checkpoint(folder, run, progress)
        runfiles.write_csv(folder / "metrics.csv", progress.rows, METRIC_COLUMNS)

    def on_piece(p):
        bar.update(p.step - bar.n)

    try:
        training.train(run, progress, on_log=on_log, on_piece=on_piece)
    except KeyboardInterrupt:
        bar.close()
        save_checkpoint(folder, run, progress)
        save_metrics(folder, run, progress)
        print(f"\ninterrupted at step {progress.step}: checkpoint saved; continue with "
              f"python -m rnn.train --resume {folder}", file=sys.stderr)
        return 130
    bar.close()
    save_checkpoint(folder, run, progress)
    save_metrics(folder, run, progress)
    print(summary(folder, run, progress))
    return 0


if __name__ == "__main__":
    sys.exit(main())
