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
The settings are ``rnn.training.DEMO``; ``rnn.training.compare_strategies``
does the work.
"""

from __future__ import annotations

import sys
import time

from .. import training
from ..training import DEMO, DEMO_STRATEGIES, ConfigError
from . import common
from .compare import run_and_report


def main(argv=None) -> int:
    p = common.OneLineParser(prog="python -m rnn.demo",
                             description=f"echo task, delay {DEMO['delay']}: truncation shorter than the delay "
                                         "does not learn it")
    p.add_argument("--out", default="runs/demo", help="folder for table.csv and curves.png (default runs/demo)")
    p.add_argument("--seed", type=common.seed, default=0, help="seed of the weights and data (default 0)")
    args = p.parse_args(argv)
    try:
        folder = common.prepare_out_dir(args.out, force=True)  # the demo's own folder: rewritten each time
        runs = training.build_runs(DEMO_STRATEGIES, **{**DEMO, "seed": args.seed})
    except ConfigError as error:
        return common.fail("rnn.demo", error)
    print(f"echo task, delay {DEMO['delay']}: {DEMO['cell']} RNN, hidden {DEMO['hidden']}, "
          f"{DEMO['steps']} steps in pieces of {DEMO['seq_len']}, batch {DEMO['batch']}")
    started = time.perf_counter()

    def footer(comparison):
        chance = training.chance_level(comparison.evaluation)
        return f"chance accuracy: {chance:.3f}; total {time.perf_counter() - started:.0f} s"

    config = next(iter(runs.values())).config
    return run_and_report("rnn.demo", runs, folder, training.title_of(config), footer)


if __name__ == "__main__":
    sys.exit(main())
