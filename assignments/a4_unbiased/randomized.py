r"""Assignment 4: unbiased truncation by random cuts with 1/p compensation.

Truncating BPTT at a fixed depth throws away the gradient of every long path:
the estimate is biased.  Randomized truncation cuts the recurrent edge
h_{t-1} -> h_t at random instead, independently for each t = 2..T: with
probability 1 - p the edge is cut (a stop-gradient: factor 0), and with
probability p it is kept and its gradient multiplied by 1/p.  Each factor xi_t
has expectation p * (1/p) + (1 - p) * 0 = 1, and a path through several edges
carries the product of independent factors, whose expectation is 1 too: the
estimate is unbiased.  The price is variance, which grows as p shrinks.

The plan of one sample (see ``rnn.Plan``; edges[t] is the factor on the edge
into step t): edges[0] = edges[1] = 1.0 (h_0 is not trained: its edge is left
alone), edges[t] in {0.0, 1/p} for t >= 2, and one update at T with every
loss, reaching back to h_0: ``Update(t=T, first=1, reach=0)``.

You also write the statistics that check a gradient estimator: its mean and
standard error from samples, a test of unbiasedness, and the variance as a
function of p.
"""

import numpy as np

import rnn
from rnn import Plan, Strategy, Update

PASS, CUT = 1.0, 0.0


class Randomized(Strategy):
    """Cut each recurrent edge with probability 1 - p, else scale its gradient by 1/p: unbiased."""

    random = True

    def __init__(self, p, seed=0):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1:
            raise ValueError(f"Randomized needs a keep probability p in (0, 1], got {p!r}")
        self.p = float(p)
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def plan(self, T):
        """A fresh random plan for T steps (each call continues the random stream of ``self.rng``)."""
        # Hint: draw T - 1 uniform numbers with self.rng.random(T - 1), one per edge t = 2..T;
        # keep the edge when its number is below p.
        # BEGIN SOLUTION task4_1
        keep = self.rng.random(T - 1) < self.p
        edges = (PASS, PASS) + tuple(1.0 / self.p if kept else CUT for kept in keep)
        return Plan(T, edges, (Update(t=T, first=1, reach=0),))
        # END SOLUTION


def gradient_samples(model, xs, ys, strategy, n):
    """n gradient estimates of a one-update strategy, stacked: {parameter name: array of shape (n, *shape)}.

    Each estimate is ``rnn.gradients(model, xs, ys, strategy)``'s single
    update; the strategy's random stream continues from one estimate to the next.
    """
    estimates = [rnn.gradients(model, xs, ys, strategy)[0] for _ in range(n)]
    return {name: np.stack([e[name] for e in estimates]) for name in estimates[0]}


def mean_and_standard_error(samples):
    r"""{name: (mean, standard error)} of stacked samples {name: array (n, *shape)}, entry by entry.

    The standard error of a mean of n samples is s / \sqrt{n}, where s is the
    sample standard deviation with n - 1 in its denominator (ddof=1).
    """
    # BEGIN SOLUTION task4_2
    stats = {}
    for name, values in samples.items():
        n = len(values)
        stats[name] = (values.mean(axis=0), values.std(axis=0, ddof=1) / np.sqrt(n))
    return stats
    # END SOLUTION


def looks_unbiased(samples, reference, n_se=4.0, atol=1e-10):
    """True when every entry of every parameter's sample mean lies within n_se standard errors
    (plus ``atol``, for entries the randomness does not touch) of ``reference`` {name: array}.

    Four standard errors: an unbiased estimator fails this by chance about once
    in 16,000 entries, while a bias of a few standard errors is caught.
    """
    # Hint: use your mean_and_standard_error.
    # BEGIN SOLUTION task4_2
    for name, (mean, se) in mean_and_standard_error(samples).items():
        if np.any(np.abs(mean - reference[name]) > n_se * se + atol):
            return False
    return True
    # END SOLUTION


def variance_by_p(model, xs, ys, ps, n_samples, seed=0):
    """The total variance of the engine's randomized estimator for each keep probability in ``ps``.

    For each p: draw ``gradient_samples(model, xs, ys, rnn.Randomized(p, seed=seed), n_samples)``
    (the engine's strategy, a fresh one for each p, so this task does not depend on task4_1)
    and add up the sample variances (ddof=1) of every entry of every parameter.
    Returns a list of floats, one per p.
    """
    # BEGIN SOLUTION task4_3
    totals = []
    for p in ps:
        samples = gradient_samples(model, xs, ys, rnn.Randomized(p, seed=seed), n_samples)
        totals.append(float(sum(values.var(axis=0, ddof=1).sum() for values in samples.values())))
    return totals
    # END SOLUTION
