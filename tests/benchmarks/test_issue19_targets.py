"""Issue 19's targets, judged from made-up measurements (no test depends on real time)."""

from benchmarks.configs import CONFIGS
from benchmarks.speed import ConfigResult, Measurement
from benchmarks.targets import issue19_targets
from benchmarks.workload import Result


def timed(config, **medians_ms):
    names = {"fused": "minigrad fused", "idx": "minigrad fused, indices", "numba": "numba recurrence",
             "loop": "numpy loop"}
    result = ConfigResult(CONFIGS[config])
    for key, ms in medians_ms.items():
        kind = "minigrad" if key in ("fused", "idx") else "reference"
        result.measurements.append(Measurement(names[key], kind, 0.0, ms / 1e3, 20))
    return result


def test_c1_is_judged_against_the_numba_recurrence_for_both_inputs():
    targets = issue19_targets(speed={"C1": timed("C1", fused=0.20, idx=0.21, numba=0.20, loop=1.0)})
    assert [(t.goal, t.measured, t.status) for t in targets] == [
        ("C1: minigrad fused <= 1.0x the numba recurrence", "1.00x", "met"),
        ("C1: minigrad fused on indices <= 1.0x the numba recurrence", "1.05x", "not met"),
    ]


def test_c1_not_run_or_without_numba_is_not_measured():
    assert {t.status for t in issue19_targets(speed={})} == {"not measured"}
    targets = issue19_targets(speed={"C1": timed("C1", fused=0.2, idx=0.2, loop=1.0)})
    assert {t.status for t in targets} == {"not measured"} and "numba recurrence not timed" in targets[0].measured


def test_the_workload_is_judged_by_median_epochs():
    ours = Result("minigrad", "float32", epoch_seconds=[1.0, 0.9, 5.0])  # one slow epoch: the median ignores it
    theirs = Result("PyTorch", "float32", epoch_seconds=[1.0, 1.0, 1.0])
    [target] = issue19_targets(workload=[ours, theirs, Result("minigrad", "float64", epoch_seconds=[9.0])])
    assert (target.measured, target.status) == ("1.00x", "met")
    [target] = issue19_targets(workload=[ours])
    assert target.status == "not measured" and "PyTorch float32" in target.measured
    assert issue19_targets() == []
