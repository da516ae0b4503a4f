"""Turn one run's measurements into RESULTS.md (also printed): machine, speed, targets, memory, start-up.

Every section is always present; a section that was not run says so, so a
reader never mistakes a missing table for a good result.
"""

from __future__ import annotations

import datetime
import os
import platform
import tempfile

import numpy as np

from .implementations import REFERENCE


def markdown_table(headers: list, rows: list) -> str:
    """A Markdown table with padded columns, readable as plain text too."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def human_bytes(n: float | None) -> str:
    """1234567 -> "1.23 MB" (decimal units); None -> "-"."""
    if n is None:
        return "-"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.0f} B"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _blas() -> str:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except (TypeError, KeyError):
        return "unknown"


def load_average() -> str:
    """The 1-minute load average (runnable processes, all users): above the core count, figures suffer."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def machine_facts(torch_threads: int | None, torch_threads_requested: bool = False,
                  load_at_start: str = "unknown") -> list[str]:
    """CPU, load, library versions, BLAS and thread settings: what the figures depend on."""
    import numba

    facts = [
        f"CPU: {os.cpu_count()} logical cores, {_cpu_model()}",
        (f"1-minute load average: {load_at_start} at the start of the run, {load_average()} at its end "
        "(other jobs share the cores)"),
        f"Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}",
        f"BLAS (numpy's, used for every matrix product): {_blas()}",
    ]
    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
               if k in os.environ}
    facts.append("BLAS threads: " + (", ".join(f"{k}={v}" for k, v in threads.items()) or "library default"))
    if torch_threads is None:
        facts.append("PyTorch: not used (not installed, or --no-torch)")
    else:
        import torch

        how = "set by --torch-threads" if torch_threads_requested else "its default"
        facts.append(f"PyTorch {torch.__version__}, {torch_threads} intra-op threads ({how})")
    return facts


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.3f}"


def speed_section(results: list, peaks: list, plan) -> str:
    """The medians, ratios and FLOP rates of every implementation on every configuration.

    ``peaks``: the float32 matmul measurements of the run; the best of them is the peak.
    """
    peak = max(peaks, key=lambda p: p.gflops) if peaks else None
    lines = [
        ("One training step = forward over T steps + full BPTT + SGD update, float32, from the same weights "
         f"on the same data. 'median ms': median wall time of the timed steps, after {plan.warmup} untimed "
         "warm-up step(s) each; the implementations take turns, step by step (README). Ratios divide "
         f"medians of this run: by the {REFERENCE}'s, and by the fastest hand-written implementation's "
         "(numpy, numba or torch). GFLOP/s counts model FLOPs, 6 * batch * T * hidden * (hidden + vocab) "
         "per step. 'grad error': the largest |dW - dW_ref| / max |dW_ref| over A, B, C against the "
         f"{REFERENCE}, checked before timing."),
        "",
    ]
    if peak is not None:
        each = ", ".join(f"{p.gflops:.1f}" for p in peaks)
        lines += [(f"float32 matmul peak: {peak.gflops:.1f} GFLOP/s, the best of {len(peaks)} measurements in this "
                   f"run, before and after the speed runs ({each} GFLOP/s; {peak.size} x {peak.size} times "
                   f"{peak.size} x {peak.size}, median of {peak.repeats} each)"), ""]
    rows = []
    for result in results:
        config = result.config
        fastest = result.fastest_reference()
        reference = result.median(REFERENCE)
        for m in result.measurements:
            timed = m.median_s is not None
            gflops = config.flops / m.median_s / 1e9 if timed else None
            rows.append([
                config.name, m.implementation, _ms(m.median_s), m.steps if timed else "-",
                f"{m.median_s / reference:.2f}x" if timed and reference else "-",
                f"{m.median_s / fastest.median_s:.2f}x" if timed and fastest else "-",
                f"{gflops:.2f}" if timed else "-",
                f"{100 * gflops / peak.gflops:.1f}%" if timed and peak is not None else "-",
                "-" if m.gradient_error is None else f"{m.gradient_error:.1e}",
                m.note or ("refused" if result.refused else ""),
            ])
    lines.append(markdown_table(
        ["config", "implementation", "median ms", "steps", f"vs {REFERENCE}", "vs fastest ref",
         "GFLOP/s", "% of peak", "grad error", "note"], rows))
    lines += ["", "Sizes: " + "; ".join(f"{r.config.name} {r.config.label + ': ' if r.config.label else ''}"
                                         f"{r.config.sizes()}" for r in results) + "."]
    fewer = [r.config.name for r in results if any(0 < m.steps < plan.repeats for m in r.measurements)]
    if fewer:
        lines.append(f"Fewer than {plan.repeats} timed steps (time budget of {plan.budget_s:g} s per "
                     f"configuration) on: {', '.join(fewer)}.")
    for result in results:
        if result.refused:
            details = "; ".join(str(d) for d in result.refused)
            lines.append(f"**{result.config.name} was not timed**: gradients disagree with the {REFERENCE}: "
                         f"{details}.")
    return "\n".join(lines)


def targets_section(targets: list) -> str:
    """The targets as a table: goal, measured value, status."""
    return markdown_table(["target", "measured", "status"], [[t.goal, t.measured, t.status] for t in targets])


def memory_section(memory) -> str:
    """Peak tape bytes per strategy and T, the flatness ratio, and Checkpointed against its sqrt bound."""
    from .memory import STRATEGY_NAMES

    settings = memory.settings
    Ts = sorted(settings.Ts)
    rows = []
    for strategy in STRATEGY_NAMES:
        cells = []
        for T in Ts:
            row = next(r for r in memory.rows if r.strategy == strategy and r.T == T)
            cells.append(human_bytes(row.peak_bytes) if row.peak_bytes is not None else row.note)
        flat = memory.flatness(strategy)
        rows.append([strategy] + cells + ["-" if flat is None else f"{flat[0]:.3f}"])
    lines = [
        (f"Peak bytes saved for backward (`rnn.run(...).peak_bytes`: the tape's saved arrays at the fullest "
        f"update, plus stored states for Checkpointed), fused Elman cell, float32, batch {settings.batch}, "
        f"hidden {settings.hidden}, vocab {settings.vocab}. Flatness = peak at the longest measured T / "
        "peak at the shortest."),
        "",
        markdown_table(["strategy"] + [f"T = {T:,}" for T in Ts] + ["flatness"], rows),
    ]
    if memory.bounds:
        lines += [
            "",
            ("Checkpointed(√T) against its square-root bound: sqrt(T) stored states + the peak of Full BPTT "
            "over one segment (both measured)."),
            "",
            markdown_table(["T", "segment", "peak", "bound", "peak / bound"],
                           [[f"{b.T:,}", b.segment, human_bytes(b.peak_bytes), human_bytes(b.bound_bytes),
                             f"{b.ratio:.2f}"] for b in memory.bounds]),
        ]
    return "\n".join(lines)


def startup_section(runs: list, config) -> str:
    """The cold, warm and warm-again runs as a table."""
    lines = [
        (f"Fresh processes running `python -m benchmarks.first_step {config.name}`: import minigrad and rnn, "
         f"then one training step of the fused model ({config.sizes()}), all sharing one new numba cache "
         "directory. 'to first step': from launching the process to the end of its first step; 'wall': the "
         "whole process from the parent's side, exit included."),
        "",
        markdown_table(["run", "to first step s", "wall s", "import s", "first step s", "kernels compiled",
                        "kernels loaded"],
                       [[r.label, f"{r.to_first_step_s:.2f}", f"{r.wall_s:.2f}", f"{r.import_s:.2f}",
                         f"{r.first_step_s:.2f}", r.compiled, r.loaded] for r in runs]),
    ]
    return "\n".join(lines)


def _section(title: str, text: str | None) -> list:
    return ["", f"## {title}", "", text or "Not run (see `--only`)."]


def render(command: str, quick: bool, facts: list, sections: dict, targets: list) -> str:
    """The whole report. ``sections``: {"speed"/"memory"/"startup"/"load": rendered text, or None if not run}."""
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "# minigrad benchmarks",
        "",
        (f"Written by `{command}` on {date}. The machine is shared and noisy: compare only ratios "
        "taken in one run. How to read and reproduce: `benchmarks/README.md`."),
    ]
    if quick:
        parts += ["", ("**Quick smoke run**: tiny sizes and few repeats, not the issue's configurations; "
                      "the figures and targets only show that every part works.")]
    parts += ["", "## Machine", ""] + [f"- {fact}" for fact in facts]
    parts += _section("Speed", sections.get("speed"))
    parts += ["", "## Targets", "", targets_section(targets) if targets else "No section with targets was run."]
    parts += _section("Memory", sections.get("memory")) + _section("Start-up", sections.get("startup"))
    parts += _section("Under load", sections.get("load"))
    return "\n".join(parts) + "\n"


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``:
    a reader sees the old file or the new one, never half of one."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".RESULTS-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
