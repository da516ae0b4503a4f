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

The edge into step 1 always passes (factor 1): h_0 is a constant, not a
trained value, so cutting or scaling gradient into it would record a node
that changes nothing.  Randomized and ARTBP draw factors for t = 2..T only.

A new strategy is a subclass of ``Strategy`` with a ``plan(T)`` method,
registered with ``@register_strategy("name")`` (``rnn.registry``): the command
lines, ``rnn.parse_strategy`` and the drawings then know it.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from minigrad import validate

from .registry import register_strategy

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
    carries: str | None = None  # online strategies (rnn.online): what they carry forward instead of a window

    def keep_from(self, i: int) -> int:
        """After update i, the oldest state any later update still needs."""
        later = [u.reach for u in self.updates[i + 1:]]
        return min([self.updates[i].t] + later)

    def cut_steps(self) -> list[int]:
        return [t for t in range(1, self.T + 1) if self.edges[t] == CUT]

    def scaled_steps(self) -> dict[int, float]:
        return {t: c for t, c in enumerate(self.edges) if t >= 1 and c not in (PASS, CUT)}


def _check_T(T) -> int:
    return validate.positive_int("T (the sequence length)", T)


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
    """Base class: a strategy makes a Plan for a sequence length.

    A subclass keeps each constructor parameter as an attribute of the same
    name: ``repr``, equality and ``rnn.describe`` read them from there.
    """

    random = False

    def plan(self, T: int) -> Plan:  # pragma: no cover - abstract
        raise NotImplementedError

    def parameters(self) -> dict:
        """{constructor parameter: value}, in signature order."""
        names = [n for n in inspect.signature(type(self).__init__).parameters if n != "self"]
        return {n: getattr(self, n) for n in names if hasattr(self, n)}

    def __eq__(self, other) -> bool:
        """Same class and parameters (a random strategy's stream position is not compared)."""
        return type(self) is type(other) and self.parameters() == other.parameters()

    def __hash__(self) -> int:
        return hash((type(self), tuple(map(repr, self.parameters().values()))))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.parameters().items())
        return f"{type(self).__name__}({fields})"


@register_strategy("full")
class Full(Strategy):
    """Full BPTT: one update at T with every loss, back to h_0."""

    def plan(self, T: int) -> Plan:
        T = _check_T(T)
        return Plan(T, (PASS,) * (T + 1), (Update(T, 1, 0),))


@register_strategy("tbptt", examples={"k1": 5, "k2": 20})
class TBPTT(Strategy):
    """TBPTT(k1, k2): every k1 steps, backpropagate k2 steps (overlapping windows when k2 > k1).

    TBPTT(k1, k2) (Williams and Peng): every k1 steps, backpropagate the losses since the
    last update back to h_{t-k2} (h_0 when t <= k2).  k2 > k1 makes windows overlap.
    When k1 does not divide T, a last update at T takes the remaining losses.

    Sutskever's pseudo-code: for t = 1..T: run the RNN one step; if t divides by
    k1: run BPTT from t down to t - k2 and update.  The driver keeps the last k2
    steps on the tape and cuts older nodes off, instead of recomputing.
    """

    def __init__(self, k1: int, k2: int):
        self.k1 = validate.positive_int("k1", k1)
        self.k2 = validate.positive_int("k2", k2)
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


@register_strategy("chunked", examples={"k": 10})
class Chunked(TBPTT):
    """Chunked truncation: update every k steps, state carried, gradient cut at chunk edges.

    TBPTT(k, k).  The hidden state crosses chunk boundaries, gradient does not
    (a stop-gradient node at each boundary)."""

    def __init__(self, k: int):
        super().__init__(k, k)
        self.k = self.k1


def randomized_edges(keep, p: float) -> tuple:
    """The edge factors of one Randomized draw: edges[0] and edges[1] pass, then for
    t = 2..T the factor 1/p where ``keep[t-2]`` is true and 0 (a cut) where it is false."""
    return (PASS, PASS) + tuple(1.0 / p if k else CUT for k in keep)


@register_strategy("randomized", examples={"p": 0.5})
class Randomized(Strategy):
    """Randomized truncation: keep each recurrent edge with probability p, scaled by 1/p (unbiased).

    One update at T; the gradient from h_t into h_{t-1} is
    multiplied by xi_t = 1/p with probability p, else 0, independently for t = 2..T
    (the edge from h_0 is left alone: h_0 is not a trained value).

    E[xi_t] = 1 and the xi are independent, so every path's product of factors
    has expectation 1: the estimate is unbiased.
    """

    random = True

    def __init__(self, p: float, seed: int = 0):
        self.p = validate.probability("Randomized's keep probability p", p)
        self.seed = validate.seed("Randomized's seed", seed)
        self._rng = np.random.default_rng(self.seed)

    def plan(self, T: int) -> Plan:
        """A fresh draw of the xi_t (each call continues the seeded random stream)."""
        T = _check_T(T)
        keep = self._rng.random(T - 1) < self.p
        return Plan(T, randomized_edges(keep, self.p), (Update(T, 1, 0),))


def survival_schedule(L0: float = 10.0, a: float = 3.0):
    """ARTBP's length-dependent truncation probability c(L) = 1 - S(L+1)/S(L),
    with survival S(L) = (1 + L/L0)^(-a): long runs become ever less likely to be cut.

    a <= 2 is refused: the run length then has infinite variance (a trial with
    a = 1 produced a sub-sequence of over 10,000 steps).
    """
    a, L0 = validate.real("survival_schedule's a", a), validate.real("survival_schedule's L0", L0)
    if not a > 2:
        raise ValueError(f"survival_schedule needs a > 2 (finite variance of the sub-sequence length), got a={a}")
    if not L0 > 0:
        raise ValueError(f"survival_schedule needs L0 > 0, got L0={L0}")

    def c(L: int) -> float:
        return 1.0 - ((1 + (L + 1) / L0) / (1 + L / L0)) ** (-a)

    c.description = f"c(L) = 1 - S(L+1)/S(L), S(L) = (1 + L/{L0:g})^-{a:g}"
    return c


@register_strategy("artbp")
class ARTBP(Strategy):
    """ARTBP: cut after each step with probability c, reweight kept edges by 1/(1-c) (unbiased).

    Anticipated reweighted truncated backpropagation (Tallec and Ollivier, 2017).

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
        if schedule is not None and not callable(schedule):
            raise TypeError(f"ARTBP's schedule must be a function c(run length) -> probability "
                            f"(such as rnn.survival_schedule()), got {schedule!r}")
        self.c = validate.probability("ARTBP's truncation probability c", c, high_open=True)
        self.schedule = schedule
        self.seed = validate.seed("ARTBP's seed", seed)
        self._rng = np.random.default_rng(self.seed)

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


@register_strategy("checkpointed", examples={"segment": 10})
class Checkpointed(Strategy):
    """Checkpointed BPTT: the exact full gradient, storing only every segment-th hidden state.

    The forward pass keeps h_0, h_s, h_2s, ... and records nothing; the backward
    pass recomputes one segment at a time (newest first) on the tape, so the tape
    holds at most one segment: memory ~ T/segment + segment (best at segment ~ sqrt T).
    """

    def __init__(self, segment: int):
        self.segment = validate.positive_int("segment", segment)

    def plan(self, T: int) -> Plan:
        T = _check_T(T)
        return Plan(T, (PASS,) * (T + 1), (Update(T, 1, 0),), checkpoint=self.segment)


class Fixed(Strategy):
    """A strategy that always runs the same plan: for hand-made plans and for enumerating draws.

    Not registered: a plan has no spec notation.
    """

    def __init__(self, plan: Plan):
        if not isinstance(plan, Plan):
            raise TypeError(f"Fixed needs an rnn.Plan, got {type(plan).__name__}")
        self.plan_ = plan

    def plan(self, T: int) -> Plan:
        if T != self.plan_.T:
            raise ValueError(f"Fixed: the plan is for T={self.plan_.T} steps, but the sequence has T={T}")
        return self.plan_

    def parameters(self) -> dict:
        return {"plan": self.plan_}

    def __repr__(self) -> str:
        return f"Fixed(T={self.plan_.T}, cuts={self.plan_.cut_steps()}, scaled={self.plan_.scaled_steps()})"


__all__ = [
    "PASS", "CUT", "Update", "Plan", "Strategy", "Full", "TBPTT", "Chunked",
    "Randomized", "ARTBP", "Checkpointed", "Fixed", "randomized_edges", "survival_schedule",
]
