"""The cell table: one row per way to build a cell of ``rnn``, driving the cell test suite.

As ``tests/minigrad/op_table.py`` does for ops, a row says how to build a cell
(its class and constructor arguments beyond the sizes); ``test_cell_table``
runs every row through a two-step gradcheck (float64, unbatched and batched,
with respect to the state, the inputs and every parameter), scan/step
agreement for cells with a ``scan`` (factors 1, 0 and 0.5 against the
stepped graph with stop-gradient / scale-gradient nodes) and float32 (runs,
stays float32, close to float64).

``test_cell_table.test_every_cell_of_rnn_has_a_row`` compares the classes
here with the cells in ``rnn.__all__`` and in the registry: a new cell cannot
skip the suite.  To add a cell, add a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import rnn

N_IN, N_HIDDEN, N_OUT = 2, 3, 2


@dataclass(frozen=True)
class CellRow:
    """One cell to test: ``cls(N_IN, N_HIDDEN, N_OUT, **kwargs)`` with every parameter random."""

    name: str
    cls: type
    kwargs: dict = field(default_factory=dict)

    def make(self, dtype=np.float64, seed: int = 0):
        """The cell, every parameter (biases too) drawn at random from ``seed``, so each term of
        the step is exercised; the same seed gives the same values in any dtype."""
        model = self.cls(N_IN, N_HIDDEN, N_OUT, dtype=dtype, **self.kwargs)
        rng = np.random.default_rng(seed + 100)
        model.load_state_dict({name: 0.6 * rng.standard_normal(a.shape) for name, a in model.state_dict().items()})
        return model


def _both(name: str, cls: type, **kwargs) -> tuple:
    """The fused row and the per-op row of a cell that has both."""
    return (CellRow(name, cls, {**kwargs, "fused": True}), CellRow(f"{name}-ops", cls, {**kwargs, "fused": False}))


CELLS = (
    *_both("elman", rnn.ElmanRNN),
    *_both("elman-bias-sigmoid-out", rnn.ElmanRNN, bias=True, g="sigmoid"),
    *_both("elman-sigmoid", rnn.ElmanRNN, f="sigmoid", bias=True),  # the kernels' generic (non-tanh) loops
    *_both("linear", rnn.LinearRNN),
    *_both("lstm", rnn.LSTM),
    *_both("gru", rnn.GRU),
    CellRow("layernorm", rnn.LayerNormElman),
    CellRow("layernorm-sigmoid", rnn.LayerNormElman, {"f": "sigmoid", "g": "tanh"}),
)

ROWS = {row.name: row for row in CELLS}
