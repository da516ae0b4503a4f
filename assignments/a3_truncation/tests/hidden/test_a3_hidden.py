"""Hidden tests of assignment 3: every small length and window, batches, and memory through the driver."""

import pytest
from helpers import Replay, check_plan, check_updates, loop_run, problem, values

import rnn


def driver_peak_nodes(plans, T):
    """The most tape nodes the engine's driver held at an update, running your plan over T steps."""
    model, xs, ys = problem(T, seed=7)
    return rnn.run(model, xs, ys, Replay(plans)).peak_nodes


def check_bounded(short, long, what):
    assert long <= 1.05 * short, (
        f"{what}: the tape held up to {long} nodes over 2,000 steps but {short} over 200; "
        "an update reaches back further than its window"
    )


@pytest.mark.task3_1
@pytest.mark.points(1)
def test_chunked_plans_for_every_small_length(student):
    cases = [((k,), T) for k in range(1, 7) for T in range(1, 14)]
    for ((k,), T), got in zip(cases, student.probe("plans", "Chunked", cases)):
        check_plan(got, rnn.Chunked(k).plan(T), f"Chunked({k}).plan({T})")


@pytest.mark.task3_1
@pytest.mark.points(2)
def test_chunked_memory_is_bounded_and_batches_match(student):
    short, long = (student.probe("plans", "Chunked", [((10,), T)]) for T in (200, 2000))
    check_bounded(driver_peak_nodes(short, 200), driver_peak_nodes(long, 2000), "Chunked(10)")
    model, xs, ys = problem(13, batch=3, seed=8)
    check_updates(rnn.gradients(model, xs, ys, Replay(student.probe("plans", "Chunked", [((4,), 13)]))),
                  rnn.gradients(model, xs, ys, rnn.Chunked(4)), "Chunked(4) on a batch of 3")


@pytest.mark.task3_2
@pytest.mark.points(1)
def test_tbptt_plans_for_every_small_window_and_length(student):
    cases = [((k1, k2), T) for k1 in range(1, 5) for k2 in range(k1, 7) for T in range(1, 13)]
    for ((k1, k2), T), got in zip(cases, student.probe("plans", "TBPTT", cases)):
        want = rnn.TBPTT(k1, k2).plan(T)
        check_plan(got, want, f"TBPTT({k1}, {k2}).plan({T})", edges=False)
        every_edge_passes = got["edges"] == [1.0] * (T + 1)
        if k2 > k1:
            assert every_edge_passes, f"TBPTT({k1}, {k2}) cuts edges: {got['edges']}"
        else:  # k1 == k2: chunks; cutting at each window's start or not gives the same gradients
            assert every_edge_passes or got["edges"] == values(want)["edges"], (
                f"TBPTT({k1}, {k2}).plan({T}).edges = {got['edges']}: expected every edge to pass, or a cut "
                "into each window's first step as Chunked makes"
            )


@pytest.mark.task3_2
@pytest.mark.points(2)
def test_tbptt_memory_is_bounded_and_batches_match(student):
    short, long = (student.probe("plans", "TBPTT", [((5, 15), T)]) for T in (200, 2000))
    check_bounded(driver_peak_nodes(short, 200), driver_peak_nodes(long, 2000), "TBPTT(5, 15)")
    model, xs, ys = problem(13, batch=2, seed=9)
    check_updates(rnn.gradients(model, xs, ys, Replay(student.probe("plans", "TBPTT", [((3, 7), 13)]))),
                  rnn.gradients(model, xs, ys, rnn.TBPTT(3, 7)), "TBPTT(3, 7) on a batch of 2")


@pytest.mark.task3_3
@pytest.mark.points(2)
def test_loop_with_a_batch_and_other_windows(student):
    for k1, k2 in ((4, 9), (1, 5), (5, 5)):
        loop_run(student, 13, k1, k2, batch=3, seed=10)


@pytest.mark.task3_3
@pytest.mark.points(1)
def test_loop_with_one_window_longer_than_the_sequence_is_full_bptt(student):
    loop_run(student, 6, 6, 10, seed=11)


@pytest.mark.task3_3
@pytest.mark.points(1)
def test_loop_memory_with_overlapping_windows_on_a_batch(student):
    peaks = [loop_run(student, T, 3, 12, batch=2, seed=12)[1] for T in (200, 2000)]
    assert peaks[0] > 0, "nothing was recorded on the current tape: record on mg.current_tape()"
    check_bounded(*peaks, "tbptt_gradients(k1=3, k2=12) on a batch of 2")
