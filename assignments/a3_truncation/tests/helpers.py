"""What the public and hidden tests of assignment 3 share: a problem to run, plans as values, exact comparisons.

The tests import it as ``helpers`` (pytest.ini puts tests/ on the path).
Your strategies' plans come back as data (``probes.plan_data``) and run here,
in the engine's driver (``as_strategy``).
"""

import checks
import numpy as np

import rnn

# Tighter than checks.check_close's default: your plans and your loop run the engine's own ops on its
# tape, so the gradients must be the engine's up to rounding ("exact", as the tests' docstrings say).
RTOL, ATOL = 1e-9, 1e-12


def problem(T, batch=None, n_in=3, n=4, n_out=2, seed=0):
    """An Elman RNN and random data of T steps."""
    model = rnn.ElmanRNN(n_in, n, n_out, seed=seed)
    rng = np.random.default_rng(seed + 100)
    lead = (T,) if batch is None else (T, batch)
    return model, rng.standard_normal(lead + (n_in,)), rng.standard_normal(lead + (n_out,))


def weights(model):
    """The model's weights as data, for ``probes.elman``."""
    return {name: p.data.copy() for name, p in model.named_parameters()}


def values(plan):
    """An engine plan as the same data as ``probes.plan_data``."""
    return {"T": int(plan.T), "edges": [float(e) for e in plan.edges],
            "updates": [[int(u.t), int(u.first), int(u.reach)] for u in plan.updates]}


class Replay(rnn.Strategy):
    """A strategy that hands the driver plans made elsewhere (your strategy's, as data), one per call."""

    def __init__(self, plans):
        self.plans = list(plans)

    def plan(self, T):
        data = self.plans.pop(0)
        assert data["T"] == T, f"a plan for T={data['T']} where T={T} was asked for"
        return rnn.Plan(int(data["T"]), tuple(float(e) for e in data["edges"]),
                        tuple(rnn.Update(*(int(v) for v in u)) for u in data["updates"]))


def check_close(got, want, what):
    """checks.check_close at this assignment's tolerances, RTOL and ATOL above."""
    checks.check_close(got, want, what, rtol=RTOL, atol=ATOL)


def check_plan(got, want, what, edges=True):
    """Fail unless your plan (data) has the engine plan's values (its edges too, with ``edges``)."""
    want = values(want)
    assert got["T"] == want["T"], f"{what}: T = {got['T']}, expected {want['T']}"
    if edges:
        assert got["edges"] == want["edges"], f"{what}: edges = {got['edges']}, expected {want['edges']}"
    assert got["updates"] == want["updates"], (
        f"{what}: updates (t, first, reach) = {[tuple(u) for u in got['updates']]}, "
        f"expected {[tuple(u) for u in want['updates']]}"
    )


def check_updates(got, want, what):
    """Fail unless ``got`` and ``want``, lists of {parameter name: gradient}, hold the same updates."""
    assert len(got) == len(want), f"{what}: {len(got)} updates, expected {len(want)}"
    for i, (mine, theirs) in enumerate(zip(got, want)):
        assert set(mine) == set(theirs), f"{what}, update {i}: parameters {sorted(mine)}, expected {sorted(theirs)}"
        for name in theirs:
            check_close(mine[name], theirs[name], f"{what}, update {i}, dL/d{name}")


def loop_run(student, T, k1, k2, batch=None, seed=5, checked=240):
    """Your loop on T steps: (its updates, the most tape nodes it held at once).

    Its updates are checked against the engine's driver on the same network
    and data: all of them, and their number, when T <= ``checked``; else the
    number and the updates of the first ``checked`` steps (an update depends
    on the steps before it only), so that a peak is only believed from a loop
    that computes the right gradients.
    """
    model, xs, ys = problem(T, batch=batch, seed=seed)
    got = student.probe("loop", weights(model), xs, ys, k1, k2)
    updates = got["updates"]
    expected = len(rnn.TBPTT(k1, k2).plan(T).updates)
    assert len(updates) == expected, f"tbptt_gradients(k1={k1}, k2={k2}) over {T} steps: {len(updates)} updates, expected {expected}"
    head = min(T, checked - checked % k1)
    want = rnn.gradients(model, xs[:head], ys[:head], rnn.TBPTT(k1, k2))
    check_updates(updates[:len(want)], want, f"tbptt_gradients(k1={k1}, k2={k2}) over {T} steps")
    return updates, got["peak_nodes"]
