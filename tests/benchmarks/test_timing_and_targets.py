"""The timing protocol (with a fake clock: no test depends on real time) and the judging of targets."""

import gc

import pytest

from benchmarks import timing
from benchmarks.configs import CONFIGS
from benchmarks.memory import MemoryResult, MemoryRow, MemorySettings, SqrtBound
from benchmarks.speed import ConfigResult, Measurement
from benchmarks.startup import StartupRun
from benchmarks.targets import memory_targets, speed_targets, startup_targets
from benchmarks.timing import MatmulPeak, TimingPlan, time_interleaved


class FakeClock:
    """perf_counter that only moves when a step "runs": each step advances it by its own cost."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def step(self, cost, calls):
        def run():
            calls.append(cost)
            self.now += cost
        return run


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(timing.time, "perf_counter", fake)
    return fake


def test_interleaved_rounds_warm_up_then_time_the_second_of_two_calls_in_rotating_order(clock):
    calls = []
    result = time_interleaved({"a": clock.step(1.0, calls), "b": clock.step(3.0, calls)},
                              TimingPlan(warmup=2, repeats=4, min_repeats=1, budget_s=1e9))
    # warm-up a, a, b, b; then rounds a b, b a, a b, b a (each call untimed, then timed)
    assert calls == [1.0, 1.0, 3.0, 3.0] + ([1.0, 1.0, 3.0, 3.0] + [3.0, 3.0, 1.0, 1.0]) * 2
    assert result["a"] == timing.Timing(1.0, 4) and result["b"] == timing.Timing(3.0, 4)


def test_steps_run_without_the_cyclic_collector_which_comes_back_afterwards(clock):
    seen, costly = [], clock.step(1.0, [])

    def step():
        seen.append(gc.isenabled())
        costly()

    time_interleaved({"a": step}, TimingPlan(warmup=1, repeats=3, min_repeats=1))
    assert seen == [False] * 7  # 1 warm-up + 3 rounds of 2 calls
    assert gc.isenabled()


def test_the_budget_cuts_the_rounds_but_never_below_the_minimum(clock):
    calls = []
    steps = {"a": clock.step(1.0, calls), "b": clock.step(1.0, calls)}  # a round costs 2 * (1 + 1) = 4 s
    assert time_interleaved(steps, TimingPlan(warmup=1, repeats=20, min_repeats=2, budget_s=13))["a"].steps == 3
    assert time_interleaved(steps, TimingPlan(warmup=1, repeats=20, min_repeats=5, budget_s=13))["a"].steps == 5


def test_a_timing_plan_with_fewer_repeats_than_its_minimum_is_refused():
    with pytest.raises(ValueError, match="repeats >= min_repeats"):
        TimingPlan(repeats=3, min_repeats=5)


def test_matmul_peak_counts_two_n_cubed_flops():
    assert MatmulPeak(size=1000, median_s=0.02, repeats=5).gflops == pytest.approx(100.0)


def timed(config, **medians_ms):
    """A ConfigResult with the given medians (implementation names with spaces as keyword-safe keys)."""
    names = {"fused": "minigrad fused", "idx": "minigrad fused, indices", "op": "minigrad op-level", "loop": "numpy loop",
             "hoisted": "numpy hoisted", "numba": "numba recurrence", "nn_rnn": "torch nn.RNN"}
    result = ConfigResult(CONFIGS[config])
    for key, ms in medians_ms.items():
        kind = "minigrad" if key in ("fused", "idx", "op") else "reference"
        result.measurements.append(Measurement(names[key], kind, 0.0, ms / 1e3, 20))
    return result


def keyed(targets):
    """{"C1": target, ..., "C2 op": the op-level target, "C1 idx"/"C3 idx": the targets on indices}."""
    return {t.goal.split(":")[0] + (" op" if "op-level" in t.goal else "") + (" idx" if "indices" in t.goal else ""): t
            for t in targets}


def test_speed_targets_are_judged_against_the_right_denominators():
    results = {
        "C1": timed("C1", fused=0.3, idx=0.4, loop=2.7, hoisted=1.0, numba=0.2),  # 1.5x the fastest (numba): met
        "C2": timed("C2", fused=6.0, op=19.0, loop=7.9, hoisted=5.5, nn_rnn=5.8),  # 1.03x nn.RNN: not met
        "C4": timed("C4", fused=80.0, loop=142.0, hoisted=87.0),  # 0.92x hoisted: met
    }
    c3 = CONFIGS["C3"]
    # 80 and 70 GFLOP/s of a 100 GFLOP/s peak
    results["C3"] = timed("C3", fused=c3.flops / 80e9 * 1e3, idx=c3.flops / 70e9 * 1e3, loop=94.0)
    found = keyed(speed_targets(results, MatmulPeak(size=1000, median_s=0.02, repeats=5)))
    assert (found["C1"].status, found["C1"].measured) == ("met", "1.50x (numba recurrence)")
    assert (found["C2"].status, found["C2"].measured) == ("not met", "1.03x")
    assert (found["C3"].status, found["C3"].measured) == ("met", "80% (80.0 of 100.0 GFLOP/s)")
    assert (found["C1 idx"].status, found["C1 idx"].measured) == ("not met", "2.00x (numba recurrence)")
    assert (found["C3 idx"].status, found["C3 idx"].measured) == ("not met", "70% (70.0 of 100.0 GFLOP/s)")
    assert (found["C4"].status, found["C4"].measured) == ("met", "0.92x")
    assert (found["C2 op"].status, found["C2 op"].measured) == ("not met", "3.17x")


def test_speed_targets_without_torch_a_run_or_a_timing_say_why():
    results = {"C2": timed("C2", fused=7.0, op=10.0, loop=7.9, hoisted=5.5)}
    refused = timed("C4", fused=1.0, hoisted=1.0)
    refused.refused = ["anything"]
    results["C4"] = refused
    found = keyed(speed_targets(results, None))
    assert found["C1"].status == "not measured" and found["C1"].measured == "C1 not run"
    assert found["C2"].status == "not measured"
    assert found["C2"].measured.startswith("PyTorch not installed; proxy: fused / numpy loop = 0.89x")
    assert found["C3"].measured == "matmul peak not measured"
    assert found["C1 idx"].measured == "C1 not run" and found["C3 idx"].measured == "matmul peak not measured"
    assert found["C4"].measured == "C4 refused: gradients disagree"
    assert found["C2 op"].status == "met"


def test_memory_targets_flatness_and_the_sqrt_bound():
    memory = MemoryResult(MemorySettings())
    for T, chunked, tbptt in [(1000, 100, 200), (10000, 100, 205), (100000, 104, 212)]:
        memory.rows += [MemoryRow("Chunked(50)", T, chunked), MemoryRow("TBPTT(25, 50)", T, tbptt)]
    memory.bounds = [SqrtBound(1000, 32, 1000.0, 1500), SqrtBound(10000, 100, 1000.0, 2500)]
    assert memory.flatness("Chunked(50)") == (1.04, 1000, 100000)
    [tbptt, chunked, checkpointed] = memory_targets(memory)
    assert (tbptt.status, tbptt.measured) == ("not met", "1.060 (T = 1,000 to 100,000)")
    assert chunked.status == "met"
    assert (checkpointed.status, checkpointed.measured) == ("not met", "at most 2.50x (T = 10,000)")


def test_memory_flatness_ignores_skipped_rows():
    memory = MemoryResult(MemorySettings())
    memory.rows = [MemoryRow("Full", 1000, 10), MemoryRow("Full", 10000, 100), MemoryRow("Full", 100000, None, "x")]
    assert memory.flatness("Full") == (10.0, 1000, 10000)


def test_startup_targets_need_a_cold_compile_and_no_warm_one():
    runs = [StartupRun("cold cache", 3.0, 3.2, 0.3, 2.5, 7, 0), StartupRun("warm cache", 0.9, 1.0, 0.3, 0.2, 0, 5),
            StartupRun("warm cache, again", 1.6, 1.7, 0.3, 0.2, 1, 4)]
    warm, cold, never_again = startup_targets(runs)
    assert (warm.status, warm.measured) == ("not met", "1.60 s (slowest warm run)")
    assert (cold.status, cold.measured) == ("met", "3.00 s, 7 kernels compiled")
    assert (never_again.status, never_again.measured) == ("not met", "0 compiled, 1 compiled")


def test_a_fast_step_is_timed_as_a_burst_and_reported_per_call(clock):
    calls = []
    # a 0.5 ms step with burst_s 2 ms: 4 timed calls per round after the untimed one
    result = time_interleaved({"a": clock.step(0.0005, calls)},
                              TimingPlan(warmup=1, repeats=3, min_repeats=1, burst_s=0.002))
    assert len(calls) == 1 + 3 * (1 + 4)
    assert result["a"] == timing.Timing(pytest.approx(0.0005), 3)
