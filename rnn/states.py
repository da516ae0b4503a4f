"""A recurrent state is one tensor (Elman, GRU) or a tuple of tensors (the LSTM's (h, c)).

These helpers let the driver, the analysis and the drawings treat both alike.
"""

from __future__ import annotations

from minigrad.tensor import Tensor


def hidden_of(state):
    """The hidden state h of a state that may be a tuple (the LSTM's (h, c): h comes first)."""
    return state[0] if isinstance(state, tuple) else state


def map_state(fn, state):
    """``fn`` applied to each tensor of the state, keeping its shape (a tensor or a tuple)."""
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


def parts(state) -> tuple:
    """The tensors of a state, as a tuple."""
    return state if isinstance(state, tuple) else (state,)


def newest(state) -> Tensor | None:
    """The state tensor recorded last (cutting the tape there frees everything before the state)."""
    recorded = [s for s in parts(state) if isinstance(s, Tensor) and s.node is not None]
    return max(recorded, key=lambda s: s.node.seq) if recorded else None
