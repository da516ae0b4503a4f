"""Sampling text: determinism, the prime, and what temperature does."""

import pytest

import minigrad as mg
import rnn
from rnn.sampling import sample_text
from rnn.tasks import CharText


@pytest.fixture(scope="module")
def trained():
    """A tiny model trained on 'abcabc...' until it predicts the next letter."""
    text = CharText.from_string("abc" * 200)
    task = text.task(T=60, batch=4)
    model = rnn.ElmanRNN(3, 8, 3, seed=0)
    optimizer = mg.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(30):
        rnn.fit(model, task.xs, task.ys, rnn.Chunked(6), optimizer, loss="ce")
    return model, text


def test_a_trained_model_continues_the_pattern_at_low_temperature(trained):
    model, text = trained
    out = sample_text(model, text, n=30, prime="ab", temperature=0.1)
    assert out.startswith("ab") and len(out) == 32
    assert out == ("abc" * 11)[:32]


def test_sampling_is_reproducible_from_the_seed_and_high_temperature_varies(trained):
    model, text = trained
    a = sample_text(model, text, n=200, prime="a", temperature=5.0, seed=1)
    assert a == sample_text(model, text, n=200, prime="a", temperature=5.0, seed=1)
    assert a != sample_text(model, text, n=200, prime="a", temperature=5.0, seed=2)
    breaks = sum(1 for x, y in zip(a, a[1:]) if "abc".index(y) != ("abc".index(x) + 1) % 3)
    assert breaks > 20  # a flat distribution breaks the pattern often


def test_bad_arguments(trained):
    model, text = trained
    with pytest.raises(ValueError, match="temperature must be > 0"):
        sample_text(model, text, n=3, temperature=0)
    with pytest.raises(ValueError, match=r"n \(characters to draw\) must be an integer >= 0, got -1"):
        sample_text(model, text, n=-1)
    assert sample_text(model, text, n=0, prime="b") == "b"
