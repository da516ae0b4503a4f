"""`python -m rnn.render`: draw the graph a BPTT strategy builds, from the command line.

    python -m rnn.render --model elman --strategy tbptt --k1 3 --k2 5 --steps 12 \\
        --view compact --out graph.svg

The model runs on random inputs and targets (seeded), ``rnn.unroll`` records
the forward pass with the strategy's edits, and ``rnn.viz`` draws it.  The
output format is the extension of --out: .svg, .png, .pdf, or .dot (the DOT
source, which needs no graphviz program).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from minigrad import viz as mgviz

from . import viz
from .bptt import unroll
from .cells import GRU, LSTM, ElmanRNN, LinearRNN
from .truncation import ARTBP, TBPTT, Checkpointed, Chunked, Full, Randomized

MODELS = {"elman": ElmanRNN, "linear": LinearRNN, "lstm": LSTM, "gru": GRU}
STRATEGIES = ("full", "chunked", "tbptt", "randomized", "artbp", "checkpointed")
VIEWS = {"compact": viz.compact, "ops": viz.ops_view, "heat": viz.heat}
N_IN, N_OUT = 2, 1


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block), still with exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="python -m rnn.render",
        description="Draw the unrolled graph of an RNN under a BPTT strategy: one cluster per time step, "
                    "cut edges dashed red, scaled edges labelled with their factor, each update's window "
                    "tagged W1, W2, ... and each update point marked.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--model", choices=MODELS, default="elman",
                   help="the cell: elman (h = tanh(A h + B x), y = C h), linear (no activation, no bias), lstm, gru")
    p.add_argument("--strategy", choices=STRATEGIES, default="full",
                   help="full BPTT; chunked (--k); tbptt (--k1, --k2); randomized (--p); artbp (--c); "
                        "checkpointed (--k = segment; draws the same graph as full, recomputed in segments)")
    p.add_argument("--k", type=int, default=4, help="chunk length (chunked) or segment length (checkpointed)")
    p.add_argument("--k1", type=int, default=3, help="tbptt: update every k1 steps")
    p.add_argument("--k2", type=int, default=5, help="tbptt: each update backpropagates k2 steps (k2 >= k1)")
    p.add_argument("--p", type=float, default=0.5,
                   help="randomized: keep each recurrent edge with probability p, scaled by 1/p")
    p.add_argument("--c", type=float, default=0.2,
                   help="artbp: truncation probability c per step; kept edges are scaled by 1/(1-c)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights, the data and the random strategies")
    p.add_argument("--steps", type=int, default=12, help="sequence length T")
    p.add_argument("--hidden", type=int, default=3, help="hidden units")
    p.add_argument("--spectral-radius", type=float, default=None, metavar="R",
                   help="elman/linear: rescale the recurrent matrix so its spectral radius is R "
                        "(R < 1 contracts: gradients vanish; R > 1 expands: they explode; see --view heat)")
    p.add_argument("--unfused", action="store_true",
                   help="record each matrix product and activation as its own node (more detail in --view ops)")
    p.add_argument("--view", choices=VIEWS, default="compact",
                   help="compact: x_t, h_t, y_hat_t, l_t per step; ops: every tape node; "
                        "heat: h_t coloured by ||dL/dh_t|| on a log scale")
    p.add_argument("--out", default="graph.svg", help="output file; its extension (.svg .png .pdf .dot) is the format")
    return p


def check(p: argparse.ArgumentParser, args) -> None:
    """Refuse values argparse's types cannot catch (parser.error: one line, exit code 2)."""
    for name in ("steps", "hidden", "k", "k1", "k2"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.strategy == "tbptt" and args.k2 < args.k1:
        p.error(f"--k2 must be >= --k1 (each update must reach its own losses), got k1={args.k1}, k2={args.k2}")
    if not 0 < args.p <= 1:
        p.error(f"--p must be in (0, 1], got {args.p}")
    if not 0 < args.c < 1:
        p.error(f"--c must be in (0, 1), got {args.c}")
    if args.spectral_radius is not None:
        if args.model not in ("elman", "linear"):
            p.error("--spectral-radius applies to --model elman or linear (a square recurrent matrix)")
        if not args.spectral_radius > 0:
            p.error(f"--spectral-radius must be positive, got {args.spectral_radius}")
    try:
        mgviz.format_of(args.out)
    except ValueError:
        p.error(f"--out must end in .svg, .png, .pdf or .dot, got {args.out!r}")


def strategy_of(args):
    """The strategy object the flags describe."""
    return {
        "full": lambda: Full(),
        "chunked": lambda: Chunked(args.k),
        "tbptt": lambda: TBPTT(args.k1, args.k2),
        "randomized": lambda: Randomized(args.p, seed=args.seed),
        "artbp": lambda: ARTBP(c=args.c, seed=args.seed),
        "checkpointed": lambda: Checkpointed(args.k),
    }[args.strategy]()


def set_spectral_radius(model, radius: float) -> None:
    """Rescale the recurrent matrix (A, or W_hh) so that max |eigenvalue| = radius."""
    recurrent = model.weights()[0]
    recurrent.data *= radius / np.max(np.abs(np.linalg.eigvals(recurrent.data)))


def model_of(args):
    """The cell the flags describe, with seeded weights."""
    model = MODELS[args.model](N_IN, args.hidden, N_OUT, seed=args.seed, fused=not args.unfused)
    if args.spectral_radius is not None:
        set_spectral_radius(model, args.spectral_radius)
    return model


def drawing(args):
    """The graphviz.Digraph of the requested view (random seeded data)."""
    rng = np.random.default_rng(args.seed)
    xs, ys = rng.standard_normal((args.steps, N_IN)), rng.standard_normal((args.steps, N_OUT))
    return VIEWS[args.view](unroll(model_of(args), xs, ys, strategy_of(args)))


def main(argv=None) -> int:
    p = parser()
    args = p.parse_args(argv)
    check(p, args)
    try:
        path = mgviz.render_source(drawing(args).source, args.out)
    except mgviz.GraphvizNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
