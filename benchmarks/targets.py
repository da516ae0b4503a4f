"""Issue 8's targets, judged from the measurements of one run.

Each target is a sentence, the measured value behind it, and a status: "met",
"not met", or "not measured" with the reason (a configuration or section that
was not run, a refused gradient check, PyTorch not installed).  Targets are
checked here, in the benchmark, never in a timed test.
"""

from __future__ import annotations

from dataclasses import dataclass

from .implementations import FUSED, FUSED_INDICES, HOISTED, NN_RNN, OP_LEVEL, REFERENCE

#: the issue's reference figures for C2 (ms): PyTorch nn.RNN and the hand-written numpy loop
ISSUE_C2_NN_RNN_MS, ISSUE_C2_NUMPY_LOOP_MS = 5.8, 7.9


@dataclass(frozen=True)
class Target:
    """One target of the issue: what is wanted, what was measured, and whether it is met."""

    goal: str
    measured: str
    status: str  # "met", "not met" or "not measured"


def _judged(goal: str, ok: bool, measured: str) -> Target:
    return Target(goal, measured, "met" if ok else "not met")


def _ratio(results: dict, config: str, numerator: str, denominator: str | None):
    """(median ratio, "") or (None, why not) between two implementations of one configuration."""
    result = results.get(config)
    if result is None:
        return None, f"{config} not run"
    if result.refused:
        return None, f"{config} refused: gradients disagree"
    top, bottom = result.median(numerator), result.median(denominator) if denominator else None
    if top is None or bottom is None:
        return None, f"{numerator if top is None else denominator} not timed on {config}"
    return top / bottom, ""


def _c2_proxy(results: dict) -> str:
    """Without torch: fused / numpy loop next to the issue's nn.RNN / numpy loop ratio."""
    proxy, _ = _ratio(results, "C2", FUSED, REFERENCE)
    if proxy is None:
        return ""
    limit = ISSUE_C2_NN_RNN_MS / ISSUE_C2_NUMPY_LOOP_MS
    verdict = "met" if proxy <= limit else "not met"
    return (f"; proxy: fused / numpy loop = {proxy:.2f}x against the issue's nn.RNN / numpy loop "
            f"{limit:.2f}x ({verdict})")


def speed_targets(results: dict, peak) -> list[Target]:
    """C1-C4 and the op-level target, from {config name: ConfigResult} and the matmul peak."""
    targets = []

    for name, label in ((FUSED, "minigrad fused"), (FUSED_INDICES, "minigrad fused on indices")):
        goal = f"C1: {label} <= 1.5x the fastest hand-written variant"
        fastest = results["C1"].fastest_reference() if "C1" in results else None
        ratio, why = _ratio(results, "C1", name, fastest.implementation if fastest else None)
        targets.append(Target(goal, why or "no reference timed", "not measured") if ratio is None
                       else _judged(goal, ratio <= 1.5, f"{ratio:.2f}x ({fastest.implementation})"))

    goal = "C2: minigrad fused <= 1.0x PyTorch nn.RNN"
    ratio, why = _ratio(results, "C2", FUSED, NN_RNN)
    if ratio is not None:
        targets.append(_judged(goal, ratio <= 1.0, f"{ratio:.2f}x"))
    elif "C2" in results and not results["C2"].refused and results["C2"].get(NN_RNN) is None:
        targets.append(Target(goal, "PyTorch not installed" + _c2_proxy(results), "not measured"))
    else:
        targets.append(Target(goal, why, "not measured"))

    for name, label in ((FUSED, "minigrad fused"), (FUSED_INDICES, "minigrad fused on indices")):
        goal = f"C3: {label} >= 75% of the float32 matmul peak (model FLOPs)"
        result = results.get("C3")
        median = result.median(name) if result is not None and not result.refused else None
        if median is None or peak is None:
            targets.append(Target(goal, "C3 not timed" if peak is not None else "matmul peak not measured",
                                  "not measured"))
        else:
            gflops = result.config.flops / median / 1e9
            fraction = gflops / peak.gflops
            targets.append(_judged(goal, fraction >= 0.75,
                                   f"{100 * fraction:.0f}% ({gflops:.1f} of {peak.gflops:.1f} GFLOP/s)"))

    goal = "C4: minigrad fused <= 1.0x the hoisted numpy reference"
    ratio, why = _ratio(results, "C4", FUSED, HOISTED)
    targets.append(Target(goal, why, "not measured") if ratio is None
                   else _judged(goal, ratio <= 1.0, f"{ratio:.2f}x"))

    goal = "C2: minigrad op-level <= 3x minigrad fused"
    ratio, why = _ratio(results, "C2", OP_LEVEL, FUSED)
    targets.append(Target(goal, why, "not measured") if ratio is None
                   else _judged(goal, ratio <= 3.0, f"{ratio:.2f}x"))
    return targets


def memory_targets(memory) -> list[Target]:
    """Flat TBPTT/Chunked memory (within 5%) and Checkpointed within 2x of its sqrt bound."""
    targets = []
    for strategy in ("TBPTT(25, 50)", "Chunked(50)"):
        goal = f"memory: {strategy} flat as T grows (longest / shortest T <= 1.05)"
        flat = memory.flatness(strategy)
        if flat is None:
            targets.append(Target(goal, "fewer than two sequence lengths measured", "not measured"))
        else:
            ratio, T_low, T_high = flat
            targets.append(_judged(goal, ratio <= 1.05, f"{ratio:.3f} (T = {T_low:,} to {T_high:,})"))
    goal = "memory: Checkpointed(√T) within 2x of the square-root bound"
    if not memory.bounds:
        targets.append(Target(goal, "not measured", "not measured"))
    else:
        worst = max(memory.bounds, key=lambda b: b.ratio)
        targets.append(_judged(goal, worst.ratio <= 2.0, f"at most {worst.ratio:.2f}x (T = {worst.T:,})"))
    return targets


def startup_targets(runs: list) -> list[Target]:
    """Warm start-up under 1.5 s; cold compiles in under 15 s; warm runs compile nothing."""
    cold, warm = runs[0], runs[1:]
    slowest = max(warm, key=lambda r: r.to_first_step_s)
    return [
        _judged("start-up: warm numba cache, process launch to first step done < 1.5 s",
                slowest.to_first_step_s < 1.5, f"{slowest.to_first_step_s:.2f} s (slowest warm run)"),
        _judged("start-up: cold numba cache compiles once, < 15 s to first step done",
                cold.to_first_step_s < 15.0 and cold.compiled > 0,
                f"{cold.to_first_step_s:.2f} s, {cold.compiled} kernels compiled"),
        _judged("start-up: warm runs compile nothing (never again)",
                all(r.compiled == 0 for r in warm), ", ".join(f"{r.compiled} compiled" for r in warm)),
    ]


def load_targets(demo) -> list[Target]:
    """The demo next to a busy process: as installed at most 1.15x its one-thread time."""
    ratio = demo.ratio(loaded=True)
    return [_judged("under load: the demo as installed takes at most 1.15x its OPENBLAS_NUM_THREADS=1 time",
                    ratio <= 1.15, f"{ratio:.2f}x")]


def issue19_targets(speed: dict | None = None, workload: list | None = None) -> list[Target]:
    """Issue 19's speed goals, from whatever was measured (None: not run).

    ``speed``: {config name: ConfigResult} of ``python -m benchmarks`` (goal 3,
    C1 at most 1.0x the numba recurrence, for one-hot inputs and for indices;
    goal 5, C3 at 75% of the peak, is issue 8's C3 target above).
    ``workload``: the results of ``python -m benchmarks.workload`` (goal 4: D2L's
    recipe in minigrad float32 at most 1.0x PyTorch float32, ratio of the median
    epochs).
    """
    targets = []
    if speed is not None:
        for name, label in ((FUSED, "minigrad fused"), (FUSED_INDICES, "minigrad fused on indices")):
            goal = f"C1: {label} <= 1.0x the numba recurrence"
            ratio, why = _ratio(speed, "C1", name, "numba recurrence")
            targets.append(Target(goal, why, "not measured") if ratio is None
                           else _judged(goal, ratio <= 1.0, f"{ratio:.2f}x"))
    if workload is not None:
        goal = "D2L's recipe: minigrad float32 <= 1.0x PyTorch float32 (median epoch)"
        found = {(r.library, r.dtype): r for r in workload}
        ours, theirs = found.get(("minigrad", "float32")), found.get(("PyTorch", "float32"))
        if ours is None or theirs is None:
            missing = "minigrad float32" if ours is None else "PyTorch float32 (torch not installed, or --no-torch)"
            targets.append(Target(goal, f"{missing} not run", "not measured"))
        else:
            ratio = ours.median_epoch / theirs.median_epoch
            targets.append(_judged(goal, ratio <= 1.0, f"{ratio:.2f}x"))
    return targets
