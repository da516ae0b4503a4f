"""python -m benchmarks: speed, memory and start-up of minigrad next to hand-written BPTT.

Prints the report and writes it to benchmarks/RESULTS.md (``--out`` to change);
``--help`` lists every option.  Exit code 1 when a configuration was refused
because its gradients disagree, 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from tqdm import tqdm

from minigrad import validate
from rnn.training import DEMO

from . import report, targets
from .configs import positive_int, select
from .implementations import implementations, torch_available
from .memory import MemorySettings, measure_memory
from .speed import benchmark_config
from .startup import measure_startup
from .timing import TimingPlan, matmul_peak

SECTIONS = ("speed", "memory", "startup", "load")
HERE = Path(__file__).resolve().parent

DESCRIPTION = """\
Benchmark one training step (forward over T steps + full BPTT + SGD) of an Elman
char-RNN in float32: minigrad with the fused cell and with the op-level cell,
hand-written numpy BPTT (a per-step loop and a variant with the projections
hoisted out of the loop), a numba recurrence (batch 1 only) and, when torch is
installed, a PyTorch eager loop and torch.nn.RNN.  Every implementation starts
from the same weights on the same data, and its gradients must equal the numpy
loop's (within 1e-3 of the largest entry) before its step is timed.

Sections:
  speed    C1-C4: medians, ratios to the numpy loop and to the fastest
           hand-written variant, GFLOP/s against a float32 matmul measured in
           the same run
  memory   peak tape bytes of Full, Chunked(50), TBPTT(25, 50) and
           Checkpointed(sqrt T) at T = 1,000, 10,000 and 100,000 (batch 16,
           hidden 128); takes minutes
  startup  import + first training step in fresh processes, with a cold and
           then a warm numba cache
  load     next to a busy process the benchmark starts: the demo's training as
           installed against OPENBLAS_NUM_THREADS=1, and one step of C2 and C3
           with one BLAS thread against all of them (minigrad.threads' size rule)

Configurations (vocab, batch, hidden, T):
  C1 (65, 1, 100, 25)   C2 (65, 32, 128, 35)   C3 (256, 64, 512, 50)   C4 (65, 16, 128, 1000)
"""

EPILOG = """\
examples:
  python -m benchmarks                         everything (about 10 minutes), writes benchmarks/RESULTS.md
  python -m benchmarks --quick                 a smoke run in seconds (writes benchmarks/RESULTS-quick.md)
  python -m benchmarks --only speed --configs C1,C2 --out /tmp/speed.md
  python -m benchmarks --only memory --max-T 10000
"""


def sections_list(text: str) -> tuple:
    """argparse type: a comma-separated list of section names."""
    chosen = tuple(s.strip().lower() for s in text.split(",") if s.strip())
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown section(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(SECTIONS)}")
    return chosen


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m benchmarks``."""
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", type=sections_list, default=SECTIONS, metavar="SECTIONS",
                   help="comma-separated sections to run: speed, memory, startup, load (default: all)")
    p.add_argument("--configs", metavar="NAMES", help="comma-separated speed configurations, e.g. C1,C2 "
                   "(default: C1,C2,C3,C4)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: tiny sizes, few repeats, T = 100 and 400 for memory; seconds, not minutes")
    p.add_argument("--out", metavar="PATH", help="where to write the report (default: benchmarks/RESULTS.md, "
                   "or benchmarks/RESULTS-quick.md with --quick)")
    p.add_argument("--max-T", type=positive_int, metavar="N",
                   help="memory: skip sequences longer than N (Full BPTT at T = 100,000 holds gigabytes)")
    p.add_argument("--repeats", type=positive_int, help="timed steps per implementation (default 20; 3 with --quick)")
    p.add_argument("--warmup", type=positive_int, help="untimed steps first (default 3; 1 with --quick)")
    p.add_argument("--budget", type=float, default=120.0, metavar="SECONDS",
                   help="time one configuration's timed steps for at most about this long: fewer steps "
                   "(never fewer than 5) when they would take longer (default 120)")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out even when it is installed")
    p.add_argument("--torch-threads", type=positive_int, metavar="N",
                   help="torch's intra-op threads (default: torch's own default, one per core); on a busy "
                   "machine 1 avoids the stalls of threads waiting for a core (see README)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sections, print the report and write it; return the exit code."""
    args = parser().parse_args(argv)
    try:
        configs = select(args.configs, quick=args.quick)
    except ValueError as error:
        parser().error(str(error))
    if args.budget <= 0:
        parser().error(f"--budget must be a positive number of seconds, got {args.budget}")
    repeats = args.repeats or (3 if args.quick else 20)
    plan = TimingPlan(warmup=args.warmup or (1 if args.quick else 3), repeats=repeats,
                      min_repeats=min(repeats, 5), budget_s=args.budget)
    use_torch = not args.no_torch and torch_available()
    out = args.out or str(HERE / ("RESULTS-quick.md" if args.quick else "RESULTS.md"))
    try:  # before minutes of measuring, not after
        validate.writable_file("--out", out)
    except ValueError as error:
        print(f"python -m benchmarks: error: {error}", file=sys.stderr)
        return 2
    command = "python -m benchmarks" + "".join(" " + shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))

    load_at_start = report.load_average()
    torch_threads = None
    if use_torch:
        from .torch_references import threads

        torch_threads = threads(args.torch_threads)
    sections, found_targets, refused = {}, [], False

    if "speed" in args.only:
        def measure_peak():
            """The float32 matmul rate now (2048 x 2048; 256 x 256 for --quick)."""
            return matmul_peak(size=256 if args.quick else 2048, repeats=3 if args.quick else 7)

        peaks = [measure_peak()]
        results = [benchmark_config(config, implementations(use_torch), plan)
                   for config in tqdm(configs, desc="speed", disable=None)]
        peaks.append(measure_peak())
        refused = any(r.refused for r in results)
        sections["speed"] = report.speed_section(results, peaks, plan)
        by_config = {r.config.name: r for r in results}
        found_targets += targets.speed_targets(by_config, max(peaks, key=lambda p: p.gflops))
        found_targets += targets.issue19_targets(speed=by_config)

    if "memory" in args.only:
        settings = (MemorySettings(Ts=(100, 400), batch=4, hidden=16, vocab=11, max_T=args.max_T) if args.quick
                    else MemorySettings(max_T=args.max_T))
        memory = measure_memory(settings, progress=lambda runs: tqdm(runs, desc="memory", disable=None),
                                log=lambda message: print(message, file=sys.stderr, flush=True))
        sections["memory"] = report.memory_section(memory)
        found_targets += targets.memory_targets(memory)

    if "startup" in args.only:
        config = select("C1", quick=args.quick)[0]
        runs = measure_startup(config.name, quick=args.quick)
        sections["startup"] = report.startup_section(runs, config)
        found_targets += targets.startup_targets(runs)

    if "load" in args.only:
        from . import load

        demo = load.measure_demo(steps=200 if args.quick else DEMO["steps"], repeats=1 if args.quick else 3,
                                 progress=lambda items: tqdm(items, desc="load: demo", disable=None))
        rule = load.measure_rule(select(",".join(load.RULE_CONFIGS), quick=args.quick), plan)
        sections["load"] = load.section(demo, rule)
        found_targets += targets.load_targets(demo)

    facts = report.machine_facts(torch_threads, args.torch_threads is not None, load_at_start)
    text = report.render(command, args.quick, facts, sections, found_targets)
    print(text)
    report.write_atomically(out, text)
    print(f"wrote {out}", file=sys.stderr)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
