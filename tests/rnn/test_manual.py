"""Checks of the hand-derived BPTT formulas in rnn.manual.

Every gradient is compared with central finite differences (float64) of a
loss computed here by an independent forward pass: a plain loop over examples
and time steps with column vectors (A @ h), not the batched row form that
rnn.manual uses.
"""

import itertools

import numpy as np
import pytest

from minigrad.kernels import ACTIVATION_CODES

from rnn.manual import (
    ACTIVATIONS,
    elman_bptt,
    elman_forward,
    elman_hidden_grads,
    elman_loss,
    linear_rnn_forward,
    linear_rnn_grads,
    linear_rnn_hidden_grads,
)

EPS = 1e-6
RTOL = 1e-7

REF_ACT = {
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "relu": lambda z: np.maximum(z, 0.0),
    "identity": lambda z: z,
}
HIDDEN_ACTS = ["tanh", "sigmoid", "relu", "identity"]
OUTPUT_ACTS = ["identity", "tanh", "sigmoid"]


# --------------------------------------------------------------------------
# Independent reference: one sequence at a time, column vectors
# --------------------------------------------------------------------------

def ref_run(A, B, C, x, y, f, g, h0, bumps=None, start=0, h_start=None, stop=None):
    """Per-step losses l_t and pre-activations for ONE sequence.

    bumps[t-1] is added to h_t right after it is computed.  With start=s and
    h_start given, the recurrence starts from h_s = h_start (a constant) and
    only steps s+1..stop are run.
    """
    T = x.shape[0] if stop is None else stop
    h = h0 if h_start is None else h_start
    losses, pres = [], []
    for t in range(start + 1, T + 1):
        pre = A @ h + B @ x[t - 1]
        h = REF_ACT[f](pre)
        if bumps is not None:
            h = h + bumps[t - 1]
        err = REF_ACT[g](C @ h) - y[t - 1]
        losses.append(0.5 * np.sum(err[~np.isnan(err)] ** 2))
        pres.append(pre)
    return np.array(losses), np.array(pres)


def examples(xs, ys, h0):
    """Split a (possibly batched) problem into per-example (x, y, h0) triples."""
    if xs.ndim == 2:
        return [(xs, ys, h0)]
    h0s = np.broadcast_to(h0, (xs.shape[1], h0.shape[-1]))
    return [(xs[:, b], ys[:, b], h0s[b]) for b in range(xs.shape[1])]


def ref_loss(A, B, C, xs, ys, f, g, h0, bumps=None):
    total = 0.0
    for b, (x, y, h) in enumerate(examples(xs, ys, h0)):
        bump = None if bumps is None else (bumps if xs.ndim == 2 else bumps[:, b])
        total += ref_run(A, B, C, x, y, f, g, h, bump)[0].sum()
    return total


def fd_grad(fun, X):
    """Central finite differences of the scalar fun with respect to every entry of X."""
    grad = np.zeros_like(X)
    for idx in np.ndindex(X.shape):
        Xp, Xm = X.copy(), X.copy()
        Xp[idx] += EPS
        Xm[idx] -= EPS
        grad[idx] = (fun(Xp) - fun(Xm)) / (2 * EPS)
    return grad


def fd_params(loss, params):
    """FD gradient of loss(**params) with respect to each named parameter."""
    return {name: fd_grad(lambda M, name=name: loss(**{**params, name: M}), P)
            for name, P in params.items()}


def assert_close(analytic, numeric):
    """Relative agreement, scaled by the size of the numerical gradient."""
    scale = max(1.0, np.abs(numeric).max())
    np.testing.assert_allclose(analytic, numeric, rtol=RTOL, atol=RTOL * scale)


def make_problem(seed, f="tanh", g="identity", T=5, n_in=2, n_hidden=3, n_out=2,
                 batch=None, h0="zeros"):
    """A random Elman problem.  For relu, redraw until every pre-activation is
    at least 1e-3 away from the kink, so an EPS-sized step never crosses it."""
    rng = np.random.default_rng(seed)
    lead = (T,) if batch is None else (T, batch)
    while True:
        p = {
            "A": rng.normal(0, 0.6, (n_hidden, n_hidden)),
            "B": rng.normal(0, 0.8, (n_hidden, n_in)),
            "C": rng.normal(0, 0.8, (n_out, n_hidden)),
            "xs": rng.normal(0, 1, lead + (n_in,)),
            "ys": rng.normal(0, 1, lead + (n_out,)) if g != "sigmoid"
            else rng.uniform(0, 1, lead + (n_out,)),
            "h0": np.zeros(n_hidden) if h0 == "zeros" else rng.normal(0, 0.5, lead[1:] + (n_hidden,)),
        }
        pres = [ref_run(p["A"], p["B"], p["C"], x, y, f, g, h)[1]
                for x, y, h in examples(p["xs"], p["ys"], p["h0"])]
        if f != "relu" or np.abs(pres).min() > 1e-3:
            return p


LAYOUTS = {
    "single": dict(batch=None, h0="zeros"),
    "batch": dict(batch=3, h0="zeros"),
    "single_h0": dict(batch=None, h0="random"),
    "batch_h0": dict(batch=3, h0="random"),
}


# --------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------

def test_activation_table_names():
    assert list(ACTIVATIONS) == list(ACTIVATION_CODES)  # one table: the kernels' codes and the NumPy formulas


@pytest.mark.parametrize("name", HIDDEN_ACTS)
def test_activation_matches_reference_and_derivative_through_output(name):
    fn, grad_from_output = ACTIVATIONS[name]
    z = np.array([-2.3, -0.7, -0.1, 0.2, 0.9, 3.1])
    np.testing.assert_allclose(fn(z), REF_ACT[name](z), rtol=1e-14, atol=1e-15)
    numeric = (REF_ACT[name](z + EPS) - REF_ACT[name](z - EPS)) / (2 * EPS)
    np.testing.assert_allclose(grad_from_output(fn(z)), numeric, rtol=1e-8, atol=1e-10)


def test_sigmoid_does_not_overflow():
    fn, _ = ACTIVATIONS["sigmoid"]
    with np.errstate(all="raise"):
        np.testing.assert_allclose(fn(np.array([-1000.0, 1000.0])), [0.0, 1.0])


# --------------------------------------------------------------------------
# Elman forward and loss
# --------------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
def test_forward_and_loss_match_reference(layout):
    p = make_problem(0, "tanh", "sigmoid", **LAYOUTS[layout])
    out = elman_forward(p["A"], p["B"], p["C"], p["xs"], "tanh", "sigmoid", p["h0"])
    T, lead = p["xs"].shape[0], p["xs"].shape[1:-1]
    assert out["h"].shape == (T + 1,) + lead + (3,)
    assert out["pre"].shape == out["h"][1:].shape
    assert out["q"].shape == out["y_hat"].shape == p["ys"].shape
    np.testing.assert_allclose(out["h"][0], np.broadcast_to(p["h0"], out["h"][0].shape))
    np.testing.assert_allclose(out["h"][1:], np.tanh(out["pre"]), rtol=1e-14)
    np.testing.assert_allclose(out["y_hat"], REF_ACT["sigmoid"](out["q"]), rtol=1e-14)

    loss = elman_loss(p["A"], p["B"], p["C"], p["xs"], p["ys"], "tanh", "sigmoid", p["h0"])
    assert isinstance(loss, float)
    assert loss == pytest.approx(ref_loss(**p, f="tanh", g="sigmoid"), rel=1e-13)


def test_forward_h0_defaults_to_zeros():
    p = make_problem(1)
    with_default = elman_forward(p["A"], p["B"], p["C"], p["xs"])
    explicit = elman_forward(p["A"], p["B"], p["C"], p["xs"], h0=np.zeros(3))
    for key in ("h", "pre", "q", "y_hat"):
        np.testing.assert_array_equal(with_default[key], explicit[key])


# --------------------------------------------------------------------------
# Full BPTT against finite differences
# --------------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("f,g", list(itertools.product(HIDDEN_ACTS, OUTPUT_ACTS)))
def test_full_bptt_matches_finite_differences(f, g, layout):
    p = make_problem(10, f, g, **LAYOUTS[layout])
    A, B, C, xs, ys, h0 = (p[k] for k in ("A", "B", "C", "xs", "ys", "h0"))
    grads = elman_bptt(A, B, C, xs, ys, f, g, h0=h0)
    numeric = fd_params(lambda A, B, C: ref_loss(A, B, C, xs, ys, f, g, h0),
                        {"A": A, "B": B, "C": C})
    assert grads.keys() == {"A", "B", "C"}
    for name in "ABC":
        assert grads[name].shape == p[name].shape
        assert_close(grads[name], numeric[name])
    assert np.abs(numeric["A"]).max() > 1e-3  # the recurrent gradient is not trivially zero


def test_batched_gradient_is_sum_of_per_example_gradients():
    p = make_problem(11, "tanh", "tanh", batch=4, h0="random")
    for k in (None, 2):
        batched = elman_bptt(p["A"], p["B"], p["C"], p["xs"], p["ys"], "tanh", "tanh", k=k, h0=p["h0"])
        summed = {name: 0.0 for name in "ABC"}
        for x, y, h in examples(p["xs"], p["ys"], p["h0"]):
            single = elman_bptt(p["A"], p["B"], p["C"], x, y, "tanh", "tanh", k=k, h0=h)
            summed = {name: summed[name] + single[name] for name in "ABC"}
        for name in "ABC":
            np.testing.assert_allclose(batched[name], summed[name], rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------
# NaN targets
# --------------------------------------------------------------------------

def nan_problem():
    p = make_problem(20, "tanh", "identity", T=6, batch=3, h0="random")
    ys = p["ys"].copy()
    ys[2] = np.nan            # a step with no target at all
    ys[4, 1, 0] = np.nan      # a single missing entry
    ys[0, 2] = np.nan         # one example without a target at step 1
    return {**p, "ys": ys}


def test_nan_targets_are_skipped_in_the_loss():
    p = nan_problem()
    mask = ~np.isnan(p["ys"])
    y_hat = elman_forward(p["A"], p["B"], p["C"], p["xs"], h0=p["h0"])["y_hat"]
    remaining = 0.5 * np.sum((y_hat[mask] - p["ys"][mask]) ** 2)
    loss = elman_loss(p["A"], p["B"], p["C"], p["xs"], p["ys"], "tanh", "identity", p["h0"])
    assert np.isfinite(loss)
    assert loss == pytest.approx(remaining, rel=1e-13)
    # Replacing each missing target by the prediction (zero error) changes nothing.
    filled = np.where(mask, p["ys"], y_hat)
    assert loss == pytest.approx(
        elman_loss(p["A"], p["B"], p["C"], p["xs"], filled, "tanh", "identity", p["h0"]), rel=1e-13)


@pytest.mark.parametrize("k", [None, 2])
def test_nan_targets_gradient_matches_finite_differences(k):
    p = nan_problem()
    A, B, C, xs, ys, h0 = (p[n] for n in ("A", "B", "C", "xs", "ys", "h0"))
    grads = elman_bptt(A, B, C, xs, ys, k=k, h0=h0)
    for name in "ABC":
        assert np.all(np.isfinite(grads[name]))
    if k is None:
        numeric = fd_params(lambda A, B, C: ref_loss(A, B, C, xs, ys, "tanh", "identity", h0),
                            {"A": A, "B": B, "C": C})
    else:
        numeric = fd_truncated(p, "tanh", "identity", k)
    for name in "ABC":
        assert_close(grads[name], numeric[name])


# --------------------------------------------------------------------------
# dL/dh_t: total derivatives through a perturbation added to h_t
# --------------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("f,g", [("tanh", "identity"), ("sigmoid", "tanh"), ("relu", "sigmoid")])
def test_hidden_grads_match_finite_differences_of_a_bump_on_h_t(f, g, layout):
    p = make_problem(30, f, g, **LAYOUTS[layout])
    A, B, C, xs, ys, h0 = (p[n] for n in ("A", "B", "C", "xs", "ys", "h0"))
    dL_dh = elman_hidden_grads(A, B, C, xs, ys, f, g, h0)
    zero_bumps = np.zeros(xs.shape[:-1] + (A.shape[0],))
    numeric = fd_grad(lambda bumps: ref_loss(A, B, C, xs, ys, f, g, h0, bumps), zero_bumps)
    assert dL_dh.shape == zero_bumps.shape
    assert_close(dL_dh, numeric)


def test_full_bptt_is_built_from_hidden_grads():
    p = make_problem(31, "tanh", "tanh", batch=2, h0="random")
    args = (p["A"], p["B"], p["C"], p["xs"], p["ys"], "tanh", "tanh")
    out = elman_forward(*args[:4], "tanh", "tanh", p["h0"])
    delta = (1 - out["h"][1:] ** 2) * elman_hidden_grads(*args, h0=p["h0"])
    grads = elman_bptt(*args, h0=p["h0"])
    np.testing.assert_allclose(grads["A"], np.einsum("tbi,tbj->ij", delta, out["h"][:-1]), rtol=1e-12)
    np.testing.assert_allclose(grads["B"], np.einsum("tbi,tbj->ij", delta, p["xs"]), rtol=1e-12)


# --------------------------------------------------------------------------
# k-step truncation
# --------------------------------------------------------------------------

def ref_truncated_loss(A, B, C, A0, B0, xs, ys, f, g, h0, k):
    """sum_t l_t where steps up to t-k run with the ORIGINAL weights A0, B0
    (so h_{t-k} is a constant) and only steps t-k+1..t use A, B."""
    total = 0.0
    for x, y, h in examples(xs, ys, h0):
        hs = [h]
        for t in range(1, x.shape[0] + 1):     # the original, detached states h_0..h_T
            hs.append(REF_ACT[f](A0 @ hs[-1] + B0 @ x[t - 1]))
        for t in range(1, x.shape[0] + 1):
            start = max(t - k, 0)
            losses, _ = ref_run(A, B, C, x, y, f, g, h, start=start, h_start=hs[start], stop=t)
            total += losses[-1]                # l_t
    return total


def fd_truncated(p, f, g, k):
    A, B, C, xs, ys, h0 = (p[n] for n in ("A", "B", "C", "xs", "ys", "h0"))
    return fd_params(lambda A, B, C: ref_truncated_loss(A, B, C, p["A"], p["B"], xs, ys, f, g, h0, k),
                     {"A": A, "B": B, "C": C})


@pytest.mark.parametrize("layout", ["single", "batch_h0"])
@pytest.mark.parametrize("k", [1, 2, 3, 5])
@pytest.mark.parametrize("f,g", [("tanh", "identity"), ("relu", "sigmoid")])
def test_truncated_matches_sum_of_per_step_gradients_with_detached_start(f, g, k, layout):
    p = make_problem(40, f, g, T=6, **LAYOUTS[layout])
    grads = elman_bptt(p["A"], p["B"], p["C"], p["xs"], p["ys"], f, g, k=k, h0=p["h0"])
    numeric = fd_truncated(p, f, g, k)
    for name in "ABC":
        assert_close(grads[name], numeric[name])


@pytest.mark.parametrize("layout", ["single", "batch_h0"])
def test_truncated_with_k_at_least_T_equals_full(layout):
    p = make_problem(41, "sigmoid", "tanh", T=6, **LAYOUTS[layout])
    args = (p["A"], p["B"], p["C"], p["xs"], p["ys"], "sigmoid", "tanh")
    full = elman_bptt(*args, h0=p["h0"])
    for k in (6, 7, 100):
        truncated = elman_bptt(*args, k=k, h0=p["h0"])
        for name in "ABC":
            np.testing.assert_allclose(truncated[name], full[name], rtol=1e-12, atol=1e-14)


def test_truncated_k1_equals_immediate_step_formula():
    p = make_problem(42, "tanh", "sigmoid", T=6, batch=3, h0="random")
    A, B, C, xs, ys, h0 = (p[n] for n in ("A", "B", "C", "xs", "ys", "h0"))
    # Independent forward with explicit loops, then delta_t = f'(pre_t) * C^T (g'(q_t) * e_t).
    dA, dB = np.zeros_like(A), np.zeros_like(B)
    for x, y, h in examples(xs, ys, h0):
        for t in range(x.shape[0]):
            h_prev = h
            h = np.tanh(A @ h_prev + B @ x[t])
            y_hat = REF_ACT["sigmoid"](C @ h)
            delta = (1 - h**2) * (C.T @ (y_hat * (1 - y_hat) * (y_hat - y[t])))
            dA += np.outer(delta, h_prev)
            dB += np.outer(delta, x[t])
    grads = elman_bptt(A, B, C, xs, ys, "tanh", "sigmoid", k=1, h0=h0)
    np.testing.assert_allclose(grads["A"], dA, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads["B"], dB, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("k", [1, 2])
def test_truncation_really_changes_the_recurrent_gradient(k):
    p = make_problem(43, "tanh", "identity", T=8, batch=2)
    args = (p["A"], p["B"], p["C"], p["xs"], p["ys"], "tanh", "identity")
    full, truncated = elman_bptt(*args), elman_bptt(*args, k=k)
    for name in "AB":
        rel_diff = np.linalg.norm(truncated[name] - full[name]) / np.linalg.norm(full[name])
        assert rel_diff > 1e-2
    np.testing.assert_allclose(truncated["C"], full["C"], rtol=1e-13)


# --------------------------------------------------------------------------
# Bias-free linear RNN
# --------------------------------------------------------------------------

def make_linear(seed, T=5, d=2, h=3, q=2, batch=None):
    rng = np.random.default_rng(seed)
    lead = (T,) if batch is None else (T, batch)
    return {
        "W_hx": rng.normal(0, 0.8, (h, d)),
        "W_hh": rng.normal(0, 0.6, (h, h)),
        "W_qh": rng.normal(0, 0.8, (q, h)),
        "xs": rng.normal(0, 1, lead + (d,)),
        "ys": rng.normal(0, 1, lead + (q,)),
    }


def ref_linear_loss(W_hx, W_hh, W_qh, xs, ys, bumps=None):
    """L = 1/T sum_t 1/2 ||o_t - y_t||^2, one example at a time; bumps[t-1] is added to h_t."""
    T = xs.shape[0]
    batched = xs.ndim == 3
    total = 0.0
    for b in range(xs.shape[1] if batched else 1):
        h = np.zeros(W_hh.shape[0])
        for t in range(T):
            x, y = (xs[t, b], ys[t, b]) if batched else (xs[t], ys[t])
            h = W_hx @ x + W_hh @ h
            if bumps is not None:
                h = h + (bumps[t, b] if batched else bumps[t])
            total += 0.5 * np.sum((W_qh @ h - y) ** 2) / T
    return total


@pytest.mark.parametrize("batch", [None, 3])
def test_linear_forward_matches_reference(batch):
    p = make_linear(50, batch=batch)
    hs, os = linear_rnn_forward(p["W_hx"], p["W_hh"], p["W_qh"], p["xs"])
    assert hs.shape == p["xs"].shape[:-1] + (3,)
    assert os.shape == p["ys"].shape
    T = p["xs"].shape[0]
    loss = 0.5 * np.sum((os - p["ys"]) ** 2) / T
    assert loss == pytest.approx(ref_linear_loss(**p), rel=1e-13)


@pytest.mark.parametrize("batch", [None, 3])
def test_linear_recurrence_equals_powers(batch):
    p = make_linear(51, T=7, batch=batch)
    recurrence = linear_rnn_hidden_grads(**p, method="recurrence")
    powers = linear_rnn_hidden_grads(**p, method="powers")
    np.testing.assert_allclose(recurrence, powers, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("batch", [None, 3])
def test_linear_hidden_grads_match_finite_differences(batch):
    p = make_linear(52, batch=batch)
    dL_dh = linear_rnn_hidden_grads(**p)
    zero_bumps = np.zeros(p["xs"].shape[:-1] + (3,))
    numeric = fd_grad(lambda bumps: ref_linear_loss(**p, bumps=bumps), zero_bumps)
    assert_close(dL_dh, numeric)


@pytest.mark.parametrize("batch", [None, 3])
def test_linear_grads_match_finite_differences(batch):
    p = make_linear(53, batch=batch)
    xs, ys = p["xs"], p["ys"]
    weights = {n: p[n] for n in ("W_hx", "W_hh", "W_qh")}
    grads = linear_rnn_grads(**p)
    numeric = fd_params(lambda **w: ref_linear_loss(**w, xs=xs, ys=ys), weights)
    assert grads.keys() == weights.keys()
    for name in weights:
        assert_close(grads[name], numeric[name])


def test_linear_rnn_is_the_identity_elman_rnn_up_to_the_1_over_T_factor():
    p = make_linear(54, T=6, batch=2)
    T = p["xs"].shape[0]
    linear = linear_rnn_grads(**p)
    elman = elman_bptt(p["W_hh"], p["W_hx"], p["W_qh"], p["xs"], p["ys"], "identity", "identity")
    for lin_name, elman_name in (("W_hh", "A"), ("W_hx", "B"), ("W_qh", "C")):
        np.testing.assert_allclose(T * linear[lin_name], elman[elman_name], rtol=1e-12)


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

ALLOWED = f"allowed: {', '.join(ACTIVATION_CODES)}"


def test_unknown_activation_names_the_allowed_ones():
    p = make_problem(60)
    with pytest.raises(ValueError, match=f"unknown activation 'softplus'; {ALLOWED}"):
        elman_forward(p["A"], p["B"], p["C"], p["xs"], f="softplus")
    with pytest.raises(ValueError, match=f"unknown activation 'Tanh'; {ALLOWED}"):
        elman_bptt(p["A"], p["B"], p["C"], p["xs"], p["ys"], g="Tanh")
    with pytest.raises(ValueError, match=f"unknown activation 'gelu'; {ALLOWED}"):
        elman_hidden_grads(p["A"], p["B"], p["C"], p["xs"], p["ys"], f="gelu")


@pytest.mark.parametrize("k", [0, -3, 2.0, 1.5, "2", True])
def test_bad_k_raises(k):
    p = make_problem(61)
    with pytest.raises(ValueError, match=r"k must be None \(full BPTT\) or an int >= 1, got"):
        elman_bptt(p["A"], p["B"], p["C"], p["xs"], p["ys"], k=k)


def test_numpy_integer_k_is_accepted():
    p = make_problem(62)
    args = (p["A"], p["B"], p["C"], p["xs"], p["ys"])
    np.testing.assert_array_equal(elman_bptt(*args, k=np.int64(2))["A"], elman_bptt(*args, k=2)["A"])


@pytest.mark.parametrize("name,bad,message", [
    ("A", np.zeros((3, 4)), r"A: expected shape \(n_hidden, n_hidden\) = \(3, 3\), got \(3, 4\)"),
    ("A", np.zeros(3), r"A: expected a 2-D matrix, got shape \(3,\)"),
    ("B", np.zeros((3, 5)), r"B: expected shape \(n_hidden, n_in\) = \(3, 2\), got \(3, 5\)"),
    ("C", np.zeros((2, 4)), r"C: expected shape \(n_out, n_hidden\) = \(2, 3\), got \(2, 4\)"),
    ("xs", np.zeros(5), r"xs: expected shape \(T, n_in\) or \(T, batch, n_in\) with T >= 1, got \(5,\)"),
    ("xs", np.zeros((0, 2)), r"xs: .* with T >= 1, got \(0, 2\)"),
    ("ys", np.zeros((5, 3)), r"ys: expected shape xs.shape\[:-1\] \+ \(n_out,\) = \(5, 2\), got \(5, 3\)"),
    ("ys", np.zeros((4, 2)), r"ys: expected shape .* = \(5, 2\), got \(4, 2\)"),
    ("h0", np.zeros(4), r"h0: expected shape \(n_hidden,\) = \(3,\) .* got \(4,\)"),
])
def test_mismatched_shapes_name_the_array(name, bad, message):
    p = {**make_problem(63), name: bad}
    with pytest.raises(ValueError, match=message):
        elman_bptt(p["A"], p["B"], p["C"], p["xs"], p["ys"], h0=p["h0"])
    with pytest.raises(ValueError, match=message):
        elman_loss(p["A"], p["B"], p["C"], p["xs"], p["ys"], "tanh", "identity", p["h0"])


def test_batched_h0_shape_is_checked():
    p = make_problem(64, batch=3)
    with pytest.raises(ValueError, match=r"h0: .*\(batch, n_hidden\) = \(3, 3\), got \(2, 3\)"):
        elman_forward(p["A"], p["B"], p["C"], p["xs"], h0=np.zeros((2, 3)))


def test_linear_rnn_errors_name_the_matrix_and_the_method():
    p = make_linear(65)
    with pytest.raises(ValueError, match=r"W_hh: expected shape \(n_hidden, n_hidden\) = \(3, 3\), got \(3, 4\)"):
        linear_rnn_grads(**{**p, "W_hh": np.zeros((3, 4))})
    with pytest.raises(ValueError, match=r"W_hx: expected shape \(n_hidden, n_in\) = \(3, 2\), got \(3, 4\)"):
        linear_rnn_forward(p["W_hx"][:, :1].repeat(4, axis=1), p["W_hh"], p["W_qh"], p["xs"])
    with pytest.raises(ValueError, match="unknown method 'series'; allowed: 'recurrence', 'powers'"):
        linear_rnn_hidden_grads(**p, method="series")
