"""What runs next to your truncation.py when it is graded (and when you run pytest here).

Your strategies' plans travel to the tests as data (``plan_data``): the
tests compare their values (T, the edge factors, the updates as (t, first,
reach) triples), whatever containers you built them from, and run them in the
engine's driver themselves.  Your loop runs here on the network the test
describes (``loop``), and the tape's peak size is measured around it.

While a task is graded, the engine's own answer to it is switched off
(``SWITCHED_OFF``): the engine's plans of Chunked and TBPTT for tasks 3.1
and 3.2, and its driver (``rnn.run``, ``rnn.gradients``, ...) for task 3.3.
"""

import numpy as np

import minigrad as mg
import rnn

NEEDS_ENGINE = True
WARM_UP = ("elman",)  # the compiled kernels the worker loads before it starts (sandbox/warmup.py)
PLANS = ("rnn.truncation:TBPTT.plan", "rnn.truncation:Chunked.plan", "rnn.truncation:_windows")
DRIVER = ("rnn.bptt:run", "rnn.bptt:gradients", "rnn.bptt:unroll", "rnn.bptt:fit", "rnn.bptt:advance")
SWITCHED_OFF = {"task3_1": PLANS, "task3_2": PLANS, "task3_3": PLANS + DRIVER}
USE_ENGINE = {}


def plan_data(plan):
    """A plan's values as data: {"T", "edges": [floats], "updates": [[t, first, reach], ...]}."""
    for name in ("T", "edges", "updates"):
        if not hasattr(plan, name):
            raise TypeError(f"plan() must return an rnn.Plan (with T, edges and updates), got {type(plan).__name__}")
    return {"T": int(plan.T), "edges": [float(e) for e in plan.edges],
            "updates": [[int(u.t), int(u.first), int(u.reach)] for u in plan.updates]}


def plans(module, strategy, cases):
    """[the plan of ``strategy(*args)`` for T, as data] for each (args, T) of ``cases``."""
    cls = getattr(module, strategy)
    return [plan_data(cls(*args).plan(T)) for args, T in cases]


def elman(weights, f="tanh"):
    """An rnn.ElmanRNN holding the given weights {"A", "B", "C"}."""
    n, n_in = np.shape(weights["B"])
    model = rnn.ElmanRNN(n_in, n, np.shape(weights["C"])[0], f=f)
    for name, parameter in model.named_parameters():
        parameter.data = np.array(weights[name], dtype=float)
    return model


def loop(module, weights, xs, ys, k1, k2):
    """Your tbptt_gradients on this network and data, on a fresh tape: {"updates", "peak_nodes"}."""
    model = elman(weights)
    with mg.Tape() as tape:
        updates = module.tbptt_gradients(model, xs, ys, k1, k2)
    return {"updates": [{str(k): np.asarray(v, dtype=float) for k, v in u.items()} for u in updates],
            "peak_nodes": int(tape.peak_live_nodes)}
