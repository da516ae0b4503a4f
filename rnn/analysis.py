"""Measurements of backpropagation through time, for the tutorials and for experiments.

Each function measures one thing the BPTT derivations predict, on the engine
(the tape), so a tutorial can compute a claim, plot it and assert it.

Gradients of the hidden states (how far back gradient reaches)
    state_grads(model, xs, ys)       dL/dh_t for t = 1..T (or dl_T/dh_t), read from the tape
    grad_norm_by_lag(model, xs, ys)  ||dl_T/dh_{T-k}|| for k = 0..T-1

Jacobians and spectra (why it vanishes or explodes)
    state_jacobians(model, xs)       J_t = dh_t/dh_{t-1} along a trajectory, from the tape
    spectral_radius(M)               max |eigenvalue|
    singular_values(M)               largest first (also for a stack of matrices)
    dominant_eigenvector(M)          the direction M^k x turns towards
    angle_between_lines(u, v)        in degrees, signs ignored
    power_iteration_angles(M, x, K)  the angle between M^k x and M's dominant eigenvector, k = 0..K

Truncation bias (what a truncated gradient leaves out)
    flatten(grads)                   {name: array} -> one vector
    summed_gradient(model, ...)      a strategy's updates added up (all at the same weights)
    cosine_similarity(a, b), relative_error(estimate, reference)
    truncation_bias(model, ...)      cosine and relative error to the full gradient, per strategy

Random estimators (Randomized, ARTBP: unbiased, but noisy)
    gradient_samples(model, ...)     n draws of a random strategy's summed gradient
    running_mean_error(samples, g)   ||mean of the first n draws - g|| / ||g|| for every n
    total_variance(samples)          the trace of the covariance of the draws
    estimator_stats(samples, g)      error of the mean, its standard error, variance
    Fixed(plan)                      a strategy that always runs one given plan
    randomized_exact_moments(...)    mean and variance of Randomized(p), exact, by enumerating every draw

Cost (what a strategy spends)
    measure(model, xs, ys, strategy) wall time, peak tape bytes and nodes, number of updates

Gradients are flattened in the order of ``model.named_parameters()``.  Every
function leaves the model's parameters unchanged and their ``.grad`` cleared.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass

import numpy as np

import minigrad as mg
from minigrad import validate
from minigrad.tensor import Tensor

from .bptt import gradients, run, unroll
from .states import hidden_of
from .truncation import Fixed, Full, Plan, Update, randomized_edges

#: randomized_exact_moments enumerates 2^(T-1) draws; beyond this many it refuses
MAX_ENUMERATED_DRAWS = 2 ** 12


def _clear_grads(model) -> None:
    for p in model.parameters():
        p.grad = None


# -- gradients of the hidden states ------------------------------------------------------
def state_grads(model, xs, ys, loss="mse", h0=None, last_only=False, strategy=None) -> np.ndarray:
    """dL/dh_t for t = 1..T, computed on the engine: shape (T, [batch,] n_hidden).

    The sequence is unrolled on a fresh tape (``rnn.unroll``), every state keeps
    its gradient (``retain_grad``) and the total loss L = sum_t l_t is
    backpropagated; row t-1 holds dL/dh_t.  ``last_only=True`` backpropagates
    the last step's loss l_T alone, so row t-1 holds dl_T/dh_t: how much the
    final loss feels the state T - t steps earlier.  ``strategy`` (default
    Full) may edit the graph (cuts, scales) first; a state that gets no
    gradient has a row of zeros.  For a tuple state (LSTM) h is used.
    """
    unrolled = unroll(model, xs, ys, strategy or Full(), loss=loss, h0=h0)
    states = [hidden_of(s) for s in unrolled.states[1:]]
    for state in states:
        state.retain_grad()
    target = unrolled.losses[-1] if last_only else unrolled.loss
    if target.requires_grad:
        target.backward()
    grads = np.stack([np.zeros_like(s.data) if s.grad is None else s.grad for s in states])
    _clear_grads(model)
    return grads


def grad_norm_by_lag(model, xs, ys, loss="mse", h0=None) -> np.ndarray:
    """norms[k] = ||dl_T/dh_{T-k}|| for k = 0..T-1, where l_T is the last step's loss.

    The gradient of one loss, sent k steps back in time.  For the bias-free
    linear RNN it is (W_hh^T)^k W_qh^T dl_T/do_T, so it shrinks or grows like
    the k-th power of W_hh.  With a batch the norm runs over the whole batch
    (Frobenius norm of the (batch, n_hidden) gradient).
    """
    grads = state_grads(model, xs, ys, loss=loss, h0=h0, last_only=True)
    return np.linalg.norm(grads.reshape(len(grads), -1), axis=1)[::-1]


# -- Jacobians and spectra -----------------------------------------------------------------
def state_jacobians(model, xs, h0=None) -> np.ndarray:
    """J_t = dh_t/dh_{t-1} for t = 1..T along the trajectory the inputs drive: shape (T, n, n).

    J_t[i, j] = d h_t[i] / d h_{t-1}[j], read from the tape.  The trajectory
    h_0..h_{T-1} is run first, one unbatched step at a time (as ``rnn.unroll``
    runs it).  Then one backward per step: the step is run on a batch of n
    copies of h_{t-1}; copy i's output only depends on copy i, so
    backpropagating the identity matrix puts row i of J_t into row i of the
    copies' gradient.  Needs an unbatched sequence xs (T, n_in) and a cell
    whose state is a single tensor and whose step takes a batch (every cell
    of ``rnn`` does).
    """
    xs = np.asarray(xs.data if isinstance(xs, Tensor) else xs, dtype=float)
    if xs.ndim != 2:
        raise ValueError(f"state_jacobians needs one unbatched sequence xs of shape (T, n_in), got shape {xs.shape}")
    h = model.initial_state(None) if h0 is None else h0
    if isinstance(h, tuple):
        raise TypeError(f"state_jacobians needs a cell whose state is one tensor; {type(model).__name__}'s state "
                        f"is a tuple of {len(h)} (for an LSTM, differentiate the concatenated (h, c) by hand)")
    previous = []  # h_0 .. h_{T-1}
    with mg.no_grad():
        for x in xs:
            previous.append(h.data)
            h, _ = model.step(x, h)
    n = h.shape[-1]
    jacobians = np.empty((len(xs), n, n))
    for t, (x, h_prev) in enumerate(zip(xs, previous)):
        copies = mg.tensor(np.repeat(h_prev[None, :], n, axis=0), requires_grad=True)
        with mg.Tape():
            h_next, _ = model.step(np.repeat(x[None, :], n, axis=0), copies)
            h_next.backward(np.eye(n))
        jacobians[t] = copies.grad
    _clear_grads(model)
    return jacobians


def set_spectral_radius(model, radius: float) -> None:
    """Rescale a model's recurrent matrix (A, or W_hh: ``model.weights()[0]``) so that max |eigenvalue| = radius."""
    radius = validate.real("radius", radius)
    if not radius > 0:
        raise ValueError(f"radius must be positive, got {radius}")
    recurrent = model.weights()[0]
    current = spectral_radius(recurrent.data)
    if current == 0:
        raise ValueError("the recurrent matrix is zero: no rescaling gives it a spectral radius")
    recurrent.data *= radius / current


def spectral_radius(M) -> float:
    """max |eigenvalue| of a square matrix: the rate at which M^k x grows or shrinks for large k."""
    M = _square("spectral_radius", M)
    return float(np.max(np.abs(np.linalg.eigvals(M))))


def singular_values(M) -> np.ndarray:
    """Singular values, largest first, of a matrix or of each matrix in a stack (..., m, n).

    The largest is the most a vector's length can grow in one product, the
    smallest the least: ||M x|| lies between them times ||x||.
    """
    return np.linalg.svd(np.asarray(M, dtype=float), compute_uv=False)


def _square(op: str, M) -> np.ndarray:
    M = np.asarray(M, dtype=float)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"{op} needs a square matrix, got shape {M.shape}")
    return M


def dominant_eigenvector(M) -> np.ndarray:
    """The unit eigenvector of M's eigenvalue of largest modulus, when one eigenvalue strictly dominates.

    Raises ValueError when two eigenvalues share the largest modulus: a
    complex pair a +- bi (M^k x then keeps rotating in their plane; a real
    matrix's complex eigenvalues always come in such pairs) or +r and -r.
    """
    M = _square("dominant_eigenvector", M)
    values, vectors = np.linalg.eig(M)
    order = np.argsort(-np.abs(values))
    if len(values) > 1 and np.isclose(abs(values[order[1]]), abs(values[order[0]]), rtol=1e-9, atol=0):
        raise ValueError(f"dominant_eigenvector: the two largest eigenvalues have the same modulus "
                         f"({values[order[0]]:.6g} and {values[order[1]]:.6g}), so no single direction dominates "
                         "(a complex pair rotates M^k x for ever)")
    vector = np.real(vectors[:, order[0]])
    return vector / np.linalg.norm(vector)


def angle_between_lines(u, v) -> float:
    """The angle in degrees (0..90) between the lines spanned by u and v (the sign of each is ignored).

    Computed as atan2(||v_perp||, |<u, v>|/||u||), accurate for tiny angles too.
    """
    u, v = np.asarray(u, dtype=float), np.asarray(v, dtype=float)
    unit = u / np.linalg.norm(u)
    along = float(unit @ v)
    across = float(np.linalg.norm(v - along * unit))
    return math.degrees(math.atan2(across, abs(along)))


def power_iteration_angles(M, x, steps: int) -> np.ndarray:
    """angles[k] = the angle in degrees between M^k x and M's dominant eigenvector, k = 0..steps.

    Write x in M's eigenvectors, x = sum_i c_i v_i; then M^k x = sum_i c_i
    lambda_i^k v_i, and the term of the largest |lambda_i| outgrows the
    others by (|lambda_1|/|lambda_i|)^k.  The iterate is renormalised after
    each product (the direction is all we measure), so it never overflows.
    """
    M = _square("power_iteration_angles", M)
    steps = validate.positive_int("power_iteration_angles's number of steps", steps, minimum=0)
    x = np.asarray(x, dtype=float)
    if x.shape != (M.shape[0],) or not np.any(x):
        raise ValueError(f"power_iteration_angles needs a nonzero vector x of shape ({M.shape[0]},), got {x.shape}")
    dominant = dominant_eigenvector(M)
    angles = np.empty(steps + 1)
    v = x / np.linalg.norm(x)
    for k in range(steps + 1):
        angles[k] = angle_between_lines(dominant, v)
        v = M @ v
        v = v / np.linalg.norm(v)
    return angles


# -- truncation bias -----------------------------------------------------------------------
def flatten(grads: dict) -> np.ndarray:
    """The gradients of every parameter, in the dict's order, as one vector."""
    return np.concatenate([np.ravel(g) for g in grads.values()])


def summed_gradient(model, xs, ys, strategy, loss="mse", h0=None) -> dict:
    """{name: sum over the strategy's updates of that update's gradient}, all at the same weights.

    Full BPTT makes one update, the full gradient dL/dtheta; a truncation makes
    several, and their sum is what it uses in place of dL/dtheta (the same
    losses, each with part of its backward paths removed or reweighted).
    """
    return _add_up(gradients(model, xs, ys, strategy, loss=loss, h0=h0))


def _add_up(updates: list) -> dict:
    """{name: the sum of that parameter's gradient over the updates}."""
    return {name: sum(u[name] for u in updates) for name in updates[0]}


def _nonzero_norm(op: str, name: str, v: np.ndarray) -> float:
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        raise ValueError(f"{op}: {name} is the zero vector, so the measure is undefined")
    return norm


def cosine_similarity(a, b) -> float:
    """<a, b> / (||a|| ||b||): 1 when the directions agree, 0 when orthogonal."""
    a, b = np.ravel(a), np.ravel(b)
    return float(a @ b) / (_nonzero_norm("cosine_similarity", "a", a) * _nonzero_norm("cosine_similarity", "b", b))


def relative_error(estimate, reference) -> float:
    """||estimate - reference|| / ||reference||: 0 when they agree, 1 for an estimate of zero."""
    estimate, reference = np.ravel(estimate), np.ravel(reference)
    return float(np.linalg.norm(estimate - reference)) / _nonzero_norm("relative_error", "reference", reference)


@dataclass(frozen=True)
class Bias:
    """How far a strategy's summed gradient is from the full gradient."""

    strategy: str
    cosine: float  # cosine similarity to the full gradient
    relative_error: float  # ||g - g_full|| / ||g_full||
    updates: int  # how many updates the strategy made


def truncation_bias(model, xs, ys, strategies, loss="mse", h0=None) -> list:
    """One Bias per strategy: its summed gradient against the full BPTT gradient.

    For a deterministic strategy this is its bias (what it always gets wrong);
    for a random one, the error of one draw.
    """
    full = flatten(summed_gradient(model, xs, ys, Full(), loss=loss, h0=h0))
    result = []
    for strategy in strategies:
        updates = gradients(model, xs, ys, strategy, loss=loss, h0=h0)
        g = flatten(_add_up(updates))
        result.append(Bias(repr(strategy), cosine_similarity(g, full), relative_error(g, full), len(updates)))
    return result


# -- random estimators -----------------------------------------------------------------------
def gradient_samples(model, xs, ys, strategy, n: int, loss="mse", h0=None) -> np.ndarray:
    """n draws of a random strategy's summed gradient, flattened: shape (n, number of weights).

    Each draw is a fresh ``strategy.plan(T)`` (its seeded random stream goes on),
    so the draws are independent and reproducible from the strategy's seed.
    """
    n = validate.positive_int("gradient_samples's number of draws n", n)
    return np.stack([flatten(summed_gradient(model, xs, ys, strategy, loss=loss, h0=h0)) for _ in range(n)])


def _check_samples(samples) -> np.ndarray:
    samples = np.asarray(samples, dtype=float)
    if samples.ndim != 2 or len(samples) < 1:
        raise ValueError(f"samples must have shape (n draws, number of weights), got {samples.shape}")
    return samples


def running_mean_error(samples, reference) -> np.ndarray:
    """errors[n-1] = ||mean of draws 1..n - reference|| / ||reference||, for n = 1..len(samples).

    For an unbiased estimator this falls like 1/sqrt(n) (the law of large numbers).
    """
    samples = _check_samples(samples)
    means = np.cumsum(samples, axis=0) / np.arange(1, len(samples) + 1)[:, None]
    reference = np.ravel(reference)
    return np.linalg.norm(means - reference, axis=1) / _nonzero_norm("running_mean_error", "reference", reference)


def total_variance(samples) -> float:
    """sum over coordinates of the unbiased sample variance = trace of the sample covariance.

    E ||g - E g||^2 for one draw g: the squared spread of the estimator.
    """
    samples = _check_samples(samples)
    if len(samples) < 2:
        raise ValueError("total_variance needs at least 2 draws")
    return float(np.sum(np.var(samples, axis=0, ddof=1)))


@dataclass(frozen=True)
class EstimatorStats:
    """What n draws of a random gradient estimator say about it, against the full gradient g."""

    n: int
    mean_error: float  # ||mean of the draws - g|| / ||g||
    standard_error: float  # sqrt(total variance / n) / ||g||: the mean_error to expect if unbiased
    draw_error: float  # the root mean square of ||draw - g|| / ||g||: the error of using one draw
    total_variance: float  # trace of the covariance of one draw


def estimator_stats(samples, reference) -> EstimatorStats:
    """Summarise n >= 2 draws against the reference (full) gradient.

    An unbiased estimator's mean_error is of the order of its standard_error
    (E ||mean - g||^2 = total variance / n); a biased one's stays put as n grows.
    """
    samples = _check_samples(samples)
    reference = np.ravel(reference)
    scale = _nonzero_norm("estimator_stats", "reference", reference)
    variance = total_variance(samples)
    draw_errors = np.linalg.norm(samples - reference, axis=1) / scale
    return EstimatorStats(
        n=len(samples),
        mean_error=float(np.linalg.norm(samples.mean(axis=0) - reference)) / scale,
        standard_error=math.sqrt(variance / len(samples)) / scale,
        draw_error=float(np.sqrt(np.mean(draw_errors ** 2))),
        total_variance=variance,
    )


@dataclass(frozen=True)
class ExactMoments:
    """The exact mean and spread of a random gradient estimator over all its draws."""

    mean: np.ndarray  # E[g], flattened
    total_variance: float  # E ||g - E g||^2
    draws: int  # how many distinct draws were enumerated


def randomized_exact_moments(model, xs, ys, p: float, loss="mse", h0=None) -> ExactMoments:
    """E[g] and E||g - E g||^2 of Randomized(p)'s gradient, by enumerating every draw.

    Randomized(p) keeps each edge h_{t-1} -> h_t (t = 2..T) with probability
    p, scaled by 1/p, and cuts it otherwise; a draw is one keep/cut pattern,
    with probability p^kept (1 - p)^cut.  All 2^(T-1) patterns are run (each as
    a ``Fixed`` plan), so this is exact: no sampling error.  Refuses T - 1 > 12.
    """
    p = validate.probability("randomized_exact_moments's keep probability p", p)
    T = len(xs)
    if 2 ** (T - 1) > MAX_ENUMERATED_DRAWS:
        raise ValueError(f"randomized_exact_moments would enumerate 2^{T - 1} draws for T={T}; "
                         f"use T <= {int(math.log2(MAX_ENUMERATED_DRAWS)) + 1}, or sample with gradient_samples")
    weights, grads = [], []
    for keep in itertools.product((True, False), repeat=T - 1):
        kept = sum(keep)
        probability = p ** kept * (1 - p) ** (T - 1 - kept)
        if probability == 0.0:
            continue
        plan = Plan(T, randomized_edges(keep, p), (Update(T, 1, 0),))
        weights.append(probability)
        grads.append(flatten(summed_gradient(model, xs, ys, Fixed(plan), loss=loss, h0=h0)))
    weights, grads = np.array(weights), np.stack(grads)
    mean = weights @ grads
    variance = float(weights @ np.sum((grads - mean) ** 2, axis=1))
    return ExactMoments(mean=mean, total_variance=variance, draws=len(weights))


# -- cost ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cost:
    """What one run of a strategy over T steps cost."""

    strategy: str
    T: int
    seconds: float  # wall time of the whole run (forward, backward, every update): the fastest repeat
    peak_bytes: int  # the most bytes the tape held for backward (the largest seen over the repeats)
    peak_nodes: int  # the most live tape nodes (the largest seen)
    updates: int  # how many updates the strategy made (in the last repeat, for a random strategy)

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / self.T


def measure(model, xs, ys, strategy, loss="mse", h0=None, repeats: int = 5) -> Cost:
    """Run the strategy ``repeats`` times over (xs, ys) and report its time and memory.

    The time is the fastest run: the one least disturbed by other processes
    (on a busy machine a run can take many times longer than it needs, so
    short runs deserve more repeats).  It is measured, never assumed.  Memory is the tape's own account:
    ``rnn.run``'s peak_bytes (arrays saved for backward, plus stored states
    for Checkpointed) and peak_nodes.
    """
    repeats = validate.positive_int("measure's repeats", repeats)
    best, peak_bytes, peak_nodes, updates = math.inf, 0, 0, 0
    for _ in range(repeats):
        started = time.perf_counter()
        result = run(model, xs, ys, strategy, loss=loss, h0=h0)
        best = min(best, time.perf_counter() - started)
        peak_bytes, peak_nodes = max(peak_bytes, result.peak_bytes), max(peak_nodes, result.peak_nodes)
        updates = len(result.plan.updates)
    _clear_grads(model)
    return Cost(repr(strategy), len(xs), best, peak_bytes, peak_nodes, updates)


__all__ = [
    "MAX_ENUMERATED_DRAWS",
    "Bias",
    "Cost",
    "EstimatorStats",
    "ExactMoments",
    "Fixed",
    "angle_between_lines",
    "cosine_similarity",
    "dominant_eigenvector",
    "estimator_stats",
    "flatten",
    "grad_norm_by_lag",
    "gradient_samples",
    "measure",
    "power_iteration_angles",
    "randomized_exact_moments",
    "relative_error",
    "running_mean_error",
    "set_spectral_radius",
    "singular_values",
    "spectral_radius",
    "state_grads",
    "state_jacobians",
    "summed_gradient",
    "total_variance",
    "truncation_bias",
]
