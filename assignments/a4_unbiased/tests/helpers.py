"""What the public and hidden tests of assignment 4 share: a problem with its exact gradient, samples
of an estimator, and the statistics that test them.

The tests import it as ``helpers`` (pytest.ini puts tests/ on the path).
Your strategy's plans come back as data (``probes.draws``) and run here, in
the engine's driver (``Replay``).
"""

import numpy as np

import rnn


def problem(T=10, n=3, batch=None, seed=0):
    """An Elman RNN, random data of T steps, and its exact (full BPTT) gradient."""
    model = rnn.ElmanRNN(2, n, 1, seed=seed)
    rng = np.random.default_rng(seed + 1)
    lead = (T,) if batch is None else (T, batch)
    xs, ys = rng.standard_normal(lead + (2,)), rng.standard_normal(lead + (1,))
    return model, xs, ys, rnn.gradients(model, xs, ys, rnn.Full())[0]


def weights(model):
    """The model's weights as data, for ``probes.elman``."""
    return {name: p.data.copy() for name, p in model.named_parameters()}


class Replay(rnn.Strategy):
    """A strategy that hands the driver plans made elsewhere (your strategy's, as data), one per call."""

    random = True

    def __init__(self, plans):
        self.plans = list(plans)

    def plan(self, T):
        data = self.plans.pop(0)
        assert data["T"] == T, f"a plan for T={data['T']} where T={T} was asked for"
        return rnn.Plan(int(data["T"]), tuple(float(e) for e in data["edges"]),
                        tuple(rnn.Update(*(int(v) for v in u)) for u in data["updates"]))


def student_samples(student, model, xs, ys, p, seed, n):
    """n gradient estimates of your Randomized(p, seed): its plans, run in the engine's driver."""
    return samples_of(model, xs, ys, Replay(student.probe("draws", p, seed, len(xs), n)), n)


def samples_of(model, xs, ys, strategy, n):
    """n single-update gradient estimates, stacked per parameter."""
    estimates = [rnn.gradients(model, xs, ys, strategy)[0] for _ in range(n)]
    return {name: np.stack([e[name] for e in estimates]) for name in estimates[0]}


def check_unbiased(samples, exact, what, n_se=4.0, atol=1e-10):
    """Fail, naming the worst entry, unless each sample mean is within n_se standard errors (+ atol) of ``exact``."""
    for name, values in samples.items():
        mean = values.mean(axis=0)
        se = values.std(axis=0, ddof=1) / np.sqrt(len(values))
        excess = np.abs(mean - exact[name]) - (n_se * se + atol)
        if np.any(excess > 0):
            worst = np.unravel_index(np.argmax(excess), excess.shape)
            raise AssertionError(
                f"{what}: the mean of dL/d{name}{[int(i) for i in worst]} over {len(values)} samples is {mean[worst]:.6g}, "
                f"but the exact gradient is {exact[name][worst]:.6g}: {abs(mean[worst] - exact[name][worst]):.3g} "
                f"apart, more than {n_se:g} standard errors ({se[worst]:.3g} each); is the estimate biased?"
            )


def total_variance(samples):
    """The sample variance (ddof=1) of every entry of every parameter, summed."""
    return float(sum(values.var(axis=0, ddof=1).sum() for values in samples.values()))


def verdict(answer):
    """``answer`` as a bool, or an AssertionError if it is not True or False (a NumPy bool is fine)."""
    if not isinstance(answer, (bool, np.bool_)):
        raise AssertionError(f"looks_unbiased must return True or False, got {answer!r}")
    return bool(answer)
