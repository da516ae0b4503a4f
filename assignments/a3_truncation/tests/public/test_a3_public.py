"""Public tests of assignment 3: your plans and your loop against the engine's strategies and driver.

Plans are compared by value (T, edge factors, updates), whatever containers
you built them from; gradients must be exact (the same updates, the same
numbers as ``rnn.gradients`` with the engine's ``rnn.Chunked``/``rnn.TBPTT``,
and as the hand-derived ``rnn.manual.elman_bptt``), and memory bounded: the
tape your loop holds at its peak over 2,000 steps is the size of the one
over 200 steps.
"""

import pytest
from helpers import Replay, check_close, check_plan, check_updates, loop_run, problem

import rnn


@pytest.mark.task3_1
@pytest.mark.points(2)
def test_chunked_plans_match_the_engine(student):
    cases = [((3,), 8), ((4,), 8), ((5,), 3), ((1,), 4)]
    for ((k,), T), got in zip(cases, student.probe("plans", "Chunked", cases)):
        check_plan(got, rnn.Chunked(k).plan(T), f"Chunked({k}).plan({T})")


@pytest.mark.task3_1
@pytest.mark.points(1)
def test_chunked_gradients_match_the_engine(student):
    model, xs, ys = problem(10)
    plans = student.probe("plans", "Chunked", [((3,), 10)])
    check_updates(rnn.gradients(model, xs, ys, Replay(plans)), rnn.gradients(model, xs, ys, rnn.Chunked(3)),
                  "Chunked(3) on 10 steps")


@pytest.mark.task3_2
@pytest.mark.points(1)
def test_tbptt_updates_match_the_engine(student):
    cases = [((2, 3), 7), ((2, 4), 8), ((3, 3), 10), ((1, 5), 4)]
    for ((k1, k2), T), got in zip(cases, student.probe("plans", "TBPTT", cases)):
        check_plan(got, rnn.TBPTT(k1, k2).plan(T), f"TBPTT({k1}, {k2}).plan({T})", edges=False)


@pytest.mark.task3_2
@pytest.mark.points(1)
def test_tbptt_gradients_match_the_engine(student):
    model, xs, ys = problem(11, seed=1)
    for k1, k2 in ((2, 4), (3, 5)):
        plans = student.probe("plans", "TBPTT", [((k1, k2), 11)])
        check_updates(rnn.gradients(model, xs, ys, Replay(plans)), rnn.gradients(model, xs, ys, rnn.TBPTT(k1, k2)),
                      f"TBPTT({k1}, {k2}) on 11 steps")


@pytest.mark.task3_2
@pytest.mark.points(1)
def test_tbptt_1_k_adds_up_to_the_hand_derived_truncation(student):
    model, xs, ys = problem(9, seed=2)
    k = 3
    updates = rnn.gradients(model, xs, ys, Replay(student.probe("plans", "TBPTT", [((1, k), 9)])))
    manual = rnn.manual.elman_bptt(model.A.data, model.B.data, model.C.data, xs, ys, k=k)
    for name in ("A", "B", "C"):
        check_close(sum(u[name] for u in updates), manual[name],
                    f"the sum of TBPTT(1, {k})'s updates against elman_bptt(k={k}): dL/d{name}")


@pytest.mark.task3_3
@pytest.mark.points(2)
def test_loop_matches_the_driver(student):
    for k1, k2 in ((2, 4), (3, 3)):
        loop_run(student, 10, k1, k2, seed=3)


@pytest.mark.task3_3
@pytest.mark.points(2)
def test_loop_memory_is_bounded_by_the_window(student):
    _, short = loop_run(student, 200, 4, 8)
    _, long = loop_run(student, 2000, 4, 8)
    assert short > 0, "nothing was recorded on the current tape: record on mg.current_tape(), not on a new mg.Tape()"
    assert long <= 1.05 * short, (
        f"the tape held up to {long} nodes over 2,000 steps but {short} over 200: "
        "old nodes are not released (cut the tape at h_reach)"
    )
