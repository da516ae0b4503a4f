"""Token indices as inputs: the same gradients as the one-hot vectors they stand for."""

import numpy as np
import pytest

import minigrad as mg
import rnn

STRATEGIES = [rnn.Full(), rnn.Chunked(3), rnn.TBPTT(2, 5), rnn.Checkpointed(4), rnn.ARTBP(c=0.3, seed=5)]


def same_strategy(strategy):
    """A fresh copy, so a random strategy draws the same plan twice."""
    return rnn.ARTBP(c=strategy.c, seed=strategy.seed) if isinstance(strategy, rnn.ARTBP) else strategy


@pytest.mark.parametrize("strategy", STRATEGIES, ids=repr)
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("batch", [None, 3])
def test_indices_give_the_gradients_of_their_one_hot_vectors(strategy, fused, batch):
    rng = np.random.default_rng(0)
    shape = (13,) if batch is None else (13, batch)
    indices, targets = rng.integers(0, 5, size=shape), rng.integers(0, 4, size=shape)
    one_hot = np.eye(5)[indices]
    model = rnn.ElmanRNN(5, 6, 4, seed=1, fused=fused, bias=True)
    by_index = rnn.gradients(model, indices, targets, same_strategy(strategy), loss="ce")
    by_vector = rnn.gradients(model, one_hot, targets, same_strategy(strategy), loss="ce")
    assert len(by_index) == len(by_vector)
    for got, want in zip(by_index, by_vector):
        for name in want:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-12, atol=1e-14, err_msg=name)


def test_training_on_indices_follows_training_on_one_hot_vectors():
    rng = np.random.default_rng(1)
    indices, targets = rng.integers(0, 4, size=(40, 2)), rng.integers(0, 4, size=(40, 2))
    models = [rnn.ElmanRNN(4, 5, 4, seed=2) for _ in range(2)]
    for model, xs in zip(models, (indices, np.eye(4)[indices])):
        rnn.fit(model, xs, targets, rnn.Chunked(8), mg.optim.SGD(model.parameters(), lr=0.1), loss="ce")
    for (name, a), (_, b) in zip(models[0].named_parameters(), models[1].named_parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12, err_msg=name)


def test_indices_out_of_range_and_cells_without_index_inputs_are_refused():
    model = rnn.ElmanRNN(5, 3, 2)
    with pytest.raises(ValueError, match=r"token indices, which must lie in \[0, n_in\) = \[0, 5\); got values from 0 to 5"):
        rnn.gradients(model, np.array([0, 5, 1]), np.zeros((3, 2)), rnn.Full())
    with pytest.raises(ValueError, match=r"xs holds integers \(token indices\), which LSTM does not take"):
        rnn.gradients(rnn.LSTM(5, 3, 2), np.array([0, 1, 1]), np.zeros((3, 2)), rnn.Full())
