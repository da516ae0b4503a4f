"""What runs next to your randomized.py when it is graded (and when you run pytest here).

Your strategy's plans travel to the tests as data (``draws``): the tests run
them in the engine's driver themselves.  ``variance_by_p`` runs your function
on the network the test describes.  The statistics of task 4.2 are called
directly, with dicts of arrays.

While a task is graded, the engine's own answer to it is switched off
(``SWITCHED_OFF``): its Randomized plans for task 4.1, its estimator
statistics (``rnn.analysis``) for tasks 4.2 and 4.3.
"""

import numpy as np

import rnn

NEEDS_ENGINE = True
WARM_UP = ("elman",)  # the compiled kernels the worker loads before it starts (sandbox/warmup.py)
STATISTICS = ("rnn.analysis:estimator_stats", "rnn.analysis:total_variance", "rnn.analysis:running_mean_error",
              "rnn.analysis:randomized_exact_moments", "rnn.analysis:gradient_samples")
SWITCHED_OFF = {
    "task4_1": ("rnn.truncation:Randomized.plan", "rnn.truncation:randomized_edges", "rnn.truncation:ARTBP.plan"),
    "task4_2": STATISTICS,
    "task4_3": STATISTICS,
}
USE_ENGINE = {}


def plan_data(plan):
    """A plan's values as data: {"T", "edges": [floats], "updates": [[t, first, reach], ...]}."""
    for name in ("T", "edges", "updates"):
        if not hasattr(plan, name):
            raise TypeError(f"plan() must return an rnn.Plan (with T, edges and updates), got {type(plan).__name__}")
    return {"T": int(plan.T), "edges": [float(e) for e in plan.edges],
            "updates": [[int(u.t), int(u.first), int(u.reach)] for u in plan.updates]}


def draws(module, p, seed, T, n):
    """n successive plans of one ``Randomized(p, seed=seed)`` for T steps, as data."""
    strategy = module.Randomized(p, seed=seed)
    return [plan_data(strategy.plan(T)) for _ in range(n)]


def elman(weights):
    """An rnn.ElmanRNN holding the given weights {"A", "B", "C"}."""
    n, n_in = np.shape(weights["B"])
    model = rnn.ElmanRNN(n_in, n, np.shape(weights["C"])[0])
    for name, parameter in model.named_parameters():
        parameter.data = np.array(weights[name], dtype=float)
    return model


def variance_by_p(module, weights, xs, ys, ps, n_samples, seed):
    """Your variance_by_p on this network and data."""
    return module.variance_by_p(elman(weights), xs, ys, ps, n_samples=n_samples, seed=seed)
