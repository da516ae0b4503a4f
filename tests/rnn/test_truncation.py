"""The plans in rnn/truncation.py's docstring, read from the docstring itself and checked against the code."""

import re

import numpy as np
import pytest

import rnn
from rnn import truncation


def drawn_rows(doc: str, title: str) -> dict:
    """The rows (t:, edges:, updates:) of the diagram whose first line names ``title``."""
    lines = doc.splitlines()
    start = next(i for i, line in enumerate(lines) if title in line)
    rows = {}
    for line in lines[start:start + 3]:
        label, _, rest = line.strip().partition(":")
        rows[label] = rest
    return rows


def test_the_chunked_diagram_is_the_plan():
    rows = drawn_rows(truncation.__doc__, "Chunked(3), T = 8")
    steps = [int(t) for t in rows["t"].split()[:8]]
    edges = [float(e) for e in re.findall(r"\b[01]\b", rows["edges"].split("(")[0])]
    update_at = [int(t) for t in re.findall(r"\^(\d+)", rows["updates"])]
    plan = rnn.Chunked(3).plan(8)
    assert steps == list(range(1, 9))
    assert edges == list(plan.edges[1:])
    assert update_at == [u.t for u in plan.updates]
    # "each with its chunk's losses": update i takes the losses of its own chunk, back to the chunk's start
    assert [(u.first, u.reach) for u in plan.updates] == [(1, 0), (4, 3), (7, 6)]


def test_the_tbptt_sentence_is_the_plan():
    """TBPTT(k1=2, k2=4): update every 2 steps with the losses of t-1 and t, back to h_{t-4}."""
    assert "TBPTT(k1=2, k2=4)" in truncation.__doc__
    plan = rnn.TBPTT(2, 4).plan(10)
    assert [u.t for u in plan.updates] == [2, 4, 6, 8, 10]
    assert all(u.first == u.t - 1 for u in plan.updates)
    assert [u.reach for u in plan.updates] == [max(u.t - 4, 0) for u in plan.updates]
    assert plan.cut_steps() == []  # overlapping windows cut the tape, not the edges


def test_the_edge_into_step_one_is_never_edited():
    for strategy in (rnn.Randomized(0.3, seed=1), rnn.ARTBP(0.5, seed=2), rnn.Chunked(1)):
        for _ in range(5):
            assert strategy.plan(6).edges[1] == truncation.PASS


def test_randomized_edges_scale_kept_edges_and_cut_the_rest():
    edges = truncation.randomized_edges(np.array([True, False, True]), 0.25)
    assert edges == (1.0, 1.0, 4.0, 0.0, 4.0)


def test_fixed_runs_its_plan_and_lives_with_the_strategies():
    plan = rnn.Chunked(2).plan(5)
    assert rnn.Fixed(plan).plan(5) is plan
    assert rnn.analysis.Fixed is rnn.Fixed
    with pytest.raises(ValueError, match="plan is for T=5 steps, but the sequence has T=4"):
        rnn.Fixed(plan).plan(4)


@pytest.mark.parametrize("make, message", [
    (lambda: rnn.Randomized(True), r"p must be a real number, got True"),
    (lambda: rnn.Randomized(np.float32(0.5)).p, None),
    (lambda: rnn.ARTBP(np.float64(0.25)).c, None),
    (lambda: rnn.Chunked(np.int64(3)).k, None),
    (lambda: rnn.Randomized(0.5, seed="x"), r"seed must be a non-negative integer .* got 'x'"),
    (lambda: rnn.ARTBP(schedule="x"), r"schedule must be a function"),
    (lambda: rnn.ARTBP(c=1.0), r"c must be in \(0, 1\), got 1.0"),
    (lambda: rnn.Chunked(2.5), r"k1 must be an integer >= 1, got 2.5"),
])
def test_strategy_arguments_are_checked_where_they_are_given(make, message):
    if message is None:
        assert make() > 0  # numpy scalars are numbers
    else:
        with pytest.raises((ValueError, TypeError), match=message):
            make()


def test_strategies_compare_by_their_parameters():
    assert rnn.TBPTT(3, 5) == rnn.TBPTT(3, 5) != rnn.TBPTT(3, 6)
    assert rnn.Chunked(4) != rnn.TBPTT(4, 4)  # another class, though the same plan
    assert rnn.Randomized(0.5, seed=1) != rnn.Randomized(0.5, seed=2)
    assert repr(rnn.Chunked(4)) == "Chunked(k=4)"
