"""Assignment 3: truncated BPTT as edits of the tape.

Part 1, policies.  The driver ``rnn.run`` (and ``rnn.gradients`` on top of it)
unrolls a cell over a sequence and executes a ``Plan`` that a strategy makes
for T steps (t = 1..T; h_0 is the initial state):

    Plan(T, edges, updates)
      edges[t]  for t = 1..T (edges[0] is unused: put 1.0): the recurrent edge
                h_{t-1} -> h_t passes gradient (PASS = 1.0) or is cut by a
                stop-gradient node (CUT = 0.0)
      updates   Update(t, first, reach), in order of t: after step t, the
                gradient of the losses l_first .. l_t, backpropagated no further
                than h_reach; the driver cuts the tape there (Tape.cut), so
                h_reach becomes a constant leaf and older nodes are freed

You write the plans of two strategies.  Chunked(k) splits the sequence into
chunks of k steps (the last one may be shorter): an update at the end of each
chunk with that chunk's losses, reaching back to the chunk's start; the state
is carried into the next chunk, but the edge into a chunk's first step is cut.

    T = 8, Chunked(3):  edges  t=1..8:  1 1 1 0 1 1 0 1
                        updates: (3, 1, 0)  (6, 4, 3)  (8, 7, 6)

TBPTT(k1, k2): an update every k1 steps, each with the losses since the last
update, reaching back k2 steps from its own t (h_{t-k2}, or h_0 when t <= k2).
If k1 does not divide T, a last update at T takes the remaining losses and
reaches back as far as a full update ending at t_prev + k1 would:
h_{t_prev + k1 - k2} (h_0 if that is negative), where t_prev is the update before.
Windows overlap when k2 > k1, so no edge is cut: every edge is PASS.

    T = 7, TBPTT(2, 3):  updates: (2, 1, 0) (4, 3, 1) (6, 5, 3) (7, 7, 5)

Part 2, the loop.  ``tbptt_gradients`` does by hand what the driver does for
TBPTT(k1, k2): unroll, and at each update cut the tape at h_reach, then
backpropagate the update's losses.  Cutting is what bounds the memory: a run
over 2,000 steps must hold no more of the tape than a run over 200.
"""

import numpy as np

import minigrad as mg
from rnn import Plan, Strategy, Update

PASS, CUT = 1.0, 0.0


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class Chunked(Strategy):
    """Chunks of k steps: gradient stays inside a chunk, the state is carried across."""

    def __init__(self, k):
        self.k = _positive_int("k", k)

    def plan(self, T):
        """The Plan of Chunked(k) on T steps (see the module docstring)."""
        T = _positive_int("T", T)
        # Hint: chunk starts are 1, k + 1, 2k + 1, ...; a chunk starting at s ends at min(s + k - 1, T),
        # reaches back to h_{s-1}, and every chunk but the first has a cut edge into its first step.
        # BEGIN SOLUTION task3_1
        edges = [PASS] * (T + 1)
        updates = []
        for start in range(1, T + 1, self.k):
            if start > 1:
                edges[start] = CUT
            updates.append(Update(t=min(start + self.k - 1, T), first=start, reach=start - 1))
        return Plan(T, tuple(edges), tuple(updates))
        # END SOLUTION


class TBPTT(Strategy):
    """An update every k1 steps, each backpropagated k2 steps (k2 >= k1)."""

    def __init__(self, k1, k2):
        self.k1 = _positive_int("k1", k1)
        self.k2 = _positive_int("k2", k2)
        if self.k2 < self.k1:
            raise ValueError(f"TBPTT needs k2 >= k1 (an update must reach its own losses), got k1={k1}, k2={k2}")

    def plan(self, T):
        """The Plan of TBPTT(k1, k2) on T steps (see the module docstring)."""
        T = _positive_int("T", T)
        # Hint: the update ends are k1, 2 k1, ... and T if it is not one of them; an update after
        # the previous one at t_prev uses the losses t_prev + 1 .. t and reaches max(t_prev + k1 - k2, 0).
        # BEGIN SOLUTION task3_2
        ends = list(range(self.k1, T + 1, self.k1))
        if not ends or ends[-1] != T:
            ends.append(T)
        updates, previous = [], 0
        for t in ends:
            updates.append(Update(t=t, first=previous + 1, reach=max(previous + self.k1 - self.k2, 0)))
            previous = t
        return Plan(T, (PASS,) * (T + 1), tuple(updates))
        # END SOLUTION


def step_loss(y_hat, y):
    """The loss of one step, as the driver computes it: 1/2 ||y_hat - y||^2, summed over the batch."""
    return mg.mse(y_hat, y, reduction="sum") * 0.5


def tbptt_gradients(model, xs, ys, k1, k2):
    """TBPTT(k1, k2) as an explicit loop: one {parameter name: gradient} per update.

    The same numbers as ``rnn.gradients(model, xs, ys, rnn.TBPTT(k1, k2))``:
    every update is computed at the same (unchanged) parameters.  ``model`` is
    a cell with a single-tensor state (``rnn.ElmanRNN``); xs is (T, n_in) or
    (T, batch, n_in).  Record on the current tape (``mg.current_tape()``, not
    a fresh ``mg.Tape()``): the tests measure its memory.
    """
    tape = mg.current_tape()
    named = list(model.named_parameters())
    batch = xs.shape[1] if np.ndim(xs) == 3 else None
    T = len(xs)
    # Hint: keep the states h_t that a later update may reach in a dict {t: h_t}.  At an update
    # after step t: reach = max(t_prev + k1 - k2, 0); if h_reach has a node (h.node is not None),
    # tape.cut(h_reach); clear every p.grad; backward the sum of the update's losses with
    # retain_graph=True (the next window reuses part of this graph); copy the gradients
    # (a parameter no loss reached gets zeros).  Forget states older than any later reach.
    # BEGIN SOLUTION task3_3
    h = model.initial_state(batch)
    states = {0: h}
    updates, total, previous = [], None, 0
    for t in range(1, T + 1):
        h, y_hat = model.step(xs[t - 1], h)
        loss = step_loss(y_hat, ys[t - 1])
        total = loss if total is None else total + loss
        states[t] = h
        if t % k1 != 0 and t != T:
            continue
        reach = max(previous + k1 - k2, 0)
        if states[reach].node is not None:
            tape.cut(states[reach])
        for _, p in named:
            p.grad = None
        total.backward(retain_graph=True)
        updates.append({name: np.zeros_like(p.data) if p.grad is None else p.grad.copy() for name, p in named})
        total, previous = None, t
        states = {s: state for s, state in states.items() if s >= t + k1 - k2}
    for _, p in named:
        p.grad = None
    return updates
    # END SOLUTION
