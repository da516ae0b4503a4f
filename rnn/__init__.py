"""rnn: recurrent cells and the BPTT family as edits of the minigrad tape.

    import rnn
    model = rnn.ElmanRNN(n_in=3, n_hidden=8, n_out=2)
    grads = rnn.gradients(model, xs, ys, rnn.TBPTT(k1=4, k2=8))   # one dict per update
"""

from . import analysis, manual, tasks, viz
from .bptt import History, Result, Unrolled, fit, gradients, run, unroll
from .cells import GRU, LSTM, ElmanRNN, LinearRNN
from .layer_norm import LayerNormElman
from .truncation import ARTBP, TBPTT, Checkpointed, Chunked, Full, Plan, Randomized, Strategy, Update, survival_schedule

__all__ = [
    "ElmanRNN", "LinearRNN", "LSTM", "GRU", "LayerNormElman",
    "Full", "Chunked", "TBPTT", "Randomized", "ARTBP", "Checkpointed", "Strategy", "Plan", "Update",
    "survival_schedule", "gradients", "fit", "run", "unroll", "Unrolled", "Result", "History", "analysis", "manual", "tasks", "viz",
]
