"""Sampling text from a character-level model, with a temperature.

At each step the model's logits y_hat are turned into probabilities
softmax(y_hat / temperature) and the next character is drawn from them; that
character is the next input.  Temperature 1 samples the model as trained;
below 1 sharpens towards the most likely character, above 1 flattens towards
uniform.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad import validate

from .tasks import CharText


def sample_text(model, text: CharText, n: int, prime: str = "", temperature: float = 1.0, seed: int = 0) -> str:
    """Feed ``prime`` (or the first vocabulary character) through the model, then draw ``n`` characters."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    n = validate.positive_int("n (characters to draw)", n, minimum=0)
    rng = np.random.default_rng(seed)
    identity = np.eye(len(text.vocab))
    prime_indices = text.encode(prime or text.vocab[0])
    drawn = []
    with mg.no_grad():
        h = model.initial_state(None)
        for index in prime_indices[:-1]:
            h, _ = model.step(identity[index], h)
        current = prime_indices[-1]
        for _ in range(n):
            h, logits = model.step(identity[current], h)
            scaled = logits.data / temperature
            probs = np.exp(scaled - scaled.max())
            current = rng.choice(len(probs), p=probs / probs.sum())
            drawn.append(current)
    return prime + text.decode(np.array(drawn, dtype=np.int64))
