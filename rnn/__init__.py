"""rnn: recurrent cells and the BPTT family as edits of the minigrad tape.

    import rnn
    model = rnn.ElmanRNN(n_in=3, n_hidden=8, n_out=2)
    grads = rnn.gradients(model, xs, ys, rnn.TBPTT(k1=4, k2=8))   # one dict per update
    rnn.parse_strategy("tbptt:4,8") == rnn.TBPTT(4, 8)            # the registry's notation

The command lines live in ``rnn.cli`` and are not imported here.
"""

from . import analysis, manual, online, registry, runfiles, tasks, training, viz
from .bptt import History, Result, Unrolled, fit, gradients, run, unroll
from .cells import GRU, LSTM, ElmanRNN, LinearRNN
from .layer_norm import LayerNormElman
from .online import RTRL, UORO, SnAp
from .protocol import Cell
from .registry import describe, parse_strategy, register_cell, register_strategy
from .truncation import (
    ARTBP,
    TBPTT,
    Checkpointed,
    Chunked,
    Fixed,
    Full,
    Plan,
    Randomized,
    Strategy,
    Update,
    survival_schedule,
)

for _name, _cell in (("elman", ElmanRNN), ("linear", LinearRNN), ("lstm", LSTM), ("gru", GRU),
                     ("layernorm", LayerNormElman)):
    register_cell(_name, _cell)

__all__ = [
    "Cell", "ElmanRNN", "LinearRNN", "LSTM", "GRU", "LayerNormElman",
    "Full", "Chunked", "TBPTT", "Randomized", "ARTBP", "Checkpointed", "Fixed", "Strategy", "Plan", "Update",
    "RTRL", "UORO", "SnAp",
    "survival_schedule", "gradients", "fit", "run", "unroll", "Unrolled", "Result", "History",
    "parse_strategy", "describe", "register_strategy", "register_cell",
    "analysis", "manual", "online", "registry", "runfiles", "tasks", "training", "viz",
]
