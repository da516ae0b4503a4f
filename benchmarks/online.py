"""python -m benchmarks.online: RTRL, UORO and SnAp-1 next to the BPTT family, measured in one run.

Three sections, each printed as a table and written to benchmarks/ONLINE.md:

  cost        time and memory per step against the hidden size n (8, 16, 32, 64)
              for RTRL, UORO, SnAp-1, Chunked(10) and Full BPTT on the Elman cell,
              each as a ratio to Full BPTT in the same run, and the slope of
              log time against log n (RTRL's work grows like n^4, UORO's like n^2)
  estimators  bias and spread of each gradient estimator against the full
              gradient on one fixed problem (exact, biased, unbiased)
  balancing   the influence-balancing problem of the UORO paper: short
              truncations diverge, RTRL and UORO converge

Timing: the fastest of a few repeats, one BLAS thread (threadpoolctl), the
machine's other load notwithstanding; memory: what each strategy holds for its
gradient (the tape's saved arrays for BPTT, the influence for the online family).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import minigrad as mg
import rnn
from rnn.online import RTRL, UORO, InfluenceBalancing, SnAp

HERE = Path(__file__).resolve().parent
SIZES = (8, 16, 32, 64)
N_IN = N_OUT = 4


# -- cost against n ------------------------------------------------------------------------
@dataclass(frozen=True)
class Cost:
    strategy: str
    n: int
    seconds_per_step: float
    bytes: int


def cost_strategies():
    return {"rtrl": RTRL(), "uoro": UORO(), "snap-1": SnAp(), "chunked:10": rnn.Chunked(10), "full": rnn.Full()}


def measure_cost(sizes=SIZES, T: int = 60, repeats: int = 3, skip=()) -> list[Cost]:
    """Time per step and bytes held, for each strategy and hidden size, on one sequence of T steps."""
    rows = []
    rng = np.random.default_rng(0)
    for n in sizes:
        model = rnn.ElmanRNN(N_IN, n, N_OUT, seed=0)
        xs, ys = rng.standard_normal((T, N_IN)), rng.standard_normal((T, N_OUT))
        for name, strategy in cost_strategies().items():
            if (name, n) in skip:
                continue
            best, held = math.inf, 0
            for _ in range(repeats):
                started = time.perf_counter()
                result = rnn.run(model, xs, ys, strategy)
                best = min(best, time.perf_counter() - started)
                held = max(held, result.peak_bytes)
            rows.append(Cost(name, n, best / T, held))
    return rows


def slope(rows: list[Cost], strategy: str, field: str = "seconds_per_step", smallest: int = 16) -> float:
    """The slope of log(field) against log(n) over the sizes >= ``smallest``."""
    points = [(r.n, getattr(r, field)) for r in rows if r.strategy == strategy and r.n >= smallest]
    if len(points) < 2:
        return float("nan")
    n, y = np.log([p[0] for p in points]), np.log([p[1] for p in points])
    return float(np.polyfit(n, y, 1)[0])


def cost_table(rows: list[Cost]) -> str:
    full = {r.n: r for r in rows if r.strategy == "full"}
    lines = ["| strategy | n | ms per step | × Full | bytes held | × Full |", "|---|---|---|---|---|---|"]
    for r in rows:
        ref = full.get(r.n)
        time_ratio = f"{r.seconds_per_step / ref.seconds_per_step:.2f}" if ref else "—"
        byte_ratio = f"{r.bytes / ref.bytes:.2f}" if ref and ref.bytes else "—"
        lines.append(f"| {r.strategy} | {r.n} | {1e3 * r.seconds_per_step:.3f} | {time_ratio} | {r.bytes:,} | {byte_ratio} |")
    lines += ["", "| strategy | slope of log time against log n (n = 16..64) | slope of log bytes |", "|---|---|---|"]
    for name in dict.fromkeys(r.strategy for r in rows):
        lines.append(f"| {name} | {slope(rows, name):.2f} | {slope(rows, name, 'bytes'):.2f} |")
    return "\n".join(lines)


# -- bias and spread of the estimators ----------------------------------------------------------
@dataclass(frozen=True)
class EstimatorRow:
    strategy: str
    draws: int
    relative_bias: float  # ||E g - g*|| / ||g*|| (E over the draws for a random strategy)
    relative_spread: float  # sqrt(E ||g - E g||^2) / ||g*||


def estimator_strategies():
    return {
        "rtrl": lambda seed: RTRL(),
        "snap-1": lambda seed: SnAp(),
        "uoro": lambda seed: UORO(seed=seed),
        "chunked:5": lambda seed: rnn.Chunked(5),
        "tbptt:5,10": lambda seed: rnn.TBPTT(5, 10),
        "randomized:0.5": lambda seed: rnn.Randomized(0.5, seed=seed),
        "artbp:0.2": lambda seed: rnn.ARTBP(0.2, seed=seed),
    }


RANDOM = {"uoro", "randomized:0.5", "artbp:0.2"}


def measure_estimators(draws: int = 200, T: int = 20, n: int = 6, seed: int = 0) -> list[EstimatorRow]:
    """Each estimator's summed gradient against Full BPTT's, on one fixed Elman problem."""
    rng = np.random.default_rng(seed)
    model = rnn.ElmanRNN(2, n, 1, seed=seed, fused=False)
    xs, ys = rng.standard_normal((T, 2)), rng.standard_normal((T, 1))
    exact = rnn.analysis.flatten(rnn.gradients(model, xs, ys, rnn.Full())[0])
    rows = []
    for name, make in estimator_strategies().items():
        count = draws if name in RANDOM else 1
        samples = np.stack([rnn.analysis.flatten(rnn.analysis.summed_gradient(model, xs, ys, make(s)))
                            for s in range(count)])
        mean = samples.mean(axis=0)
        spread = math.sqrt(float(np.mean(np.sum((samples - mean) ** 2, axis=1))))
        norm = float(np.linalg.norm(exact))
        rows.append(EstimatorRow(name, count, float(np.linalg.norm(mean - exact)) / norm, spread / norm))
    return rows


def estimator_table(rows: list[EstimatorRow]) -> str:
    lines = ["| estimator | draws | relative bias of the mean | relative spread of one draw | "
             "sampling error of the mean |", "|---|---|---|---|---|"]
    for r in rows:
        error = r.relative_spread / math.sqrt(r.draws) if r.draws > 1 else 0.0
        lines.append(f"| {r.strategy} | {r.draws} | {r.relative_bias:.2e} | {r.relative_spread:.2e} | {error:.2e} |")
    return "\n".join(lines)


# -- influence balancing ------------------------------------------------------------------------
@dataclass(frozen=True)
class BalancingRow:
    strategy: str
    lr: float
    theta: float
    optimum: float
    final_loss: float  # mean loss per step over the last tenth of the stream

    @property
    def verdict(self) -> str:
        if not math.isfinite(self.theta) or abs(self.theta) > 1e3:
            return "diverged"
        return "converged" if abs(self.theta - self.optimum) < 1e-3 else "not yet"


BALANCING = [("chunked:2", 1e-3), ("chunked:10", 1e-3), ("chunked:20", 1e-3), ("chunked:40", 1e-3),
             ("tbptt:1,10", 1e-3), ("tbptt:1,30", 1e-3), ("rtrl", 1e-3), ("uoro", 1e-3), ("uoro", 3e-4)]


def influence_balancing(runs=BALANCING, T: int = 10_000, n: int = 10, positive: int = 4, seed: int = 0,
                        on_run=None) -> list[BalancingRow]:
    """Train the balancing problem's theta with SGD under each strategy, one pass over T steps."""
    rows = []
    xs, ys = np.zeros((T, 1)), np.ones((T, 1))
    for spec, lr in runs:
        cell = InfluenceBalancing(n, positive)
        strategy = rnn.parse_strategy(spec, seed=seed)
        with np.errstate(all="ignore"):
            history = rnn.fit(cell, xs, ys, strategy, mg.optim.SGD(cell.parameters(), lr=lr))
        tail = history.steps[-1] - T // 10
        last = [loss for loss, t in zip(history.losses, history.steps) if t > tail]
        rows.append(BalancingRow(spec, lr, float(cell.theta.data[0]), cell.optimum, float(np.sum(last)) / (T // 10)))
        if on_run is not None:
            on_run(rows[-1])
    return rows


def balancing_table(rows: list[BalancingRow]) -> str:
    lines = ["| strategy | lr | theta at the end | theta* | loss per step (last 10%) | |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.strategy} | {r.lr:g} | {r.theta:.4g} | {r.optimum:.4g} | {r.final_loss:.3g} | {r.verdict} |")
    return "\n".join(lines)


# -- the command -----------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.online", description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=("cost", "estimators", "balancing"), action="append",
                   help="run only these sections (repeatable; default: all)")
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke run in seconds")
    p.add_argument("--out", default=str(HERE / "ONLINE.md"), help="where to write the report (default benchmarks/ONLINE.md)")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    out = Path(args.out)
    if not out.parent.is_dir():
        print(f"benchmarks.online: error: the folder of --out {out} does not exist", file=sys.stderr)
        return 2
    sections = args.only or ["cost", "estimators", "balancing"]
    parts = ["# Online gradients next to BPTT", "",
             f"`python -m benchmarks.online{' --quick' if args.quick else ''}`, one BLAS thread.", ""]
    with threadpool_limits(1):
        if "cost" in sections:
            rows = measure_cost(sizes=(4, 8) if args.quick else SIZES, T=10 if args.quick else 60,
                                repeats=1 if args.quick else 3)
            parts += ["## Cost per step against the hidden size n", "", cost_table(rows), ""]
            print(parts[-2], flush=True)
        if "estimators" in sections:
            rows = measure_estimators(draws=8 if args.quick else 200, T=8 if args.quick else 20)
            parts += ["## Bias and spread against the full gradient", "", estimator_table(rows), ""]
            print(parts[-2], flush=True)
        if "balancing" in sections:
            runs = [("chunked:2", 1e-3), ("rtrl", 1e-3)] if args.quick else BALANCING
            rows = influence_balancing(runs, T=600 if args.quick else 10_000)
            parts += ["## Influence balancing (n = 10 units, 4 positive; theta* = -0.25)", "", balancing_table(rows), ""]
            print(parts[-2], flush=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text("\n".join(parts))
    tmp.replace(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
