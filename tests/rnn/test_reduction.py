"""reduction="mean" divides each update by its own number of targets; fit stops before a non-finite step."""

import numpy as np
import pytest

import minigrad as mg
import rnn
from minigrad.errors import DivergenceError


def data(T=8, batch=3, seed=0):
    rng = np.random.default_rng(seed)
    xs, ys = rng.standard_normal((T, batch, 2)), rng.standard_normal((T, batch, 1))
    ys[1, 0] = ys[5, 2] = np.nan  # skipped targets do not count
    return xs, ys


@pytest.mark.parametrize("strategy", [rnn.Full(), rnn.Chunked(3), rnn.TBPTT(2, 5), rnn.Checkpointed(3),
                                      rnn.RTRL(every=3)])
def test_mean_is_the_sum_divided_by_each_updates_targets(strategy):
    model = rnn.ElmanRNN(2, 4, 1, seed=1)
    xs, ys = data()
    counted = (~np.isnan(ys)).reshape(len(ys), -1).sum(axis=1)
    summed = rnn.gradients(model, xs, ys, strategy)
    mean = rnn.gradients(model, xs, ys, strategy, reduction="mean")
    for update, s, m in zip(strategy.plan(len(xs)).updates, summed, mean):
        n = counted[update.first - 1:update.t].sum()
        for name in s:
            np.testing.assert_allclose(m[name], s[name] / n, rtol=1e-12, atol=1e-15)


def test_mean_cross_entropy_counts_targets_that_are_not_minus_one():
    model = rnn.ElmanRNN(3, 4, 3, seed=2)
    rng = np.random.default_rng(3)
    xs, ys = rng.integers(0, 3, size=(6, 4)), rng.integers(0, 3, size=(6, 4))
    ys[:2] = -1
    (summed,), (mean,) = (rnn.gradients(model, xs, ys, rnn.Full(), loss="ce", reduction=r) for r in ("sum", "mean"))
    np.testing.assert_allclose(mean["A"], summed["A"] / 16)
    result = rnn.run(model, xs, ys, rnn.Full(), loss="ce", reduction="mean")
    assert result.losses[0] == pytest.approx(rnn.run(model, xs, ys, rnn.Full(), loss="ce").losses[0] / 16)


def test_unknown_reduction_is_refused():
    with pytest.raises(ValueError, match=r"reduction must be one of \('sum', 'mean'\), got 'avg'"):
        rnn.gradients(rnn.ElmanRNN(2, 3, 1), *data(), rnn.Full(), reduction="avg")


def test_fit_stops_before_a_non_finite_step_and_keeps_the_last_finite_weights():
    model = rnn.ElmanRNN(2, 4, 1, seed=4, f="identity")
    xs, ys = data(T=40)
    ys = np.nan_to_num(ys)
    optimizer = mg.optim.SGD(model.parameters(), lr=1e30)
    with pytest.raises(DivergenceError, match=r"training diverged at step \d+ \(update \d+\): the (loss|gradient)"):
        rnn.fit(model, xs, ys, rnn.Chunked(2), optimizer)
    assert all(np.all(np.isfinite(p.data)) for p in model.parameters())
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("entries, diverged", [
    ([1.0, 2.0], False),
    ([np.inf, -np.inf], True),        # the sum is nan
    ([1.0, np.nan], True),
    ([1e308, 1e308], False),          # finite entries whose sum overflows: checked one by one
    ([1e308, np.inf], True),
])
def test_the_divergence_guard_judges_each_gradient_entry(entries, diverged):
    from rnn.bptt import _check_finite
    from rnn.truncation import Update

    p = mg.nn.Parameter(np.zeros(2), name="w")
    p.grad = np.array(entries)
    with np.errstate(over="ignore", invalid="ignore"):
        if diverged:
            with pytest.raises(DivergenceError, match="the gradient of w is not finite"):
                _check_finite(Update(t=3, first=1, reach=0), 1.0, [p], 0)
        else:
            _check_finite(Update(t=3, first=1, reach=0), 1.0, [p], 0)
