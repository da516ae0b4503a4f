"""python -m benchmarks.workload: D2L's Time Machine recipe end to end, minigrad next to PyTorch.

The step benchmarks (``python -m benchmarks``) time one training step of fixed
sizes; this one times a whole training run as a course user meets it: the
recipe of "Dive into Deep Learning" (the RNN chapters; ``tutorials/07`` runs it
in the lesson), on the text of *The Time Machine*:

* D2L's preprocessing (letters only, lower case, every other run of characters
  one space) and its character vocabulary: ``<unk>`` first (it never occurs),
  then the space and the 26 letters, 28 tokens;
* overlapping windows of 32 characters, each target the next character; the
  first 10,000 windows train, the next 5,000 validate;
* batches of 1,024 windows drawn at random (10 per epoch, the last one 784),
  every window read from h_0 = 0 with full BPTT over its 32 steps;
* an Elman RNN with biases, 32 tanh units, a linear readout to 28 logits,
  every weight matrix drawn from N(0, 0.01^2) and the biases zero;
* one-hot inputs (as D2L's model makes them), the mean cross-entropy of every
  target of a batch, SGD with learning rate 1, the gradient norm clipped at 1.

The same recipe runs in minigrad (``rnn.ElmanRNN(..., bias=True)`` trained by
``rnn.fit(..., rnn.Full(), SGD, loss="ce", clip=1, reduction="mean")``, in
float32 and in float64) and, when torch is importable, in PyTorch
(``torch.nn.RNN(tanh)`` + ``torch.nn.Linear``, ``clip_grad_norm_``,
``torch.optim.SGD``), from the same initial weights on the same batches.
nn.RNN adds two biases, b_ih + b_hh, where the minigrad model has one: b_hh is
held at zero (no gradient), so both train the same function of the same
parameters.  Both get the same one-hot arrays; minigrad's fused cell reads them
as the token indices they spell (``rnn.fused.one_hot_as_indices``, an exact
test), PyTorch multiplies them.  Every library uses one thread
(``threadpool_limits(1)`` for NumPy's BLAS, ``torch.set_num_threads(1)``).

Timing is interleaved by epoch: epoch e of every implementation runs before
epoch e + 1 of any, each starting one implementation further on, so a change
in the load of the (shared) machine hits all of them alike.  The ratio to
PyTorch divides the medians of the per-epoch times of the same dtype.  The
one-hot batches are made inside the timed epochs, the same NumPy array handed
to each library.  Validation perplexity is computed after training, untimed.

    python -m benchmarks.workload                 # 100 epochs, writes benchmarks/WORKLOAD.md
    python -m benchmarks.workload --quick         # a few batches: a smoke run in seconds
    python -m benchmarks.workload --epochs 10 --out /tmp/workload.md
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import math
import re
import shlex
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import minigrad as mg
import rnn
from minigrad import validate
from rnn import tasks, training

from . import report
from .configs import positive_int
from .targets import issue19_targets

HERE = Path(__file__).resolve().parent
DATA_FILES = (HERE.parent / "data" / "timemachine.txt", Path("/work/shared/data/timemachine.txt"))
DEFAULT_OUT = HERE / "WORKLOAD.md"
#: the first losses of minigrad and PyTorch (float32) compared in the report
COMPARED_LOSSES = 5
#: D2L's vocabulary puts the unknown token first; it never occurs in this text
UNKNOWN = "<unk>"


@dataclass(frozen=True)
class Recipe:
    """D2L's settings: window length, batch, hidden units, learning rate, clipping bound, data, epochs."""

    window: int = 32
    batch: int = 1024
    hidden: int = 32
    lr: float = 1.0
    clip: float = 1.0
    n_train: int = 10_000
    n_val: int = 5_000
    epochs: int = 100
    seed: int = 0

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(self.n_train / self.batch)


FULL = Recipe()
#: --quick: three batches of 64 windows per epoch, two epochs
QUICK = Recipe(batch=64, n_train=192, n_val=128, epochs=2)


# -- the data ---------------------------------------------------------------------------------
@dataclass
class Data:
    """The encoded text cut into windows: inputs and next-character targets, (windows, steps) indices."""

    vocab: list
    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray

    @property
    def V(self) -> int:
        return len(self.vocab)


def text_file() -> Path:
    """The repository's data/timemachine.txt, or the shared copy."""
    for path in DATA_FILES:
        if path.exists():
            return path
    raise FileNotFoundError(f"The Time Machine not found; looked for {', '.join(str(p) for p in DATA_FILES)}")


def load_data(recipe: Recipe, path: Path | None = None) -> Data:
    """D2L's preprocessing and vocabulary (as in ``tutorials/07``), then the recipe's windows.

    The characters are encoded by ``rnn.tasks.CharText`` (sorted: the space,
    then a-z); D2L's vocabulary has ``<unk>`` before them, so its index of a
    character is CharText's plus one.
    """
    raw = (path or text_file()).read_text(encoding="utf-8")
    text = re.sub("[^A-Za-z]+", " ", raw).lower()
    book = tasks.CharText.from_string(text, name="The Time Machine")
    corpus = book.encode(text) + 1
    needed = recipe.n_train + recipe.n_val + recipe.window
    if len(corpus) < needed:
        raise ValueError(f"the text has {len(corpus):,} characters; the recipe needs {needed:,}")
    starts = np.arange(recipe.n_train + recipe.n_val)
    windows = corpus[starts[:, None] + np.arange(recipe.window + 1)]  # (windows, window + 1)
    train, val = windows[:recipe.n_train], windows[recipe.n_train:]
    return Data([UNKNOWN] + book.vocab, train[:, :-1], train[:, 1:], val[:, :-1], val[:, 1:])


def epoch_batches(recipe: Recipe, epoch: int) -> list[np.ndarray]:
    """The windows of each batch of one epoch: a fresh permutation per epoch, from the recipe's seed."""
    order = np.random.default_rng((recipe.seed, epoch)).permutation(recipe.n_train)
    return [order[first:first + recipe.batch] for first in range(0, recipe.n_train, recipe.batch)]


def one_hot(indices: np.ndarray, V: int, dtype) -> np.ndarray:
    """(windows, steps) indices as (steps, windows, V) one-hot vectors: time first, as both libraries take them."""
    return np.eye(V, dtype=dtype)[indices.T]


def initial_weights(recipe: Recipe, V: int) -> dict:
    """D2L's initialisation in float64: every matrix N(0, 0.01^2), biases 0 (names of ``rnn.ElmanRNN``)."""
    draw = np.random.default_rng(recipe.seed)
    H = recipe.hidden
    return {
        "A": 0.01 * draw.standard_normal((H, H)),
        "B": 0.01 * draw.standard_normal((H, V)),
        "C": 0.01 * draw.standard_normal((V, H)),
        "b_h": np.zeros(H),
        "b_y": np.zeros(V),
    }


def perplexity_of(logits: np.ndarray, targets: np.ndarray) -> float:
    """exp of the mean cross-entropy of (steps, windows, V) logits under (steps, windows) targets, in float64."""
    z = logits.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    log_probabilities = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return float(np.exp(-np.take_along_axis(log_probabilities, targets[..., None], axis=-1).mean()))


# -- the two libraries -------------------------------------------------------------------------
class MinigradRecipe:
    """The recipe in minigrad: ``rnn.fit`` with Full BPTT, SGD, clipping and the mean loss, per batch."""

    library = "minigrad"

    def __init__(self, recipe: Recipe, data: Data, weights: dict, dtype):
        self.recipe, self.data, self.dtype = recipe, data, np.dtype(dtype)
        self.model = rnn.ElmanRNN(data.V, recipe.hidden, data.V, bias=True, dtype=self.dtype)
        self.model.load_state_dict({name: w.astype(self.dtype) for name, w in weights.items()})
        self.optimizer = mg.optim.SGD(self.model.parameters(), lr=recipe.lr)

    def train_batch(self, chosen: np.ndarray) -> float:
        """One update on the windows ``chosen``; the batch's mean loss."""
        xs = one_hot(self.data.train_x[chosen], self.data.V, self.dtype)
        history = rnn.fit(self.model, xs, self.data.train_y[chosen].T, rnn.Full(), self.optimizer, loss="ce",
                          clip=self.recipe.clip, reduction="mean")
        return history.losses[0]

    def validation_perplexity(self) -> float:
        """Perplexity over the validation windows, each read from h_0 = 0."""
        return perplexity_of(training.predict(self.model, self.data.val_x.T), self.data.val_y.T)


class TorchRecipe:
    """The recipe in PyTorch: ``nn.RNN(tanh)`` + ``nn.Linear``, mean cross-entropy, ``clip_grad_norm_``, SGD."""

    library = "PyTorch"

    def __init__(self, recipe: Recipe, data: Data, weights: dict, dtype):
        import torch

        self.torch, self.recipe, self.data, self.dtype = torch, recipe, data, np.dtype(dtype)
        tdtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[self.dtype]
        self.layer = torch.nn.RNN(data.V, recipe.hidden, nonlinearity="tanh", bias=True).to(tdtype)
        self.readout = torch.nn.Linear(recipe.hidden, data.V).to(tdtype)
        copies = {self.layer.weight_hh_l0: "A", self.layer.weight_ih_l0: "B", self.layer.bias_ih_l0: "b_h",
                  self.readout.weight: "C", self.readout.bias: "b_y"}
        with torch.no_grad():
            for parameter, name in copies.items():
                parameter.copy_(torch.from_numpy(weights[name]))
            self.layer.bias_hh_l0.zero_()
        self.layer.bias_hh_l0.requires_grad_(False)  # one hidden bias, as in the minigrad model
        self.params = list(copies)
        self.optimizer = torch.optim.SGD(self.params, lr=recipe.lr)

    def logits(self, xs: np.ndarray):
        states, _ = self.layer(self.torch.from_numpy(xs))  # (steps, windows, hidden), from h_0 = 0
        return self.readout(states)

    def train_batch(self, chosen: np.ndarray) -> float:
        torch = self.torch
        xs = one_hot(self.data.train_x[chosen], self.data.V, self.dtype)
        ys = torch.from_numpy(np.ascontiguousarray(self.data.train_y[chosen].T))
        loss = torch.nn.functional.cross_entropy(self.logits(xs).reshape(-1, self.data.V), ys.reshape(-1))
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, self.recipe.clip)
        self.optimizer.step()
        return loss.item()

    def validation_perplexity(self) -> float:
        with self.torch.no_grad():
            logits = self.logits(one_hot(self.data.val_x, self.data.V, self.dtype)).numpy()
        return perplexity_of(logits, self.data.val_y.T)


# -- the run -------------------------------------------------------------------------------------
@dataclass
class Result:
    """One implementation's run: per-epoch seconds, every update's loss, the final validation perplexity."""

    library: str
    dtype: str
    epoch_seconds: list = field(default_factory=list)
    losses: list = field(default_factory=list)
    validation_perplexity: float | None = None

    @property
    def name(self) -> str:
        return f"{self.library} {self.dtype}"

    @property
    def seconds(self) -> float:
        return sum(self.epoch_seconds)

    @property
    def median_epoch(self) -> float:
        return statistics.median(self.epoch_seconds)

    def train_perplexity(self, last: int) -> float:
        """exp of the mean of the last ``last`` batch losses (the last epoch's)."""
        return math.exp(statistics.fmean(self.losses[-last:]))


def torch_available() -> bool:
    """Whether torch can be imported (without importing it)."""
    return importlib.util.find_spec("torch") is not None


def run(recipe: Recipe, dtypes=("float32", "float64"), use_torch: bool = True, progress=None) -> list[Result]:
    """Train every implementation, epochs interleaved; one BLAS (and torch) thread throughout."""
    data = load_data(recipe)
    weights = initial_weights(recipe, data.V)
    kinds = [MinigradRecipe] + ([TorchRecipe] if use_torch else [])
    with threadpool_limits(1):
        if use_torch:
            import torch

            torch.set_num_threads(1)
        pairs = [(kind(recipe, data, weights, dtype), Result(kind.library, dtype)) for dtype in dtypes for kind in kinds]
        for kind in kinds:  # untimed: numba's kernels load (or compile), torch sets itself up
            for dtype in dtypes:
                kind(recipe, data, weights, dtype).train_batch(np.arange(min(recipe.batch, recipe.n_train)))
        for epoch in range(recipe.epochs):
            batches = epoch_batches(recipe, epoch)
            turn = epoch % len(pairs)
            for impl, result in pairs[turn:] + pairs[:turn]:
                start = time.perf_counter()
                losses = [impl.train_batch(chosen) for chosen in batches]
                result.epoch_seconds.append(time.perf_counter() - start)
                result.losses += losses
            if progress is not None:
                progress(epoch + 1, recipe.epochs)
        for impl, result in pairs:
            result.validation_perplexity = impl.validation_perplexity()
    return [result for _, result in pairs]


def first_losses_agreement(results: list[Result], n: int = COMPARED_LOSSES) -> float | None:
    """The largest relative difference between the first ``n`` losses of minigrad float32 and PyTorch float32."""
    found = {r.name: r for r in results}
    ours, theirs = found.get("minigrad float32"), found.get("PyTorch float32")
    if ours is None or theirs is None:
        return None
    a, b = np.array(ours.losses[:n]), np.array(theirs.losses[:n])
    return float(np.max(np.abs(a - b) / np.abs(b)))


# -- the report ------------------------------------------------------------------------------------
def render(command: str, recipe: Recipe, results: list[Result], facts: list[str], quick: bool) -> str:
    """WORKLOAD.md: what ran, the table, the agreement of the first losses, the machine."""
    rows = []
    by_name = {r.name: r for r in results}
    for r in results:
        torch_row = by_name.get(f"PyTorch {r.dtype}")
        ratio = "-" if torch_row is None else f"{r.median_epoch / torch_row.median_epoch:.2f}x"
        rows.append([r.library, r.dtype, f"{r.seconds:.2f}", f"{r.median_epoch:.3f}", ratio,
                     f"{r.train_perplexity(recipe.batches_per_epoch):.3f}", f"{r.validation_perplexity:.3f}"])
    headers = ["library", "dtype", "seconds", "median s / epoch", "vs PyTorch (same dtype)",
               "train perplexity (last epoch)", "validation perplexity"]
    lines = [
        "# D2L's Time Machine recipe, end to end",
        "",
        f"Written by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
        "The machine is shared and noisy: compare only ratios taken in one run. How to read and reproduce: "
        "the docstring of `benchmarks/workload.py`.",
        "",
    ]
    if quick:
        lines += ["**Quick smoke run** (a few batches): the figures say nothing about speed.", ""]
    lines += [
        f"Recipe: windows of {recipe.window} characters, {recipe.n_train:,} for training and {recipe.n_val:,} "
        f"for validation, batches of {recipe.batch:,} ({recipe.batches_per_epoch} per epoch), {recipe.epochs} "
        f"epochs, {recipe.hidden} tanh units with biases, one-hot inputs, mean cross-entropy, SGD lr "
        f"{recipe.lr:g}, gradient norm clipped at {recipe.clip:g}; weights N(0, 0.01^2), biases 0, the same "
        "for every implementation. 'seconds': the training epochs (the one-hot batches included, validation "
        "not); the ratio divides medians of the per-epoch times, epochs interleaved.",
        "",
        report.markdown_table(headers, rows),
        "",
        "## Target",
        "",
        report.markdown_table(["target", "measured", "status"],
                              [[t.goal, t.measured, t.status] for t in issue19_targets(workload=results)]),
        "",
        "## Agreement",
        "",
    ]
    agreement = first_losses_agreement(results)
    if agreement is None:
        lines.append("PyTorch was not run (not installed, or --no-torch): nothing to compare the losses with.")
    else:
        found = {r.name: r for r in results}
        shown = {name: ", ".join(f"{v:.6f}" for v in found[name].losses[:COMPARED_LOSSES])
                 for name in ("minigrad float32", "PyTorch float32")}
        lines.append(f"The first {COMPARED_LOSSES} batch losses, from the same weights on the same batches: "
                     f"minigrad float32 {shown['minigrad float32']}; PyTorch float32 {shown['PyTorch float32']}. "
                     f"Largest relative difference: {agreement:.1e}.")
    lines += ["", "## Machine", ""] + [f"- {fact}" for fact in facts]
    return "\n".join(lines) + "\n"


DESCRIPTION = """\
D2L's Time Machine recipe end to end (windows of 32 characters, batch 1024, 32
hidden units, SGD lr 1 on the mean loss, gradient clipping 1, one-hot inputs),
in minigrad float32 and float64 and, when torch is importable, in PyTorch
(nn.RNN + Linear) from the same weights on the same batches.  One thread for
every library.  Prints the table and writes it to benchmarks/WORKLOAD.md."""


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m benchmarks.workload``."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.workload", description=DESCRIPTION)
    p.add_argument("--quick", action="store_true", help="a few batches of 64 windows, two epochs: a smoke run")
    p.add_argument("--epochs", type=positive_int, metavar="N", help="epochs to train (default 100; 2 with --quick)")
    p.add_argument("--out", metavar="FILE", help=f"where to write the report (default: {DEFAULT_OUT.relative_to(HERE.parent)})")
    p.add_argument("--dtypes", default="float32,float64", metavar="LIST",
                   help="minigrad's (and PyTorch's) dtypes, comma-separated (default: float32,float64)")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out even when it is installed")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    dtypes = tuple(d.strip() for d in args.dtypes.split(",") if d.strip())
    if not dtypes or any(d not in ("float32", "float64") for d in dtypes):
        parser().error(f"--dtypes: choose from float32 and float64, got {args.dtypes!r}")
    recipe = QUICK if args.quick else FULL
    if args.epochs is not None:
        recipe = dataclasses.replace(recipe, epochs=args.epochs)
    out = args.out or str(DEFAULT_OUT)
    try:
        validate.writable_file("--out", out)
    except ValueError as error:
        print(f"python -m benchmarks.workload: error: {error}", file=sys.stderr)
        return 2
    use_torch = not args.no_torch and torch_available()
    command = "python -m benchmarks.workload" + "".join(" " + shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    load_at_start = report.load_average()

    def progress(done, total):
        print(f"epoch {done}/{total}", file=sys.stderr, flush=True)

    results = run(recipe, dtypes, use_torch=use_torch, progress=progress)
    facts = [fact for fact in report.machine_facts(None, False, load_at_start)
             if not fact.startswith(("BLAS threads", "PyTorch"))]
    facts.append("threads: one for every library (threadpoolctl.threadpool_limits(1) for NumPy's BLAS, "
                 "torch.set_num_threads(1))")
    if use_torch:
        import torch

        facts.append(f"PyTorch {torch.__version__}")
    else:
        facts.append("PyTorch: not used (not installed, or --no-torch)")
    text = render(command, recipe, results, facts, args.quick)
    print(text)
    report.write_atomically(out, text)
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
