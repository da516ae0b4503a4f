"""What the command lines share: one-line errors, the run and strategy flags, the output folder.

The strategy flags are made from ``rnn.registry``: ``--strategy SPEC`` and one
flag per parameter any registered strategy takes (``--k``, ``--k1``, ``--k2``,
``--p``, ``--c``, ``--segment``, ...), so a newly registered strategy appears
in every ``--help`` and parses with no edit here.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from minigrad import validate

from .. import registry
from ..training import OPTIMIZERS, TASKS, Config, ConfigError


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (then exit code 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def seed(text: str) -> int:
    """argparse type: a random seed, an integer >= 0."""
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(text)
    return value


def add_strategy_arguments(parser, examples: dict | None = None, spec_help: str | None = None) -> None:
    """``--strategy SPEC`` and a flag for each strategy parameter, all read from the registry.

    ``examples`` replaces the registered example values (what a parameter is
    when neither the spec nor its flag gives it) for this command line.
    """
    examples = examples or {}
    g = parser.add_argument_group("strategy (one line each in the list at the end)")
    g.add_argument("--strategy", default="full", metavar="SPEC",
                   help=spec_help or "the BPTT strategy: a name, or a spec with its values such as tbptt:4,16 "
                                     "(values in the spec win over the flags below; default: full)")
    for name, param in registry.strategy_parameters().items():
        users = registry.strategies_taking(name)
        shown = [f"{u} {examples.get(name, registry.STRATEGIES[u].examples.get(name, _default(u, name)))}"
                 for u in users]
        g.add_argument(f"--{name}", type=param.kind, default=None,
                       help=f"{name} of {', '.join(users)} (when not given: {', '.join(shown)})")


def _default(strategy: str, name: str):
    return registry.STRATEGIES[strategy].param(name).default


def strategy_spec(args, examples: dict | None = None) -> str:
    """The spec that ``--strategy`` and the parameter flags describe, e.g. ``"tbptt:4,16"``."""
    given = {name: getattr(args, name) for name in registry.strategy_parameters()}
    given["seed"] = getattr(args, "seed", 0)
    try:
        entry = registry.strategy_entry(registry.split_spec(args.strategy)[0])
        taken = {p.name for p in entry.params}
        stray = [name for name in registry.strategy_parameters() if getattr(args, name) is not None and name not in taken]
        if stray:
            raise ConfigError(f"--{stray[0]} does not apply to strategy {entry.name} "
                              f"(it takes: {', '.join(sorted(taken - {'seed'})) or 'no parameters'})")
        return registry.describe(registry.parse_strategy(args.strategy, examples=examples, **given))
    except (ValueError, TypeError) as error:
        raise ConfigError(str(error)) from None


def add_run_arguments(parser, defaults: Config = Config()) -> None:
    """The task, model and optimization flags of a training run (train, compare)."""
    g = parser.add_argument_group("task")
    g.add_argument("--task", default=defaults.task, help=f"the sequence task: {', '.join(TASKS)} (default: {defaults.task})")
    g.add_argument("--file", help="the UTF-8 text file for --task text (vocabulary built from it)")
    g.add_argument("--delay", type=int, default=defaults.delay,
                   help=f"echo: output the symbol seen this many steps ago (the dependency length; default {defaults.delay})")
    g.add_argument("--seq-len", "--T", dest="seq_len", type=positive_int, default=defaults.seq_len,
                   help="length of each training piece; synthetic tasks draw fresh sequences of this length, "
                        f"text is read in consecutive chunks of it (default {defaults.seq_len})")
    g.add_argument("--batch", type=positive_int, default=defaults.batch,
                   help=f"sequences trained side by side (default {defaults.batch})")
    g = parser.add_argument_group("model")
    g.add_argument("--cell", default=defaults.cell, help=f"recurrent cell: {', '.join(registry.CELLS)} (default: {defaults.cell})")
    g.add_argument("--hidden", type=positive_int, default=defaults.hidden, help=f"hidden state size (default {defaults.hidden})")
    g = parser.add_argument_group("optimization")
    g.add_argument("--steps", type=positive_int, default=None,
                   help=f"time steps to train on, in whole pieces of --seq-len (default {defaults.steps})")
    g.add_argument("--optimizer", default=defaults.optimizer, help=f"{', '.join(OPTIMIZERS)} (default: {defaults.optimizer})")
    g.add_argument("--lr", type=positive_float, default=defaults.lr, help=f"learning rate (default {defaults.lr})")
    g.add_argument("--clip", type=positive_float, default=defaults.clip,
                   help="clip each update's gradient to this L2 norm (default: no clipping)")
    g.add_argument("--seed", type=seed, default=defaults.seed,
                   help="seed of the weights, the data and random strategies (an integer >= 0)")


def config_from_args(args, strategy: str | None = None) -> Config:
    """The run's Config from parsed flags (``strategy``: a spec that replaces --strategy)."""
    file = os.path.abspath(args.file) if args.file else None  # so a resume from another folder reads the same file
    return Config(task=args.task, file=file, delay=args.delay, seq_len=args.seq_len, batch=args.batch,
                  cell=args.cell, hidden=args.hidden, strategy=strategy or strategy_spec(args),
                  steps=args.steps or Config.steps, optimizer=args.optimizer, lr=args.lr, clip=args.clip,
                  seed=args.seed)


def epilog() -> str:
    """The list of strategies and cells at the end of --help."""
    return registry.strategy_help() + "\n\n" + registry.cell_help()


def prepare_out_dir(path, force: bool, flag: str = "--out") -> Path:
    """Check (without creating anything) that the folder ``path`` may be written: free (or --force),
    and creatable and writable."""
    path = Path(path)
    try:
        validate.creatable_folder(flag, path)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if path.exists() and any(path.iterdir()) and not force:
        raise ConfigError(f"{flag} {path} already exists; pass --force to overwrite its files")
    return path


def check_output_file(path, flag: str = "--out") -> Path:
    """Check (without creating anything) that the file ``path`` may be written."""
    try:
        return validate.writable_file(flag, path)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def fail(prog: str, error) -> int:
    """Print a user error as one line on stderr; return exit code 2."""
    print(f"{prog}: error: {error}", file=sys.stderr)
    return 2
