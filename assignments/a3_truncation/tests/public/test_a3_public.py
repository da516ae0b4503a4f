"""Public tests of assignment 3: your plans and your loop against the engine's strategies and driver.

Gradients must be exact (the same updates, the same numbers as
``rnn.gradients`` with the engine's ``rnn.Chunked``/``rnn.TBPTT``, and as the
hand-derived ``rnn.manual.elman_bptt``), and memory bounded: the tape a run
over 2,000 steps holds at its peak is the size of the one over 200 steps.
"""

import pytest
from helpers import check_close, check_updates, problem

import minigrad as mg
import rnn


def loop_peak_nodes(student, T, k1, k2, batch=None):
    """The most tape nodes your loop held at once on a sequence of T steps."""
    model, xs, ys = problem(T, batch=batch, seed=5)
    with mg.Tape() as tape:
        student.tbptt_gradients(model, xs, ys, k1, k2)
    return tape.peak_live_nodes


@pytest.mark.task3_1
@pytest.mark.points(2)
def test_chunked_plans_match_the_engine(student):
    for k, T in ((3, 8), (4, 8), (5, 3), (1, 4)):
        got, want = student.Chunked(k).plan(T), rnn.Chunked(k).plan(T)
        assert got.edges == want.edges, f"Chunked({k}).plan({T}).edges = {got.edges}, expected {want.edges}"
        assert got.updates == want.updates, f"Chunked({k}).plan({T}).updates = {got.updates}, expected {want.updates}"


@pytest.mark.task3_1
@pytest.mark.points(1)
def test_chunked_gradients_match_the_engine(student):
    model, xs, ys = problem(10)
    check_updates(rnn.gradients(model, xs, ys, student.Chunked(3)), rnn.gradients(model, xs, ys, rnn.Chunked(3)),
                  "Chunked(3) on 10 steps")


@pytest.mark.task3_2
@pytest.mark.points(1)
def test_tbptt_updates_match_the_engine(student):
    for k1, k2, T in ((2, 3, 7), (2, 4, 8), (3, 3, 10), (1, 5, 4)):
        got, want = student.TBPTT(k1, k2).plan(T), rnn.TBPTT(k1, k2).plan(T)
        assert got.updates == want.updates, (
            f"TBPTT({k1}, {k2}).plan({T}).updates = {got.updates}, expected {want.updates}"
        )


@pytest.mark.task3_2
@pytest.mark.points(1)
def test_tbptt_gradients_match_the_engine(student):
    model, xs, ys = problem(11, seed=1)
    for k1, k2 in ((2, 4), (3, 5)):
        check_updates(rnn.gradients(model, xs, ys, student.TBPTT(k1, k2)),
                      rnn.gradients(model, xs, ys, rnn.TBPTT(k1, k2)), f"TBPTT({k1}, {k2}) on 11 steps")


@pytest.mark.task3_2
@pytest.mark.points(1)
def test_tbptt_1_k_adds_up_to_the_hand_derived_truncation(student):
    model, xs, ys = problem(9, seed=2)
    k = 3
    updates = rnn.gradients(model, xs, ys, student.TBPTT(1, k))
    manual = rnn.manual.elman_bptt(model.A.data, model.B.data, model.C.data, xs, ys, k=k)
    for name in ("A", "B", "C"):
        check_close(sum(u[name] for u in updates), manual[name],
                    f"the sum of TBPTT(1, {k})'s updates against elman_bptt(k={k}): dL/d{name}")


@pytest.mark.task3_3
@pytest.mark.points(2)
def test_loop_matches_the_driver(student):
    model, xs, ys = problem(10, seed=3)
    for k1, k2 in ((2, 4), (3, 3)):
        check_updates(student.tbptt_gradients(model, xs, ys, k1, k2),
                      rnn.gradients(model, xs, ys, rnn.TBPTT(k1, k2)), f"tbptt_gradients(k1={k1}, k2={k2}), 10 steps")


@pytest.mark.task3_3
@pytest.mark.points(2)
def test_loop_memory_is_bounded_by_the_window(student):
    short, long = loop_peak_nodes(student, 200, 4, 8), loop_peak_nodes(student, 2000, 4, 8)
    assert short > 0, "nothing was recorded on the current tape: record on mg.current_tape(), not on a new mg.Tape()"
    assert long <= 1.05 * short, (
        f"the tape held up to {long} nodes over 2,000 steps but {short} over 200: "
        "old nodes are not released (cut the tape at h_reach)"
    )
