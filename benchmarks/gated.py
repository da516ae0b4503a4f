"""python -m benchmarks.gated: one float32 training step of the LSTM and the GRU, minigrad next to PyTorch.

One training step of a character model: the cell over T steps of one-hot
inputs, a linear readout C h_t + b_y, the cross-entropy summed over time and
batch, full BPTT and one SGD update, at the sizes of configurations C2
(vocab 65, batch 32, hidden 128, T 35) and C4 (vocab 65, batch 16,
hidden 128, T 1000) of benchmarks/configs.py, for

  minigrad scan      rnn.LSTM / rnn.GRU (fused) trained by rnn.fit with rnn.Full():
                     the driver runs the sequence as one LSTMScan / GRUScan node
  minigrad stepping  the same cell with its scan switched off (a subclass with scan = None):
                     one LSTMStep / GRUStep node per time step, as before the scans
  torch              torch.nn.LSTM / nn.GRU, an nn.Linear readout, F.cross_entropy(reduction="sum")
                     and torch.optim.SGD, when torch is installed (never a dependency)

all from the weights of rnn.LSTM / rnn.GRU(seed=0) on the same seeded
character stream.  Before anything is timed every trainer's gradients are
compared with the minigrad scan's, in float64 (within 1e-8 of the largest
entry: the same maths, so the weights were mapped right) and in float32
(within 1e-3); a configuration that disagrees is not timed (exit code 1).
Times are medians of interleaved rounds (benchmarks/timing.py) with one
thread for everyone: numpy's BLAS through threadpoolctl, torch through
torch.set_num_threads(1).  The report goes to benchmarks/GATED.md.

PyTorch's gate order is ours: LSTM i, f, g, o (weight_ih = W, weight_hh = U,
bias_ih = b, bias_hh = 0); GRU r, z, n (bias_ih = b, bias_hh = [0, 0, b_hn]).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import minigrad as mg
import rnn

from . import report
from .agreement import RTOL, compare_gradients, worst_error
from .configs import CONFIGS, LEARNING_RATE, QUICK_CONFIGS, Config, character_stream, positive_int
from .timing import TimingPlan, time_interleaved

HERE = Path(__file__).resolve().parent
CELLS = {"LSTM": rnn.LSTM, "GRU": rnn.GRU}
CONFIG_NAMES = ("C2", "C4")
SCAN, STEPPING, TORCH = "minigrad scan", "minigrad stepping", "torch"
#: float64 gradients of the same maths differ by rounding only
FLOAT64_RTOL = 1e-8


@dataclass
class Problem:
    """One cell on one configuration: its initial weights, one-hot inputs, targets and learning rate."""

    cell: str  # "LSTM" or "GRU"
    config: Config
    weights: dict  # {parameter name: array}, as rnn.LSTM / rnn.GRU name them
    xs: np.ndarray  # (T, batch, vocab) one-hot
    ys: np.ndarray  # (T, batch) int64: the next character
    lr: float


def make_problem(cell: str, config: Config, dtype=np.float32) -> Problem:
    """The weights of ``rnn.LSTM`` / ``rnn.GRU(vocab, hidden, vocab, seed=0)`` and a seeded character stream."""
    model = CELLS[cell](config.vocab, config.hidden, config.vocab, seed=0, dtype=dtype)
    xs, ys = character_stream(config.T, config.batch, config.vocab, dtype=dtype)
    return Problem(cell, config, {name: p.data.copy() for name, p in model.named_parameters()}, xs, ys,
                   LEARNING_RATE / (config.batch * config.T))


def stepping(cls: type) -> type:
    """``cls`` with its scan switched off: the driver steps it, one LSTMStep / GRUStep node per time step."""
    return type(f"Stepping{cls.__name__}", (cls,), {"scan": None})


class MinigradTrainer:
    """The problem's cell (scanning, or stepping) trained by ``rnn.fit`` with ``rnn.Full()`` and SGD."""

    def __init__(self, problem: Problem, scan: bool = True):
        cls = CELLS[problem.cell] if scan else stepping(CELLS[problem.cell])
        size = problem.config
        self.model = cls(size.vocab, size.hidden, size.vocab, seed=0, dtype=problem.xs.dtype)
        self.model.load_state_dict(problem.weights)
        self.optimizer = mg.optim.SGD(self.model.parameters(), lr=problem.lr)
        self.xs, self.ys = problem.xs, problem.ys

    def gradients(self) -> dict:
        """The one update of Full BPTT, from ``rnn.gradients`` (the model does not change)."""
        return rnn.gradients(self.model, self.xs, self.ys, rnn.Full(), loss="ce")[0]

    def step(self) -> None:
        """Forward over the sequence, full BPTT and the SGD update."""
        rnn.fit(self.model, self.xs, self.ys, rnn.Full(), self.optimizer, loss="ce")


class TorchTrainer:
    """torch.nn.LSTM / nn.GRU + nn.Linear + F.cross_entropy(reduction="sum") + torch.optim.SGD,
    as a PyTorch user writes the model, with the problem's weights copied in.  (Imports torch:
    make one only when it is installed.)"""

    def __init__(self, problem: Problem):
        import torch

        self.torch = torch
        size, w = problem.config, problem.weights
        dtype = torch.float64 if problem.xs.dtype == np.float64 else torch.float32
        layer = (torch.nn.LSTM if problem.cell == "LSTM" else torch.nn.GRU)(size.vocab, size.hidden)
        readout = torch.nn.Linear(size.hidden, size.vocab)
        self.layer, self.readout = layer.to(dtype), readout.to(dtype)
        bias_hh = np.zeros_like(w["b"])
        if problem.cell == "GRU":
            bias_hh[2 * size.hidden:] = w["b_hn"]  # b_hn is the n block of bias_hh; its r and z blocks stay 0
        with torch.no_grad():
            for param, value in ((layer.weight_ih_l0, w["W"]), (layer.weight_hh_l0, w["U"]),
                                 (layer.bias_ih_l0, w["b"]), (layer.bias_hh_l0, bias_hh),
                                 (readout.weight, w["C"]), (readout.bias, w["b_y"])):
                param.copy_(torch.from_numpy(np.asarray(value)))
        self.xs, self.ys = torch.from_numpy(problem.xs), torch.from_numpy(problem.ys).reshape(-1)
        self.optimizer = torch.optim.SGD(list(layer.parameters()) + list(readout.parameters()), lr=problem.lr)
        self.cell, self.hidden, self.vocab = problem.cell, size.hidden, size.vocab

    def _backward(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        states, _ = self.layer(self.xs)  # (T, batch, hidden), from zero states
        logits = self.readout(states)
        self.torch.nn.functional.cross_entropy(logits.reshape(-1, self.vocab), self.ys, reduction="sum").backward()

    def gradients(self) -> dict:
        """The gradients at the current weights, under minigrad's parameter names (no update)."""
        self._backward()
        layer, readout = self.layer, self.readout
        grads = {"W": layer.weight_ih_l0.grad, "U": layer.weight_hh_l0.grad, "b": layer.bias_ih_l0.grad,
                 "C": readout.weight.grad, "b_y": readout.bias.grad}
        if self.cell == "GRU":
            grads["b_hn"] = layer.bias_hh_l0.grad[2 * self.hidden:]
        return {name: g.detach().numpy().copy() for name, g in grads.items()}

    def step(self) -> None:
        """Forward over the sequence, full BPTT by autograd and the SGD update."""
        self._backward()
        self.optimizer.step()


def torch_available() -> bool:
    """Whether torch can be imported (without importing it: that takes seconds)."""
    return importlib.util.find_spec("torch") is not None


def trainers(problem: Problem, use_torch: bool) -> dict:
    """{name: trainer} of every implementation, the minigrad scan first."""
    made = {SCAN: MinigradTrainer(problem, scan=True), STEPPING: MinigradTrainer(problem, scan=False)}
    if use_torch:
        made[TORCH] = TorchTrainer(problem)
    return made


# -- one cell on one configuration ---------------------------------------------------------
@dataclass
class Result:
    """What one cell on one configuration gave: gradient errors (against the scan), medians, refusals."""

    cell: str
    config: Config
    errors: dict = field(default_factory=dict)  # {(implementation, "float64" / "float32"): worst error}
    medians: dict = field(default_factory=dict)  # {implementation: seconds}
    refused: list = field(default_factory=list)  # Disagreement objects (then nothing is timed)

    def ratio(self, name: str, to: str = TORCH) -> float | None:
        a, b = self.medians.get(name), self.medians.get(to)
        return None if a is None or b is None else a / b


def check_gradients(result: Result, use_torch: bool) -> None:
    """Compare every implementation's gradients with the minigrad scan's, in float64 and float32."""
    for dtype, rtol in ((np.float64, FLOAT64_RTOL), (np.float32, RTOL)):
        grads = {name: t.gradients() for name, t in trainers(make_problem(result.cell, result.config, dtype),
                                                            use_torch).items()}
        reference = grads.pop(SCAN)
        for name, g in grads.items():
            result.errors[name, np.dtype(dtype).name] = worst_error(reference, g)
        result.refused += compare_gradients(reference, grads, rtol)


def measure(cell: str, config: Config, plan: TimingPlan, use_torch: bool, log) -> Result:
    """Gradients first; then, if they agree, the median step time of every implementation."""
    result = Result(cell, config)
    check_gradients(result, use_torch)
    if result.refused:
        log(f"{cell} {config.name} not timed: gradients disagree with the minigrad scan's: "
            + "; ".join(str(d) for d in result.refused))
        return result
    steps = {name: t.step for name, t in trainers(make_problem(cell, config), use_torch).items()}
    for name, timing in time_interleaved(steps, plan).items():
        result.medians[name] = timing.median_s
        log(f"{cell} {config.name} {name}: {timing.median_s * 1e3:.2f} ms (median of {timing.steps})")
    return result


# -- the report ----------------------------------------------------------------------------------
def _ms(seconds) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.2f} ms"


def _x(ratio) -> str:
    return "-" if ratio is None else f"{ratio:.2f}"


def speed_table(results: list[Result]) -> str:
    """One row per cell and configuration: medians and the ratios to torch (below 1: minigrad is faster)."""
    rows = [[r.cell, r.config.name, f"{r.config.vocab}, {r.config.batch}, {r.config.hidden}, {r.config.T}",
             _ms(r.medians.get(SCAN)), _ms(r.medians.get(STEPPING)), _ms(r.medians.get(TORCH)),
             _x(r.ratio(SCAN)), _x(r.ratio(STEPPING)), _x(r.ratio(STEPPING, SCAN))] for r in results]
    return report.markdown_table(["cell", "config", "vocab, batch, hidden, T", SCAN, STEPPING, TORCH,
                                  "scan / torch", "stepping / torch", "stepping / scan"], rows)


def gradient_table(results: list[Result], use_torch: bool) -> str:
    """The worst relative error of each implementation's gradients against the minigrad scan's."""
    names = [STEPPING] + ([TORCH] if use_torch else [])
    headers = ["cell", "config"] + [f"{name}, {dtype}" for dtype in ("float64", "float32") for name in names]
    headers.append("checked")
    rows = []
    for r in results:
        errors = [r.errors.get((name, dtype)) for dtype in ("float64", "float32") for name in names]
        rows.append([r.cell, r.config.name] + ["-" if e is None else f"{e:.1e}" for e in errors]
                    + ["disagree: not timed" if r.refused else "agree"])
    return report.markdown_table(headers, rows)


def machine_facts(use_torch: bool) -> list[str]:
    import numba

    facts = [f"CPU: {platform.machine()}, {report._cpu_model()}; 1-minute load average {report.load_average()} "
             "at the end of the run (other jobs share the cores)",
             f"Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}, "
             f"BLAS {report._blas()}, one BLAS thread (threadpoolctl)"]
    if use_torch:
        import torch

        facts.append(f"PyTorch {torch.__version__}, {torch.get_num_threads()} intra-op thread")
    else:
        facts.append("PyTorch: not used (not installed, or --no-torch): no torch column or ratio")
    return facts


def render(results: list[Result], command: str, quick: bool, use_torch: bool, plan: TimingPlan) -> str:
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = ["# LSTM and GRU: one training step, minigrad next to PyTorch", "",
             f"Written by `{command}` on {date}; how it is measured: the docstring of `benchmarks/gated.py`. "
             "The machine is shared: compare ratios taken in one run, not times across runs."]
    if quick:
        parts += ["", "**Quick smoke run**: tiny sizes and few repeats; the figures only show that every part works."]
    parts += ["", "## Machine", ""] + [f"- {fact}" for fact in machine_facts(use_torch)]
    parts += ["", "## One training step (float32, medians)", "",
              (f"Medians of {plan.repeats} interleaved rounds (fewer where a round would overrun "
               f"{plan.budget_s:g} s), after {plan.warmup} warm-up step{'s' if plan.warmup != 1 else ''}. "
               "scan / torch below 1.00: minigrad is faster than PyTorch."), "", speed_table(results)]
    parts += ["", "## Gradients, checked before timing", "",
              (f"max |g - g_scan| / max |g_scan| over each parameter, the worst of them, against the minigrad "
               f"scan's gradients: float64 must agree within {FLOAT64_RTOL:g}, float32 within {RTOL:g}."), "",
              gradient_table(results, use_torch)]
    return "\n".join(parts) + "\n"


# -- the command ---------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gated", description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes and few repeats, a smoke run in seconds (default --out benchmarks/GATED-quick.md)")
    p.add_argument("--out", help="where to write the report (default benchmarks/GATED.md)")
    p.add_argument("--cells", default="LSTM,GRU", help="comma-separated cells to run (default LSTM,GRU)")
    p.add_argument("--configs", default=",".join(CONFIG_NAMES), help="comma-separated configurations (default C2,C4)")
    p.add_argument("--repeats", type=positive_int, default=None, help="timed rounds per configuration (default 15, quick 3)")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if it is installed")
    return p


def _choose(text: str, table, what: str) -> list:
    chosen = [name.strip().upper() for name in text.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in table]
    if unknown or not chosen:
        raise ValueError(f"--{what}: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(table)}")
    return chosen


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv=None, log=_log) -> int:
    """Run, print and write the report; 0 when every configuration was timed, 1 when gradients disagreed,
    2 for a bad command line."""
    args = parser().parse_args(argv)
    try:
        cells = _choose(args.cells, CELLS, "cells")
        sizes = QUICK_CONFIGS if args.quick else CONFIGS
        configs = [sizes[name] for name in _choose(args.configs, CONFIG_NAMES, "configs")]
    except ValueError as e:
        print(f"benchmarks.gated: error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out or HERE / ("GATED-quick.md" if args.quick else "GATED.md"))
    if not out.parent.is_dir():
        print(f"benchmarks.gated: error: the folder of --out {out} does not exist", file=sys.stderr)
        return 2
    use_torch = not args.no_torch and torch_available()
    repeats = args.repeats or (3 if args.quick else 15)
    plan = TimingPlan(warmup=1 if args.quick else 2, repeats=repeats, min_repeats=min(repeats, 3),
                      budget_s=5.0 if args.quick else 90.0)
    with threadpool_limits(1):
        if use_torch:
            import torch

            torch.set_num_threads(1)
        results = [measure(cell, config, plan, use_torch, log) for config in configs for cell in cells]
    command = " ".join(["python -m benchmarks.gated"] + list(sys.argv[1:] if argv is None else argv))
    text = render(results, command, args.quick, use_torch, plan)
    print(text)
    report.write_atomically(str(out), text)
    log(f"wrote {out}")
    return 1 if any(r.refused for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
