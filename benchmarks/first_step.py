"""Run by ``startup.py`` in a fresh process: time ``import minigrad, rnn`` and the first training step.

    python -m benchmarks.first_step C1 [--quick]

Prints one JSON line: the seconds spent importing, the seconds of the first
step (making the fused model, then ``rnn.fit`` over the configuration's
sequence with Full BPTT and SGD), the wall-clock time (``time.time()``) when
the step was done, and how many numba kernels were compiled (cache misses) or
loaded from the cache (hits) on the way.  Nothing of the
project is imported before the clock starts.
"""

import json
import sys
import time


def compile_counts() -> tuple[int, int]:
    """(kernels compiled, kernels loaded from the cache) over every numba dispatcher minigrad loaded."""
    from numba.core.dispatcher import Dispatcher

    dispatchers = {id(obj): obj for name, module in list(sys.modules.items())
                   if name.split(".")[0] == "minigrad" for obj in vars(module).values()
                   if isinstance(obj, Dispatcher)}
    stats = [d.stats for d in dispatchers.values()]
    return sum(sum(s.cache_misses.values()) for s in stats), sum(sum(s.cache_hits.values()) for s in stats)


def main(argv: list[str]) -> None:
    """Time the import, build the configuration ``argv[0]``, time its first step, print the JSON line."""
    start = time.perf_counter()
    import minigrad  # noqa: F401  (the import being timed)
    import rnn  # noqa: F401

    imported = time.perf_counter()
    from benchmarks.configs import CONFIGS, QUICK_CONFIGS, make_problem
    from benchmarks.implementations import MinigradTrainer

    config = (QUICK_CONFIGS if "--quick" in argv else CONFIGS)[argv[0]]
    problem = make_problem(config)
    before_step = time.perf_counter()
    MinigradTrainer(problem, fused=True).step()
    stepped = time.perf_counter()
    done_at = time.time()
    compiled, loaded = compile_counts()
    print(json.dumps({"import_s": imported - start, "first_step_s": stepped - before_step, "done_at": done_at,
                      "compiled": compiled, "loaded": loaded}))


if __name__ == "__main__":
    main(sys.argv[1:])
