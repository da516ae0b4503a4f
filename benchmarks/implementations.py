"""Every implementation of the training step behind one small interface.

An implementation turns a ``Problem`` into a trainer with two methods:

    trainer.gradients() -> {"A": dA, "B": dB, "C": dC}   # at the current weights, no update
    trainer.step()                                       # forward + full BPTT + SGD: what is timed

Each trainer owns its copy of the weights, so timing one never changes another.
minigrad is driven through its public API only (``rnn.ElmanRNN``,
``rnn.gradients``, ``rnn.fit`` with ``rnn.Full()`` and ``minigrad.optim.SGD``),
so every speed-up of the engine shows here without a change.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

import minigrad as mg
import rnn

from .configs import Config, Problem
from .numba_reference import step_numba
from .references import step_hoisted, step_loop

#: the implementation every other one is checked against, and the first ratio's denominator
REFERENCE = "numpy loop"
HOISTED = "numpy hoisted"
FUSED = "minigrad fused"
FUSED_INDICES = "minigrad fused, indices"
OP_LEVEL = "minigrad op-level"
NN_RNN = "torch nn.RNN"


class ReferenceTrainer:
    """A hand-written step function ``step(weights, xs, ys, lr) -> (loss, grads)`` on its own weights."""

    def __init__(self, step_fn, problem: Problem):
        self.step_fn = step_fn
        self.weights = {name: w.copy() for name, w in problem.weights.items()}
        self.xs, self.ys, self.lr = problem.xs, problem.ys, problem.lr

    def gradients(self) -> dict:
        """dL/dA, dL/dB, dL/dC at the current weights (lr = 0: the weights do not change)."""
        return self.step_fn(self.weights, self.xs, self.ys, 0.0)[1]

    def step(self) -> None:
        """One training step: forward, BPTT and the SGD update of this trainer's weights."""
        self.step_fn(self.weights, self.xs, self.ys, self.lr)


class MinigradTrainer:
    """``rnn.ElmanRNN`` (fused or op-level cell) trained by ``rnn.fit`` with Full BPTT and SGD,
    on the one-hot inputs or (``indices``) on the characters' indices, the same model."""

    def __init__(self, problem: Problem, fused: bool, indices: bool = False):
        config = problem.config
        self.model = rnn.ElmanRNN(config.vocab, config.hidden, config.vocab, f="tanh", g="identity", seed=0,
                                  fused=fused, dtype=problem.dtype)
        self.model.load_state_dict(problem.weights)
        self.optimizer = mg.optim.SGD(self.model.parameters(), lr=problem.lr)
        # indices: each one-hot x_t given by its position, so B x_t is a column lookup
        self.xs = problem.xs.argmax(axis=-1) if indices else problem.xs
        self.ys = problem.ys

    def gradients(self) -> dict:
        """The one update of Full BPTT, from ``rnn.gradients`` (the model does not change)."""
        return rnn.gradients(self.model, self.xs, self.ys, rnn.Full(), loss="ce")[0]

    def step(self) -> None:
        """``rnn.fit`` over the sequence with Full BPTT: one forward, one backward, one SGD step."""
        rnn.fit(self.model, self.xs, self.ys, rnn.Full(), self.optimizer, loss="ce")


@dataclass(frozen=True)
class Implementation:
    """A named way to make a trainer; ``applies(config)`` says where it is worth timing."""

    name: str
    kind: str  # "minigrad" or "reference" (hand-written: numpy, numba, torch)
    make: Callable[[Problem], object]
    applies: Callable[[Config], bool] = lambda config: True
    not_applicable: str = ""  # why it is left out where it does not apply


def _batch_of_one(config: Config) -> bool:
    return config.batch == 1


def torch_available() -> bool:
    """Whether torch can be imported (without importing it: that takes seconds)."""
    return importlib.util.find_spec("torch") is not None


def implementations(use_torch: bool = True) -> list[Implementation]:
    """minigrad fused (on one-hot inputs and on indices) and op-level, the numpy loop and hoisted
    references, the numba recurrence,
    and torch's eager loop and nn.RNN when ``use_torch`` and torch is installed."""
    found = [
        Implementation(FUSED, "minigrad", lambda p: MinigradTrainer(p, fused=True)),
        Implementation(FUSED_INDICES, "minigrad", lambda p: MinigradTrainer(p, fused=True, indices=True)),
        Implementation(OP_LEVEL, "minigrad", lambda p: MinigradTrainer(p, fused=False)),
        Implementation(REFERENCE, "reference", lambda p: ReferenceTrainer(step_loop, p)),
        Implementation(HOISTED, "reference", lambda p: ReferenceTrainer(step_hoisted, p)),
        Implementation("numba recurrence", "reference", lambda p: ReferenceTrainer(step_numba, p),
                       applies=_batch_of_one,
                       not_applicable="its A h loops beat BLAS only as matrix-vector products (batch 1)"),
    ]
    if use_torch and torch_available():
        from . import torch_references

        found += [
            Implementation("torch eager loop", "reference", torch_references.eager_loop),
            Implementation(NN_RNN, "reference", torch_references.nn_rnn),
        ]
    return found
