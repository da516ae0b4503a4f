"""The cell protocol: what every strategy, ``rnn.gradients`` and ``rnn.fit`` ask of a model.

Two methods make a cell (``Cell``); a handful of optional hooks let the
driver and the tools do more with cells that offer them.  Each hook is
documented here, once, and read through the function next to it, so no
module guesses at a model with ``getattr``:

=================  =========================================  ======================  ==================
hook               what it is                                 read by                 when absent
=================  =========================================  ======================  ==================
``n_in``           the input width (int)                      ``input_size``          xs not checked
``takes_indices``  True: xs may hold token indices            ``accepts_indices``     features only
``scan``           None, or run a segment as a few nodes      ``scan_of``             the driver steps
``weights()``      (recurrent, input, output) matrices        ``weights_of``          TypeError
=================  =========================================  ======================  ==================

The built-in cells (``ElmanRNN``, ``LinearRNN``, ``LSTM``, ``GRU``,
``LayerNormElman``) all follow it; a student's Module with ``initial_state``
and ``step`` is a cell too, without any hook.
"""

from __future__ import annotations

from typing import Protocol, Union, runtime_checkable

from minigrad.nn import Parameter
from minigrad.tensor import Tensor

#: A hidden state: one tensor, or a tuple of them (the LSTM's (h, c)).
State = Union[Tensor, tuple]


@runtime_checkable
class Cell(Protocol):
    """A recurrent cell: a Module (so ``parameters()``) with two methods.

    ``initial_state(batch)``: the state before step 1; ``batch=None`` for one
    (T, n_in) sequence, an int for (T, batch, n_in).  Tensors that need no
    gradient (zeros); a tuple for a cell with several state parts.

    ``step(x_t, h)``: one time step, ``(h_t, y_hat_t)`` from the input x_t
    (an array of shape (n_in,) or (batch, n_in), or token indices if the
    cell ``takes_indices``) and the previous state h, recording its ops on
    the current tape.  The driver edits the recurrent edge before the call
    (a stop-gradient or scale-gradient node on h), so ``step`` never sees the
    plan.

    ``isinstance(model, Cell)`` checks that the three methods exist.
    """

    def initial_state(self, batch: int | None = None) -> State: ...

    def step(self, x_t, h: State) -> tuple[State, Tensor]: ...

    def parameters(self) -> list[Parameter]: ...


class Scan(Protocol):
    """The optional ``scan`` hook's value: ``scan(xs, h, factors) -> (states, outputs)``.

    Runs steps 1..L of a segment from state h at once: ``xs`` the segment's
    inputs (L, ...), ``factors[t-1]`` the plan's factor on the edge
    h_{t-1} -> h_t (1 passes, 0 cuts, c scales the gradient; on every part
    of a tuple state); returns the states h_1..h_L and the outputs
    y_hat_1..y_hat_L, each stacked along a first axis of length L (a tuple
    state as a tuple of such stacks, one per part: the LSTM's (h, c)).  Its
    gradients must equal those of stepping with the same edge edits
    (``tests/rnn/test_cell_table.py`` checks every cell that has one).  The
    fused Elman RNN, LSTM and GRU each record one node per segment
    (``elman_scan``, ``lstm_scan``, ``gru_scan``).
    """

    def __call__(self, xs, h: State, factors) -> tuple[State, Tensor]: ...


class Hooks(Protocol):
    """Every optional hook at once, as a type (a cell may offer any of them, or none).

    ``n_in``: the width of x_t; the driver checks xs against it (and token
    indices against [0, n_in)).

    ``takes_indices``: True if xs may hold integer token indices instead of
    one-hot vectors; the driver refuses integer xs for any other cell.

    ``scan``: None, or a ``Scan`` (usually a property, so it can depend on
    the cell's settings: the Elman RNN has one only when ``fused``).

    ``weights()``: the (recurrent, input, output) weight matrices, e.g.
    (A, B, C); the tools that look at the recurrent matrix (its spectral
    radius, the Jacobians of the vanishing-gradient analysis) use it.
    """

    n_in: int
    takes_indices: bool
    scan: Scan | None

    def weights(self) -> tuple[Tensor, Tensor, Tensor]: ...


def is_cell(model) -> bool:
    """Whether ``model`` has what ``Cell`` asks for."""
    return isinstance(model, Cell)


def input_size(model) -> int | None:
    """The ``n_in`` hook: the width of x_t, or None if the cell does not say."""
    return getattr(model, "n_in", None)


def accepts_indices(model) -> bool:
    """The ``takes_indices`` hook: may xs hold token indices (False if the cell does not say)?"""
    return bool(getattr(model, "takes_indices", False))


def scan_of(model) -> Scan | None:
    """The ``scan`` hook: the cell's segment runner, or None (then the driver steps the cell)."""
    return getattr(model, "scan", None)


def scan_matches_step(cell) -> bool:
    """Whether ``cell.step`` is the step that its ``run_segment`` scans: that of the class
    defining ``run_segment``.  A subclass that overrides ``step`` alone (a student's own
    LSTM step, say) must be stepped, or the driver would run the parent's scan instead of
    the subclass's step; the built-in cells offer their scan only when this holds."""
    cls = type(cell)
    owner = next((klass for klass in cls.__mro__ if "run_segment" in vars(klass)), None)
    return owner is not None and cls.step is owner.step


def weights_of(model) -> tuple:
    """The ``weights()`` hook: (recurrent, input, output) matrices, or a TypeError naming the cell."""
    weights = getattr(model, "weights", None)
    if weights is None:
        raise TypeError(f"{type(model).__name__} has no weights() -> (recurrent, input, output) matrices, "
                        "which this tool needs (see rnn.protocol.Hooks)")
    return tuple(weights())


__all__ = ["Cell", "Scan", "Hooks", "State", "is_cell", "input_size", "accepts_indices", "scan_of",
           "scan_matches_step", "weights_of"]
