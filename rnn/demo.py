"""``python -m rnn.demo``: truncation shorter than the dependency cannot learn it.

The echo task asks for the symbol seen DELAY steps ago.  Five strategies
train the same Elman RNN on the same data:

    full          gradient from every loss back to the start of its piece
    chunked:3     windows of 3 steps < DELAY: the loss at t never reaches
                  the input at t - DELAY, so the echo stays at chance
    chunked:20    windows of 20 > DELAY: most targets lie in the same chunk
    tbptt:5,20    an update every 5 steps, each reaching 20 steps back
    artbp:0.1     random cuts, kept edges reweighted: unbiased on average

Prints the table and writes table.csv and curves.png to --out (runs/demo).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import experiment as ex
from .compare import build_all, compare, format_table, title_of, write_results

DELAY = 10
STRATEGIES = ["full", "chunked:3", "chunked:20", "tbptt:5,20", "artbp:0.1"]
CONFIG = {"task": "echo", "file": None, "delay": DELAY, "seq_len": 40, "batch": 32, "cell": "elman",
          "hidden": 32, "strategy": "full", "k": 10, "k1": 5, "k2": 20, "p": 0.5, "c": 0.1, "segment": 10,
          "steps": 20000, "optimizer": "adam", "lr": 0.003, "clip": 1.0, "seed": 0}


def run_demo(seed: int = 0, steps: int = CONFIG["steps"], show_progress: bool = True, **overrides):
    """Train every demo strategy; return (table rows, curves, the evaluation task)."""
    runs = build_all({**CONFIG, "seed": seed, "steps": steps, **overrides}, STRATEGIES)
    table, curves = compare(runs, show_progress=show_progress)
    return table, curves, next(iter(runs.values())).source.evaluation


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m rnn.demo",
                                description="echo task, delay 10: truncation shorter than the delay does not learn it")
    p.add_argument("--out", default="runs/demo", help="folder for table.csv and curves.png (default runs/demo)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and data (default 0)")
    args = p.parse_args(argv)
    print(f"echo task, delay {DELAY}: {CONFIG['cell']} RNN, hidden {CONFIG['hidden']}, "
          f"{CONFIG['steps']} steps in pieces of {CONFIG['seq_len']}, batch {CONFIG['batch']}")
    started = time.perf_counter()
    table, curves, evaluation = run_demo(seed=args.seed)
    print(format_table(table, evaluation.metric_name))
    print(f"chance accuracy: {ex.chance_level(evaluation):.3f}; total {time.perf_counter() - started:.0f} s")
    write_results(Path(args.out), table, curves, evaluation, title_of({**CONFIG, "seed": args.seed}))
    print(f"wrote {Path(args.out) / 'table.csv'} and {Path(args.out) / 'curves.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
