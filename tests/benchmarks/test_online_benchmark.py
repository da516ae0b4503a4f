"""benchmarks.online on tiny sizes: its tables hold what they say, and influence balancing separates the methods."""

import math

import pytest

from benchmarks import online


def test_cost_rows_cover_every_strategy_and_size():
    rows = online.measure_cost(sizes=(2, 4), T=6, repeats=1)
    assert {(r.strategy, r.n) for r in rows} == {(s, n) for s in online.cost_strategies() for n in (2, 4)}
    assert all(r.seconds_per_step > 0 for r in rows)
    held = {(r.strategy, r.n): r.bytes for r in rows}
    # RTRL's influence is n x (n^2 + n n_in) numbers; SnAp-1 keeps one number per recurrent parameter
    for n in (2, 4):
        recurrent = n * n + n * online.N_IN
        assert held["rtrl", n] == 8 * n * recurrent
        assert held["snap-1", n] == 8 * recurrent
    table = online.cost_table(rows)
    assert "| rtrl | 4 |" in table and "slope of log time" in table


def test_slope_recovers_a_power_law():
    rows = [online.Cost("x", n, 1e-6 * n ** 4, 8 * n ** 3) for n in (8, 16, 32, 64)]
    assert online.slope(rows, "x") == pytest.approx(4.0)
    assert online.slope(rows, "x", "bytes") == pytest.approx(3.0)


def test_estimators_separate_exact_biased_and_unbiased():
    rows = {r.strategy: r for r in online.measure_estimators(draws=6, T=12, n=3)}
    assert rows["rtrl"].relative_bias < 1e-12 and rows["rtrl"].relative_spread == 0.0
    assert rows["chunked:5"].relative_bias > 1e-3 and rows["snap-1"].relative_bias > 1e-3
    assert rows["uoro"].relative_spread > 0 and rows["randomized:0.5"].relative_spread > 0


def test_influence_balancing_short_truncation_diverges_where_rtrl_converges():
    rows = {r.strategy: r for r in online.influence_balancing([("chunked:2", 1e-3), ("rtrl", 1e-3)], T=3000)}
    assert rows["rtrl"].verdict == "converged" and abs(rows["rtrl"].theta - (-0.25)) < 1e-3
    chunked = rows["chunked:2"]
    assert chunked.theta > 0 > chunked.optimum  # pushed the wrong way by the short-term influence
    assert not math.isfinite(chunked.final_loss) or chunked.final_loss > 1e3 * max(rows["rtrl"].final_loss, 1e-12)


def test_the_command_writes_its_report(tmp_path):
    out = tmp_path / "online.md"
    assert online.main(["--quick", "--only", "estimators", "--out", str(out)]) == 0
    assert "Bias and spread" in out.read_text()
    assert online.main(["--quick", "--out", str(tmp_path / "missing" / "x.md")]) == 2
