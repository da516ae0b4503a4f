"""Hidden tests of assignment 3: every small length and window, batches, and memory through the driver."""

import pytest
from helpers import check_updates, problem

import minigrad as mg
import rnn


def driver_peak_nodes(strategy, T):
    """The most tape nodes the driver held at an update, running ``strategy`` over T steps."""
    model, xs, ys = problem(T, seed=7)
    return rnn.run(model, xs, ys, strategy).peak_nodes


def check_bounded(short, long, what):
    assert long <= 1.05 * short, (
        f"{what}: the tape held up to {long} nodes over 2,000 steps but {short} over 200; "
        "an update reaches back further than its window"
    )


@pytest.mark.task3_1
@pytest.mark.points(1)
def test_chunked_plans_for_every_small_length(student):
    for k in range(1, 7):
        for T in range(1, 14):
            got, want = student.Chunked(k).plan(T), rnn.Chunked(k).plan(T)
            assert (got.edges, got.updates) == (want.edges, want.updates), (
                f"Chunked({k}).plan({T}): edges {got.edges}, updates {got.updates}; "
                f"expected edges {want.edges}, updates {want.updates}"
            )


@pytest.mark.task3_1
@pytest.mark.points(2)
def test_chunked_memory_is_bounded_and_batches_match(student):
    check_bounded(driver_peak_nodes(student.Chunked(10), 200), driver_peak_nodes(student.Chunked(10), 2000),
                  "Chunked(10)")
    model, xs, ys = problem(13, batch=3, seed=8)
    check_updates(rnn.gradients(model, xs, ys, student.Chunked(4)), rnn.gradients(model, xs, ys, rnn.Chunked(4)),
                  "Chunked(4) on a batch of 3")


@pytest.mark.task3_2
@pytest.mark.points(1)
def test_tbptt_plans_for_every_small_window_and_length(student):
    for k1 in range(1, 5):
        for k2 in range(k1, 7):
            for T in range(1, 13):
                got, want = student.TBPTT(k1, k2).plan(T), rnn.TBPTT(k1, k2).plan(T)
                assert got.updates == want.updates, (
                    f"TBPTT({k1}, {k2}).plan({T}).updates = {got.updates}, expected {want.updates}"
                )
                if k2 > k1:
                    assert set(got.edges[1:]) == {1.0}, f"TBPTT({k1}, {k2}) cuts edges: {got.edges}"


@pytest.mark.task3_2
@pytest.mark.points(2)
def test_tbptt_memory_is_bounded_and_batches_match(student):
    check_bounded(driver_peak_nodes(student.TBPTT(5, 15), 200), driver_peak_nodes(student.TBPTT(5, 15), 2000),
                  "TBPTT(5, 15)")
    model, xs, ys = problem(13, batch=2, seed=9)
    check_updates(rnn.gradients(model, xs, ys, student.TBPTT(3, 7)), rnn.gradients(model, xs, ys, rnn.TBPTT(3, 7)),
                  "TBPTT(3, 7) on a batch of 2")


@pytest.mark.task3_3
@pytest.mark.points(2)
def test_loop_with_a_batch_and_other_windows(student):
    model, xs, ys = problem(13, batch=3, seed=10)
    for k1, k2 in ((4, 9), (1, 5), (5, 5)):
        check_updates(student.tbptt_gradients(model, xs, ys, k1, k2), rnn.gradients(model, xs, ys, rnn.TBPTT(k1, k2)),
                      f"tbptt_gradients(k1={k1}, k2={k2}) on a batch of 3")


@pytest.mark.task3_3
@pytest.mark.points(1)
def test_loop_with_one_window_longer_than_the_sequence_is_full_bptt(student):
    model, xs, ys = problem(6, seed=11)
    check_updates(student.tbptt_gradients(model, xs, ys, 6, 10), rnn.gradients(model, xs, ys, rnn.Full()),
                  "tbptt_gradients(k1=6, k2=10) on 6 steps, which is full BPTT")


@pytest.mark.task3_3
@pytest.mark.points(1)
def test_loop_memory_with_overlapping_windows_on_a_batch(student):
    peaks = []
    for T in (200, 2000):
        model, xs, ys = problem(T, batch=2, seed=12)
        with mg.Tape() as tape:
            student.tbptt_gradients(model, xs, ys, 3, 12)
        peaks.append(tape.peak_live_nodes)
    assert peaks[0] > 0, "nothing was recorded on the current tape: record on mg.current_tape()"
    check_bounded(*peaks, "tbptt_gradients(k1=3, k2=12) on a batch of 2")
