"""``python -m rnn.render``: draw the graph a BPTT strategy builds, from the command line.

    python -m rnn.render --model elman --strategy tbptt:3,5 --steps 12 --view compact --out graph.svg
    python -m rnn.render --strategy tbptt:3,5 --steps 12 --view run --out run.svg

The model runs on random inputs and targets (seeded).  The lesson views
(compact, ops, heat) draw ``rnn.unroll``: every step on its own, with the
strategy's edits.  ``--view run`` draws what training records
(``rnn.viz.as_run``): the tape each update backpropagates, one scan node per
stretch for a fused cell.  The output format is the extension of --out: .svg,
.png, .pdf, or .dot (the DOT source, which needs no graphviz program).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from minigrad import viz as mgviz

from .. import analysis, registry, viz
from ..bptt import unroll
from ..training import ConfigError
from . import common

LESSON_VIEWS = {"compact": viz.compact, "ops": viz.ops_view, "heat": viz.heat}
VIEWS = (*LESSON_VIEWS, "run")
N_IN, N_OUT = 2, 1
#: small values that make readable drawings (the registry's examples are for training)
EXAMPLES = {"k": 4, "k1": 3, "k2": 5, "p": 0.5, "c": 0.2, "segment": 4}


def parser() -> argparse.ArgumentParser:
    p = common.OneLineParser(
        prog="python -m rnn.render",
        description="Draw the unrolled graph of an RNN under a BPTT strategy: one cluster per time step, "
                    "cut edges dashed red, scaled edges labelled with their factor, each update's window "
                    "tagged W1, W2, ... and each update point marked.",
        epilog=common.epilog(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", choices=list(registry.CELLS), default="elman",
                   help="the cell: elman (h = tanh(A h + B x), y = C h), linear (no activation, no bias), lstm, gru, ... "
                        "(default: elman)")
    common.add_strategy_arguments(p, examples=EXAMPLES)
    p.add_argument("--seed", type=int, default=0, help="seed of the weights, the data and the random strategies "
                                                       "(an integer >= 0; default 0)")
    p.add_argument("--steps", type=int, default=12, help="sequence length T (default 12)")
    p.add_argument("--hidden", type=int, default=3, help="hidden units (default 3)")
    p.add_argument("--spectral-radius", type=float, default=None, metavar="R",
                   help="elman/linear: rescale the recurrent matrix so its spectral radius is R "
                        "(R < 1 contracts: gradients vanish; R > 1 expands: they explode; see --view heat)")
    p.add_argument("--unfused", action="store_true",
                   help="record each matrix product and activation as its own node (more detail in --view ops)")
    p.add_argument("--view", choices=VIEWS, default="compact",
                   help="compact: x_t, h_t, y_hat_t, l_t per step; ops: every tape node; "
                        "heat: h_t coloured by ||dL/dh_t|| on a log scale (these three: the lesson view, step by step); "
                        "run: what training records, the tape at each update's backward (default: compact)")
    p.add_argument("--out", default="graph.svg", help="output file; its extension (.svg .png .pdf .dot) is the format "
                                                      "(default graph.svg)")
    return p


def check(p: argparse.ArgumentParser, args) -> None:
    """Refuse values argparse's types cannot catch (parser.error: one line, exit code 2)."""
    for name in ("steps", "hidden"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.seed < 0:
        p.error(f"--seed must be a non-negative integer, got {args.seed}")
    try:
        args.spec = common.strategy_spec(args, EXAMPLES)
    except ConfigError as error:
        p.error(str(error))
    if args.spectral_radius is not None:
        if args.model not in ("elman", "linear"):
            p.error("--spectral-radius applies to --model elman or linear (a square recurrent matrix)")
        if not (math.isfinite(args.spectral_radius) and args.spectral_radius > 0):
            p.error(f"--spectral-radius must be a finite positive number, got {args.spectral_radius}")
    try:
        mgviz.format_of(args.out)
    except ValueError:
        p.error(f"--out must end in .svg, .png, .pdf or .dot, got {args.out!r}")
    try:
        common.check_output_file(args.out)
    except ConfigError as error:
        p.error(str(error))


def model_of(args):
    """The cell the flags describe, with seeded weights."""
    options = {"fused": False} if args.unfused else {}
    model = registry.make_cell(args.model, N_IN, args.hidden, N_OUT, seed=args.seed, **options)
    if args.spectral_radius is not None:
        analysis.set_spectral_radius(model, args.spectral_radius)
    return model


def drawing(args):
    """The graphviz.Digraph of the requested view (random seeded data)."""
    rng = np.random.default_rng(args.seed)
    xs, ys = rng.standard_normal((args.steps, N_IN)), rng.standard_normal((args.steps, N_OUT))
    strategy = registry.parse_strategy(args.spec)
    if args.view == "run":
        return viz.as_run(model_of(args), xs, ys, strategy)
    return LESSON_VIEWS[args.view](unroll(model_of(args), xs, ys, strategy))


def main(argv=None) -> int:
    p = parser()
    args = p.parse_args(argv)
    check(p, args)
    source = drawing(args).source
    created = [d for d in reversed(Path(args.out).absolute().parents) if not d.exists()]
    try:
        for folder in created:
            folder.mkdir()
        path = mgviz.render_source(source, args.out)
    except mgviz.GraphvizNotFoundError as error:
        for folder in reversed(created):
            folder.rmdir()
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        for folder in reversed(created):
            folder.rmdir()
        print(f"python -m rnn.render: error: --out {args.out}: cannot be written ({error.strerror})", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
