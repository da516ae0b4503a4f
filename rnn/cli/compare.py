"""``python -m rnn.compare``: several BPTT strategies, same task, same data, same initial weights.

    python -m rnn.compare --task echo --delay 8 \\
        --strategies full chunked:4 chunked:16 tbptt:4,16 randomized:0.5 artbp:0.1 --out runs/cmp

Strategy notation (``rnn.parse_strategy``): full, chunked:K, tbptt:K1,K2,
randomized:P, artbp[:C], checkpointed:SEGMENT, and any registered strategy.
Each strategy trains a model built with the same --seed on the same stream of
pieces, so the only difference is the strategy.  Prints a table (strategy,
final loss, metric, updates, time, peak tape bytes) and writes table.csv and
curves.png (the learning curves overlaid) into --out.

Exit codes: 0 done; 2 bad input (one line, nothing written; --out is checked
before anything trains); 3 a strategy diverged (the others still train, its
row shows nan and a line names the step); 130 Ctrl-C (nothing written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .. import runfiles, training
from ..training import ConfigError
from . import common

EXIT_DIVERGED = 3


def parser():
    """The command line of rnn.compare."""
    p = common.OneLineParser(prog="python -m rnn.compare",
                             description="train under several BPTT strategies on the same data and seed; tabulate and plot",
                             epilog=common.epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--strategies", nargs="+", default=["full", "chunked:4", "tbptt:4,16", "artbp:0.1"],
                   metavar="SPEC", help="strategies to compare, e.g. full chunked:4 tbptt:4,16 randomized:0.5 "
                                        "artbp:0.1 checkpointed:10 (default: full chunked:4 tbptt:4,16 artbp:0.1)")
    common.add_run_arguments(p)
    p.add_argument("--out", default="runs/compare", help="folder for table.csv and curves.png (default runs/compare)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it already exists")
    return p


def format_table(table: list, metric_name: str) -> str:
    """The comparison as aligned text."""
    lines = [f"{'strategy':<16}{'loss':>9}{metric_name:>10}{'updates':>9}{'time':>8}{'peak tape':>12}"]
    for row in table:
        lines.append(f"{row['strategy']:<16}{row['loss']:>9.3f}{row['metric']:>10.3f}{row['updates']:>9}"
                     f"{row['seconds']:>7.1f}s{runfiles.format_bytes(row['peak_bytes']):>12}")
    return "\n".join(lines)


def write_results(folder: Path, comparison: training.Comparison, title: str) -> None:
    """table.csv and curves.png in ``folder`` (created here)."""
    folder.mkdir(parents=True, exist_ok=True)
    evaluation = comparison.evaluation
    runfiles.write_csv(folder / "table.csv", comparison.table, training.TABLE_COLUMNS)
    runfiles.plot_curves(folder / "curves.png", comparison.curves, evaluation.metric_name, title,
                         training.chance_level(evaluation))


class Bars:
    """One tqdm progress bar per strategy, opened when its run starts and closed when the next starts."""

    def __init__(self, runs: dict):
        self.runs, self.spec, self.bar = runs, None, None

    def __call__(self, spec: str, progress: training.Progress) -> None:
        if spec != self.spec:
            self.close()
            from tqdm import tqdm

            config = self.runs[spec].config
            self.spec = spec
            self.bar = tqdm(total=config.steps // config.seq_len * config.seq_len, unit="step",
                            desc=f"{spec:<14}", leave=False, dynamic_ncols=True)
        self.bar.update(progress.step - self.bar.n)
        if progress.rows:
            self.bar.set_postfix(loss=f"{progress.last['loss']:.3f}", metric=f"{progress.last['metric']:.3f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        folder = common.prepare_out_dir(args.out, args.force)
        base = common.config_from_args(args, strategy="full")
        runs = training.build_runs(args.strategies, **base.as_dict())
    except ConfigError as error:
        return common.fail("rnn.compare", error)
    return run_and_report("rnn.compare", runs, folder, training.title_of(base))


def run_and_report(prog: str, runs: dict, folder: Path, title: str, footer=None) -> int:
    """Train the runs, print the table, write the results; the exit code (3 if a strategy diverged)."""
    bars = Bars(runs)
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a diverging run is reported below
            comparison = training.train_runs(runs, on_piece=bars)
    except KeyboardInterrupt:
        bars.close()
        print(f"\n{prog}: interrupted; nothing written", file=sys.stderr)
        return 130
    bars.close()
    evaluation = comparison.evaluation
    print(format_table(comparison.table, evaluation.metric_name))
    if footer is not None:
        print(footer(comparison))
    else:
        chance = training.chance_level(evaluation)
        if chance is not None:
            print(f"(chance {evaluation.metric_name}: {chance:.3f})")
    write_results(folder, comparison, title)
    print(f"wrote {folder / 'table.csv'} and {folder / 'curves.png'}")
    for spec, message in comparison.diverged.items():
        print(f"{prog}: {spec}: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_DIVERGED if comparison.diverged else 0


if __name__ == "__main__":
    sys.exit(main())
