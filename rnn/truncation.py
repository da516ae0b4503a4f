"""BPTT strategies as plans: where the recurrent edge is cut or scaled, when updates happen.

Every strategy answers the same three questions for a sequence of T steps
(steps are t = 1..T, h_0 is the initial state):

1. the recurrent edge h_{t-1} -> h_t: does gradient pass (factor 1), get cut
   (factor 0: a stop-gradient node) or get scaled (factor c: a scale-gradient
   node)?                                                    -> ``Plan.edges[t]``
2. is an update due after step t, and with which losses?    -> ``Plan.updates``
3. how far back may that update's gradient reach?  (h_reach becomes a leaf:
   older nodes are cut off the tape)                       -> ``Update.reach``

A ``Plan`` is a pure function of (strategy, T, seed), computed before the run:
it can be printed, drawn and tested on its own, and the driver in
``rnn.bptt`` only executes it.

    t:        1   2   3   4   5   6   7   8        Chunked(3), T = 8
    edges:    1   1   1   0   1   1   0   1        (0 = cut before step t)
    updates:          ^3          ^6      ^8       each with its chunk's losses

    TBPTT(k1=2, k2=4): update every 2 steps; the update at t uses the losses
    of steps t-1, t and backpropagates to h_{t-4}: windows overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PASS, CUT = 1.0, 0.0


@dataclass(frozen=True)
class Update:
    """One gradient handed to the optimizer after step ``t``.

    It is the gradient of the losses l_first .. l_t, backpropagated no further
    back than h_reach (reach = 0 means back to h_0).
    """

    t: int
    first: int
    reach: int


@dataclass(frozen=True)
class Plan:
    """What a strategy does on a sequence of length T (see the module docstring)."""

    T: int
    edges: tuple  # edges[t] for t = 1..T; edges[0] is unused (1.0)
    updates: tuple  # of Update, ordered by t
    checkpoint: int | None = None  # segment length for checkpointed BPTT

    def keep_from(self, i: int) -> int:
        """After update i, the oldest state any later update still needs."""
        later = [u.reach for u in self.updates[i + 1:]]
        return min([self.updates[i].t] + later)

    def cut_steps(self) -> list[int]:
        return [t for t in range(1, self.T + 1) if self.edges[t] == CUT]

    def scaled_steps(self) -> dict[int, float]:
        return {t: c for t, c in enumerate(self.edges) if t >= 1 and c not in (PASS, CUT)}


def _check_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_T(T) -> int:
    return _check_int("T (the sequence length)", T)


def _windows(T: int, k1: int, k2: int) -> tuple:
    """Updates every k1 steps, each reaching back k2 steps from its own t, and one at T
    for the remaining steps.

    The remainder update reaches as far back as a full update would have
    (h_{t_prev + k1 - k2}), so that Chunked(k) is TBPTT(k, k) on a partial last
    chunk too: its gradient does not cross the last chunk boundary.
    """
    ends = list(range(k1, T + 1, k1))
    if not ends or ends[-1] != T:
        ends.append(T)
    updates, previous = [], 0
    for t in ends:
        updates.append(Update(t=t, first=previous + 1, reach=max(previous + k1 - k2, 0)))
        previous = t
    return tuple(updates)


class Strategy:
    """Base class: a strategy makes a Plan for a sequence length."""

    random = False

    def plan(self, T: int) -> Plan:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


class Full(Strategy):
    """Full BPTT: one update at T with every loss, back to h_0."""

    def plan(self, T: int) -> Plan:
        T = _check_T(T)
        return Plan(T, (PASS,) * (T + 1), (Update(T, 1, 0),))


class TBPTT(Strategy):
    """TBPTT(k1, k2) (Williams and Peng): every k1 steps, backpropagate the losses since the
    last update back to h_{t-k2} (h_0 when t <= k2).  k2 > k1 makes windows overlap.
    When k1 does not divide T, a last update at T takes the remaining losses.

    Sutskever's pseudo-code: for t = 1..T: run the RNN one step; if t divides by
    k1: run BPTT from t down to t - k2 and update.  The driver keeps the last k2
    steps on the tape and cuts older nodes off, instead of recomputing.
    """

    def __init__(self, k1: int, k2: int):
        self.k1 = _check_int("k1", k1)
        self.k2 = _check_int("k2", k2)
        if self.k2 < self.k1:
            raise ValueError(f"TBPTT needs k2 >= k1 (each update must reach its own losses), got k1={k1}, k2={k2}")

    def plan(self, T: int) -> Plan:
        T = _check_T(T)
        updates = _windows(T, self.k1, self.k2)
        edges = [PASS] * (T + 1)
        if self.k1 == self.k2:  # chunks: the carried state is detached at each boundary
            for u in updates[:-1]:
                edges[u.t + 1] = CUT
        return Plan(T, tuple(edges), updates)


class Chunked(TBPTT):
    """Chunked truncation with carried state: TBPTT(k, k).  The hidden state crosses
    chunk boundaries, gradient does not (a stop-gradient node at each boundary)."""

    def __init__(self, k: int):
        super().__init__(k, k)

    def __repr__(self) -> str:
        return f"Chunked(k={self.k1})"


class Randomized(Strategy):
    """Randomized truncation: one update at T; the gradient from h_t into h_{t-1} is
    multiplied by xi_t = 1/p with probability p, else 0, independently for t = 2..T
    (the edge from h_0 is left alone: h_0 is not a trained value).

    E[xi_t] = 1 and the xi are independent, so every path's product of factors
    has expectation 1: the estimate is unbiased.
    """

    random = True

    def __init__(self, p: float, seed: int = 0):
        if not (isinstance(p, (int, float)) and 0 < p <= 1):
            raise ValueError(f"Randomized needs a keep probability p in (0, 1], got {p!r}")
        self.p = float(p)
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def plan(self, T: int) -> Plan:
        """A fresh draw of the xi_t (each call continues the seeded random stream)."""
        T = _check_T(T)
        keep = self._rng.random(T - 1) < self.p
        edges = (PASS, PASS) + tuple(1.0 / self.p if k else CUT for k in keep)
        return Plan(T, edges, (Update(T, 1, 0),))


def survival_schedule(L0: float = 10.0, a: float = 3.0):
    """ARTBP's length-dependent truncation probability c(L) = 1 - S(L+1)/S(L),
    with survival S(L) = (1 + L/L0)^(-a): long runs become ever less likely to be cut.

    a <= 2 is refused: the run length then has infinite variance (a trial with
    a = 1 produced a sub-sequence of over 10,000 steps).
    """
    if not a > 2:
        raise ValueError(f"survival_schedule needs a > 2 (finite variance of the sub-sequence length), got a={a}")
    if not L0 > 0:
        raise ValueError(f"survival_schedule needs L0 > 0, got L0={L0}")

    def c(L: int) -> float:
        return 1.0 - ((1 + (L + 1) / L0) / (1 + L / L0)) ** (-a)

    c.description = f"c(L) = 1 - S(L+1)/S(L), S(L) = (1 + L/{L0:g})^-{a:g}"
    return c


class ARTBP(Strategy):
    """Anticipated reweighted truncated backpropagation (Tallec and Ollivier, 2017).

    After each step t a truncation is drawn with probability c_t (fixed before
    the draw; it may depend on the run length L since the last cut).  A
    truncation ends the sub-sequence: an update with its losses, and a
    stop-gradient on the edge into step t+1.  No truncation: the edge gets a
    scale-gradient node of 1/(1 - c_t).  The state is always carried.  Each
    path's factor is a product of indicator/(1 - c) terms of mean 1, so the sum
    of the updates is an unbiased estimate of the full gradient.
    """

    random = True

    def __init__(self, c: float = 0.1, schedule=None, seed: int = 0):
        if schedule is None and not (isinstance(c, (int, float)) and 0 < c < 1):
            raise ValueError(f"ARTBP needs a truncation probability c in (0, 1), got {c!r}")
        self.c = float(c)
        self.schedule = schedule
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def probability(self, run_length: int) -> float:
        c = self.c if self.schedule is None else float(self.schedule(run_length))
        if not 0 <= c < 1:
            raise ValueError(f"ARTBP: the schedule gave c={c} for run length {run_length}; it must be in [0, 1)")
        return c

    def plan(self, T: int) -> Plan:
        """A fresh draw of the truncation points (each call continues the seeded random stream)."""
        T = _check_T(T)
        rng = self._rng
        edges, updates = [PASS, PASS], []
        first, run = 1, 1
        for t in range(1, T):
            c = self.probability(run)
            if rng.random() < c:
                updates.append(Update(t, first, first - 1))
                edges.append(CUT)
                first, run = t + 1, 1
            else:
                edges.append(1.0 / (1.0 - c))
                run += 1
        updates.append(Update(T, first, first - 1))
        return Plan(T, tuple(edges), tuple(updates))


class Checkpointed(Strategy):
    """The exact full gradient, storing only every ``segment``-th hidden state.

    The forward pass keeps h_0, h_s, h_2s, ... and records nothing; the backward
    pass recomputes one segment at a time (newest first) on the tape, so the tape
    holds at most one segment: memory ~ T/segment + segment (best at segment ~ sqrt T).
    """

    def __init__(self, segment: int):
        self.segment = _check_int("segment", segment)

    def plan(self, T: int) -> Plan:
        T = _check_T(T)
        return Plan(T, (PASS,) * (T + 1), (Update(T, 1, 0),), checkpoint=self.segment)


__all__ = [
    "PASS", "CUT", "Update", "Plan", "Strategy", "Full", "TBPTT", "Chunked",
    "Randomized", "ARTBP", "Checkpointed", "survival_schedule",
]
