"""The benchmark configurations (C1-C4 of issue 8) and the problem every implementation solves.

The model, in every implementation, is the Elman char-RNN without biases:

    h_t      = tanh(A h_{t-1} + B x_t),     h_0 = 0,      x_t one-hot (vocab)
    logits_t = C h_t
    L        = sum over t and batch of -log softmax(logits_t)[y_t]

and one training step is: forward over the T steps, full BPTT, and the SGD
update W <- W - lr dL/dW of A, B and C.  The initial weights are those of
``rnn.ElmanRNN(vocab, hidden, vocab, f="tanh", g="identity", seed=0)``, copied
into every other implementation; the data are a seeded random character
stream, each target the next character.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

import rnn

#: SGD learning rate per term of the summed loss: lr = LEARNING_RATE / (batch * T),
#: small enough that repeated timed steps keep the weights in a sane range.
LEARNING_RATE = 0.1


@dataclass(frozen=True)
class Config:
    """The sizes of one benchmark: vocabulary (input and output), batch, hidden units, steps."""

    name: str
    vocab: int
    batch: int
    hidden: int
    T: int
    label: str = ""

    @property
    def flops(self) -> float:
        """Model FLOPs of one training step: 6 * batch * T * hidden * (hidden + vocab).

        Per example and step the forward computes A h (2 hidden^2 FLOPs) and
        C h (2 vocab hidden); the backward computes two products of each size
        (dA and dL/dh_{t-1}; dC and dL/dh_t), so a step costs 3x its forward.
        B x_t is a row lookup for a one-hot x_t and is not counted, although the
        implementations here multiply the dense one-hot arrays: model FLOPs per
        second are then a lower bound on what the hardware did.
        """
        return 6.0 * self.batch * self.T * self.hidden * (self.hidden + self.vocab)

    def sizes(self) -> str:
        """The sizes in words, for tables."""
        return f"vocab {self.vocab}, batch {self.batch}, hidden {self.hidden}, T {self.T}"


CONFIGS = {
    "C1": Config("C1", vocab=65, batch=1, hidden=100, T=25, label="char-rnn"),
    "C2": Config("C2", vocab=65, batch=32, hidden=128, T=35),
    "C3": Config("C3", vocab=256, batch=64, hidden=512, T=50, label="BLAS-bound"),
    "C4": Config("C4", vocab=65, batch=16, hidden=128, T=1000, label="long"),
}

#: tiny stand-ins with the same shape of problem, for ``--quick`` smoke runs and the tests
QUICK_CONFIGS = {
    "C1": Config("C1", vocab=11, batch=1, hidden=8, T=6, label="char-rnn"),
    "C2": Config("C2", vocab=11, batch=4, hidden=8, T=7),
    "C3": Config("C3", vocab=13, batch=4, hidden=16, T=5, label="BLAS-bound"),
    "C4": Config("C4", vocab=11, batch=2, hidden=8, T=40, label="long"),
}


@dataclass
class Problem:
    """One configuration made concrete: initial weights, inputs, targets and learning rate."""

    config: Config
    weights: dict  # "A" (hidden, hidden), "B" (hidden, vocab), "C" (vocab, hidden)
    xs: np.ndarray  # (T, batch, vocab) one-hot inputs
    ys: np.ndarray  # (T, batch) int64 targets: the next character
    lr: float

    @property
    def dtype(self) -> np.dtype:
        """float32 in the benchmark (float64 in some tests)."""
        return self.xs.dtype


def character_stream(T: int, batch: int, vocab: int, seed: int = 0, dtype=np.float32):
    """A seeded random stream of characters as (one-hot inputs (T, batch, vocab), next-character targets (T, batch))."""
    chars = np.random.default_rng(seed).integers(0, vocab, size=(T + 1, batch))
    xs = np.eye(vocab, dtype=dtype)[chars[:-1]]
    return xs, chars[1:].astype(np.int64)


def make_problem(config: Config, dtype=np.float32, seed: int = 0) -> Problem:
    """The weights of ``rnn.ElmanRNN(..., seed=0)`` and a seeded character stream, in ``dtype``."""
    model = rnn.ElmanRNN(config.vocab, config.hidden, config.vocab, f="tanh", g="identity", seed=0, dtype=dtype)
    weights = {name: p.data.copy() for name, p in model.named_parameters()}
    xs, ys = character_stream(config.T, config.batch, config.vocab, seed=seed, dtype=dtype)
    return Problem(config, weights, xs, ys, lr=LEARNING_RATE / (config.batch * config.T))


def select(names: str | None, quick: bool = False) -> list[Config]:
    """The configurations named in a comma-separated list ("C1,C3"), all of them for None."""
    table = QUICK_CONFIGS if quick else CONFIGS
    if names is None:
        return list(table.values())
    chosen = [n.strip().upper() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in table]
    if unknown or not chosen:
        raise ValueError(f"--configs: unknown configuration(s) {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(table)}, e.g. --configs C1,C2")
    return [table[n] for n in chosen]


def positive_int(text: str) -> int:
    """argparse type of the benchmarks' counts (repeats, epochs, T): a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value
