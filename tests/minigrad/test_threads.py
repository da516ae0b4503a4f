"""minigrad.threads: the BLAS thread limit, its size rule, and the driver running under it."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import minigrad as mg
import rnn
from minigrad import threads
from rnn.bptt import largest_product


@pytest.fixture
def two_threads():
    """A known starting point: numpy's BLAS on two threads (whatever the machine's core count)."""
    with threadpool_limits(2, user_api="blas"):
        if threads.current() != 2:
            pytest.skip("this numpy's BLAS does not report a thread count")
        yield


def test_the_limit_holds_inside_and_is_undone_after(two_threads):
    with threads.blas_threads(1):
        assert threads.current() == 1
    assert threads.current() == 2


def test_the_limit_never_raises_the_count_a_user_set(two_threads):
    with threadpool_limits(1, user_api="blas"):
        with threads.blas_threads(2):
            assert threads.current() == 1


def test_small_products_get_one_thread_large_ones_every_thread(two_threads):
    assert threads.threads_for(threads.SHARED_PRODUCT_FLOPS - 1) == 1
    assert threads.threads_for(threads.SHARED_PRODUCT_FLOPS) == 2


@pytest.mark.parametrize("xs_shape, indices, rows", [
    ((5, 3), False, 1),          # one sequence of feature vectors
    ((5, 4, 3), False, 4),       # a batch of 4
    ((5, 4), True, 4),           # a batch of 4 token indices
    ((5,), True, 1),             # one sequence of token indices
])
def test_the_largest_product_counts_every_row_of_the_batch(xs_shape, indices, rows):
    model = rnn.ElmanRNN(3, 7, 2)  # it takes token indices as well as vectors
    xs = np.zeros(xs_shape, dtype=np.int64 if indices else np.float64)
    assert largest_product(model, xs) == 2.0 * rows * 7 * 7  # A (7 x 7) is the largest matrix


def _threads_during_fit(batch: int, hidden: int) -> set:
    model = rnn.ElmanRNN(3, hidden, 2, seed=0)
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((6, batch, 3)), rng.standard_normal((6, batch, 2))
    seen = set()
    rnn.fit(model, xs, ys, rnn.Chunked(3), mg.optim.SGD(model.parameters(), lr=0.01),
            callback=lambda *_: seen.add(threads.current()))
    return seen


def test_the_driver_runs_small_models_on_one_thread_and_restores_after(two_threads):
    assert _threads_during_fit(batch=4, hidden=8) == {1}
    assert threads.current() == 2


def test_the_driver_lets_a_large_product_use_every_thread(two_threads, monkeypatch):
    batch, hidden = 4, 8
    monkeypatch.setattr(threads, "SHARED_PRODUCT_FLOPS", 2.0 * batch * hidden * hidden)
    assert _threads_during_fit(batch, hidden) == {2}
