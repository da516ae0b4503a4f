"""``python -m rnn.compare``: several BPTT strategies, same task, same data, same initial weights.

    python -m rnn.compare --task echo --delay 8 \\
        --strategies full chunked:4 chunked:16 tbptt:4,16 randomized:0.5 artbp:0.1 --out runs/cmp

Strategy notation: full, chunked:K, tbptt:K1,K2, randomized:P, artbp[:C],
checkpointed:S.  Each strategy trains a model built with the same --seed on
the same stream of pieces, so the only difference is the strategy.  Prints
a table (strategy, final loss, metric, updates, time, peak tape bytes) and
writes table.csv and curves.png (the learning curves overlaid) into --out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import experiment as ex
from .train import OneLineParser

TABLE_COLUMNS = ["strategy", "loss", "metric", "updates", "seconds", "peak_bytes"]


def parser():
    """The command line of rnn.compare."""
    p = OneLineParser(prog="python -m rnn.compare",
                      description="train under several BPTT strategies on the same data and seed; tabulate and plot",
                      epilog=ex.strategy_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--strategies", nargs="+", default=["full", "chunked:4", "tbptt:4,16", "artbp:0.1"],
                   metavar="SPEC", help="strategies to compare, e.g. full chunked:4 tbptt:4,16 randomized:0.5 "
                                        "artbp:0.1 checkpointed:10 (default: full chunked:4 tbptt:4,16 artbp:0.1)")
    ex.add_arguments(p)
    p.set_defaults(strategy="full")  # config.json's field; each SPEC replaces it
    p.add_argument("--out", default="runs/compare", help="folder for table.csv and curves.png (default runs/compare)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it already exists")
    return p


def build_all(base: dict, specs: list) -> dict:
    """{spec: Run} for every strategy spec, all checked before anything is trained or written."""
    runs = {}
    for spec in specs:
        runs[spec] = ex.build({**base, **ex.parse_strategy_spec(spec)})
    return runs


def compare(runs: dict, show_progress: bool = True) -> tuple[list, dict]:
    """Train every run; return the table rows and {spec: log rows} for the plot."""
    from tqdm import tqdm

    table, curves = [], {}
    for spec, run in runs.items():
        bar = tqdm(total=run.config["steps"] // run.config["seq_len"] * run.config["seq_len"], unit="step",
                   desc=f"{spec:<14}", disable=not show_progress, leave=False, dynamic_ncols=True)

        def on_log(row, bar=bar):
            bar.set_postfix(loss=f"{row['loss']:.3f}", metric=f"{row['metric']:.3f}")

        progress = ex.train(run, ex.Progress(), on_log=on_log, on_piece=lambda p, bar=bar: bar.update(p.step - bar.n))
        bar.close()
        last = progress.last
        table.append({"strategy": spec, "loss": last["loss"], "metric": last["metric"],
                      "updates": progress.updates, "seconds": progress.seconds, "peak_bytes": progress.peak_bytes})
        curves[spec] = progress.rows
    return table, curves


def format_table(table: list, metric_name: str) -> str:
    """The comparison as aligned text."""
    lines = [f"{'strategy':<16}{'loss':>9}{metric_name:>10}{'updates':>9}{'time':>8}{'peak tape':>12}"]
    for row in table:
        lines.append(f"{row['strategy']:<16}{row['loss']:>9.3f}{row['metric']:>10.3f}{row['updates']:>9}"
                     f"{row['seconds']:>7.1f}s{ex.format_bytes(row['peak_bytes']):>12}")
    return "\n".join(lines)


def write_results(folder: Path, table: list, curves: dict, evaluation, title: str) -> None:
    """table.csv and curves.png in ``folder`` (created here)."""
    folder.mkdir(parents=True, exist_ok=True)
    ex.write_csv(folder / "table.csv", table, TABLE_COLUMNS)
    ex.plot_curves(folder / "curves.png", curves, evaluation.metric_name, title, ex.chance_level(evaluation))


def title_of(config: dict) -> str:
    """The plot title: task and model."""
    delay = f" delay {config['delay']}" if config["task"] == "echo" else ""
    return f"{config['task']}{delay}, {config['cell']} {config['hidden']}, seq-len {config['seq_len']}"


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    base = ex.config_from_args(args)
    base["steps"] = base["steps"] or ex.DEFAULT_STEPS
    try:
        runs = build_all(base, args.strategies)
        folder = ex.prepare_out_dir(args.out, args.force)
    except ex.UsageError as error:
        print(f"rnn.compare: error: {error}", file=sys.stderr)
        return 2
    table, curves = compare(runs)
    evaluation = next(iter(runs.values())).source.evaluation
    print(format_table(table, evaluation.metric_name))
    chance = ex.chance_level(evaluation)
    if chance is not None:
        print(f"(chance {evaluation.metric_name}: {chance:.3f})")
    write_results(folder, table, curves, evaluation, title_of(base))
    print(f"wrote {folder / 'table.csv'} and {folder / 'curves.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
