r"""Backpropagation through time by hand, in plain numpy.

These are the gradient formulas of two small recurrent networks, derived on
paper and written out directly, without an autodiff engine.  They are the
reference the tape-based engine is checked against, and they are meant to be
read next to the derivation.

Conventions used throughout
---------------------------
* Time runs t = 1..T.  Per-step arrays (``xs``, ``ys``, ``pre``, ``q``,
  ``y_hat``, the returned ``dL/dh``) hold step t at index ``t - 1``; the
  Elman hidden states ``h`` also hold h_0, so ``h[t]`` is h_t.
* Vectors are columns in the maths.  In the code a vector is a 1-D array, or a
  batch of them stacked as the rows of a 2-D array, so the matrix-vector
  product M v is computed as ``v @ M.T`` (helper ``_matvec``) and a product
  u v^T, summed over the batch, as ``_outer_sum(u, v)``.
* ``*`` is the elementwise product; f' and g' are written through the output
  value (tanh' = 1 - y^2, sigmoid' = y (1 - y), relu' = [y > 0]).

Elman RNN
---------
    pre_t = A h_{t-1} + B x_t,      h_t = f(pre_t),
    q_t   = C h_t,                  y_hat_t = g(q_t),
    L     = 1/2 \sum_t ||e_t||^2,   e_t = y_hat_t - y_t,

summed over the batch.  A target that is NaN means "no target here": its
entry of e_t is 0, so it adds nothing to L or to any gradient.

Bias-free linear RNN (d2l notation)
-----------------------------------
    h_t = W_hx x_t + W_hh h_{t-1},  o_t = W_qh h_t,  h_0 = 0,
    L   = 1/T \sum_t 1/2 ||o_t - y_t||^2   (summed over the batch).
"""

import numpy as np

from minigrad.kernels.activations import NUMPY_FORMULAS


# --------------------------------------------------------------------------
# Activations: name -> (f, f' written through y = f(z))
# --------------------------------------------------------------------------

#: name -> (f, f'), both on NumPy arrays, f' written through the output y = f(z):
#:
#:     identity  f(z) = z                      f' = 1
#:     tanh      f(z) = tanh z                 f' = 1 - y^2
#:     sigmoid   f(z) = 1 / (1 + e^{-z})       f' = y (1 - y)     (as (1 + tanh(z/2)) / 2: never overflows)
#:     relu      f(z) = max(z, 0)              f' = [y > 0]       (0 at the kink z = 0)
#:
#: The engine's one table of activations (``minigrad.kernels.activations``) holds these
#: formulas next to the numba kernels that compute the same, under the same names, so a
#: new activation is added there once and is known here, to the cells and to the kernels.
ACTIVATIONS = NUMPY_FORMULAS


def _activation(name):
    """Look up (f, f') by name; ValueError listing the allowed names otherwise."""
    if name not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


# --------------------------------------------------------------------------
# Small linear-algebra helpers that work for a vector or a batch of rows
# --------------------------------------------------------------------------

def _matvec(M, v):
    """M v, for v a vector or a batch of row vectors (then each row is mapped)."""
    return v @ M.T


def _outer_sum(u, v):
    """u v^T, summed over any leading (batch or time) axes of u and v."""
    return u.reshape(-1, u.shape[-1]).T @ v.reshape(-1, v.shape[-1])


def _errors(y_hat, ys):
    """e_t = y_hat_t - y_t, with 0 wherever the target is NaN (no target there)."""
    return np.where(np.isnan(ys), 0.0, y_hat - ys)


# --------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------

def _expect_shape(name, array, symbolic, expected):
    if array.shape != expected:
        raise ValueError(
            f"{name}: expected shape {symbolic} = {expected}, got {array.shape}")


def _check_shapes(recurrent, inputs, output, xs, ys=None, h0=None, names=("A", "B", "C")):
    """Check the three weight matrices, xs, and (if given) ys and h0 against each other."""
    rec_name, in_name, out_name = names
    for name, M in zip(names, (recurrent, inputs, output)):
        if M.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D matrix, got shape {M.shape}")
    if xs.ndim not in (2, 3) or xs.shape[0] == 0:
        raise ValueError(
            f"xs: expected shape (T, n_in) or (T, batch, n_in) with T >= 1, got {xs.shape}")
    n_hidden, n_out = recurrent.shape[0], output.shape[0]
    _expect_shape(rec_name, recurrent, "(n_hidden, n_hidden)", (n_hidden, n_hidden))
    _expect_shape(in_name, inputs, "(n_hidden, n_in)", (n_hidden, xs.shape[-1]))
    _expect_shape(out_name, output, "(n_out, n_hidden)", (n_out, n_hidden))
    if ys is not None:
        _expect_shape("ys", ys, "xs.shape[:-1] + (n_out,)", xs.shape[:-1] + (n_out,))
    if h0 is not None and h0.shape not in ((n_hidden,), xs.shape[1:-1] + (n_hidden,)):
        raise ValueError(
            f"h0: expected shape (n_hidden,) = {(n_hidden,)} or "
            f"(batch, n_hidden) = {xs.shape[1:-1] + (n_hidden,)}, got {h0.shape}")


def _check_k(k):
    is_int = isinstance(k, (int, np.integer)) and not isinstance(k, bool)
    if k is not None and not (is_int and k >= 1):
        raise ValueError(f"k must be None (full BPTT) or an int >= 1, got {k!r}")


def _floats(*arrays):
    """The arguments as float64 arrays (None stays None)."""
    return [None if a is None else np.asarray(a, dtype=float) for a in arrays]


# --------------------------------------------------------------------------
# Elman RNN
# --------------------------------------------------------------------------

def elman_forward(A, B, C, xs, f="tanh", g="identity", h0=None):
    r"""Run the Elman RNN forward and keep every intermediate value.

        h_0 given (zeros by default),
        pre_t   = A h_{t-1} + B x_t,   h_t     = f(pre_t),
        q_t     = C h_t,               y_hat_t = g(q_t),      t = 1..T.

    With a batch (xs of shape (T, batch, n_in)) every row is one example:
    pre_t = h_{t-1} @ A.T + x_t @ B.T.

    Returns a dict: "h" (T+1, [batch,] n_hidden) with h_0 at index 0, and
    "pre", "q", "y_hat" with T entries each (step t at index t - 1).
    """
    A, B, C, xs, h0 = _floats(A, B, C, xs, h0)
    _check_shapes(A, B, C, xs, h0=h0)
    f, _ = _activation(f)
    g, _ = _activation(g)
    T, n_hidden = xs.shape[0], A.shape[0]

    h = np.zeros((T + 1,) + xs.shape[1:-1] + (n_hidden,))
    if h0 is not None:
        h[0] = h0
    pre = np.zeros_like(h[1:])
    for t in range(1, T + 1):
        pre[t - 1] = _matvec(A, h[t - 1]) + _matvec(B, xs[t - 1])
        h[t] = f(pre[t - 1])
    q = _matvec(C, h[1:])
    return {"h": h, "pre": pre, "q": q, "y_hat": g(q)}


def elman_loss(A, B, C, xs, ys, f="tanh", g="identity", h0=None):
    r"""L = 1/2 \sum_t \sum_batch ||y_hat_t - y_t||^2, skipping NaN targets."""
    A, B, C, xs, ys, h0 = _floats(A, B, C, xs, ys, h0)
    _check_shapes(A, B, C, xs, ys, h0)
    y_hat = elman_forward(A, B, C, xs, f, g, h0)["y_hat"]
    return 0.5 * float(np.sum(_errors(y_hat, ys) ** 2))


def _output_grads(forward, ys, g):
    """dL/dq_t = g'(q_t) * e_t for every step (g' written through y_hat_t)."""
    _, g_grad = _activation(g)
    return g_grad(forward["y_hat"]) * _errors(forward["y_hat"], ys)


def _hidden_grads(A, C, h, dL_dq, f_grad):
    """The backward recursion for dL/dh_t (see ``elman_hidden_grads``)."""
    T = dL_dq.shape[0]
    dL_dh = np.zeros_like(h[1:])
    dL_dh[T - 1] = _matvec(C.T, dL_dq[T - 1])
    for t in range(T - 1, 0, -1):
        dL_dh[t - 1] = (_matvec(C.T, dL_dq[t - 1])
                        + _matvec(A.T, f_grad(h[t + 1]) * dL_dh[t]))
    return dL_dh


def elman_hidden_grads(A, B, C, xs, ys, f="tanh", g="identity", h0=None):
    r"""The total derivatives dL/dh_t, t = 1..T, by the backward recursion.

    h_t influences L directly through y_hat_t and indirectly through h_{t+1}:

        dL/dh_T = C^T (g'(q_T) * e_T)
        dL/dh_t = C^T (g'(q_t) * e_t) + A^T (f'(pre_{t+1}) * dL/dh_{t+1}),   t < T.

    Returns an array of shape (T, [batch,] n_hidden), dL/dh_t at index t - 1.
    """
    A, B, C, xs, ys, h0 = _floats(A, B, C, xs, ys, h0)
    _check_shapes(A, B, C, xs, ys, h0)
    _, f_grad = _activation(f)
    forward = elman_forward(A, B, C, xs, f, g, h0)
    return _hidden_grads(A, C, forward["h"], _output_grads(forward, ys, g), f_grad)


def elman_bptt(A, B, C, xs, ys, f="tanh", g="identity", k=None, h0=None):
    r"""Gradients of L with respect to A, B, C by backpropagation through time.

    k = None, full BPTT.  With delta_t = dL/dpre_t = f'(pre_t) * dL/dh_t
    (dL/dh_t from ``elman_hidden_grads``):

        dL/dA = \sum_t delta_t h_{t-1}^T
        dL/dB = \sum_t delta_t x_t^T
        dL/dC = \sum_t (g'(q_t) * e_t) h_t^T

    k >= 1, k-step truncation.  Write L = \sum_t l_t with l_t the loss of
    step t.  Each l_t is backpropagated through at most k recurrent steps: it
    reaches A and B only through pre_t, pre_{t-1}, ..., pre_{max(1, t-k+1)},
    i.e. h_{t-k} is treated as a constant.  Starting from
    dl_t/dh_t = C^T (g'(q_t) * e_t), for s = t, t-1, ..., max(1, t-k+1):

        delta_s^{(t)}  = f'(pre_s) * dl_t/dh_s
        dA            += delta_s^{(t)} h_{s-1}^T
        dB            += delta_s^{(t)} x_s^T
        dl_t/dh_{s-1}  = A^T delta_s^{(t)}

    This sum over t equals the sum of the gradients TBPTT(1, k) computes
    (k1 = 1: one backward pass after every step, k2 = k steps deep), all
    taken at the same weights.  dL/dC has no recurrence, so it is never
    truncated.  k >= T gives the full gradient; k = 1 keeps only the
    immediate step, delta_t = f'(pre_t) * C^T (g'(q_t) * e_t).

    Sums run over the batch too.  Returns {"A": dL/dA, "B": dL/dB, "C": dL/dC}.
    """
    _check_k(k)
    A, B, C, xs, ys, h0 = _floats(A, B, C, xs, ys, h0)
    _check_shapes(A, B, C, xs, ys, h0)
    _, f_grad = _activation(f)
    forward = elman_forward(A, B, C, xs, f, g, h0)
    h, dL_dq = forward["h"], _output_grads(forward, ys, g)
    T = xs.shape[0]

    dC = _outer_sum(dL_dq, h[1:])
    if k is None:
        delta = f_grad(h[1:]) * _hidden_grads(A, C, h, dL_dq, f_grad)
        return {"A": _outer_sum(delta, h[:-1]), "B": _outer_sum(delta, xs), "C": dC}

    dA, dB = np.zeros_like(A), np.zeros_like(B)
    for t in range(1, T + 1):
        dl_dh = _matvec(C.T, dL_dq[t - 1])                   # dl_t/dh_t
        for s in range(t, max(t - k, 0), -1):                # s = t .. max(1, t-k+1)
            delta = f_grad(h[s]) * dl_dh                     # dl_t/dpre_s
            dA += _outer_sum(delta, h[s - 1])
            dB += _outer_sum(delta, xs[s - 1])
            dl_dh = _matvec(A.T, delta)                      # dl_t/dh_{s-1}
    return {"A": dA, "B": dB, "C": dC}


# --------------------------------------------------------------------------
# Bias-free linear RNN (d2l notation)
# --------------------------------------------------------------------------

_LINEAR_NAMES = ("W_hh", "W_hx", "W_qh")


def linear_rnn_forward(W_hx, W_hh, W_qh, xs):
    r"""h_t = W_hx x_t + W_hh h_{t-1} (h_0 = 0) and o_t = W_qh h_t, t = 1..T.

    Returns (hs, os): hs of shape (T, [batch,] h) holds h_1..h_T (not h_0),
    os of shape (T, [batch,] q) holds o_1..o_T.
    """
    W_hx, W_hh, W_qh, xs = _floats(W_hx, W_hh, W_qh, xs)
    _check_shapes(W_hh, W_hx, W_qh, xs, names=_LINEAR_NAMES)
    hs = np.zeros(xs.shape[:-1] + (W_hh.shape[0],))
    h_prev = np.zeros_like(hs[0])
    for t in range(1, xs.shape[0] + 1):
        hs[t - 1] = _matvec(W_hx, xs[t - 1]) + _matvec(W_hh, h_prev)
        h_prev = hs[t - 1]
    return hs, _matvec(W_qh, hs)


def _linear_output_grads(os, ys):
    """dL/do_t = (o_t - y_t) / T."""
    return (os - ys) / ys.shape[0]


def linear_rnn_hidden_grads(W_hx, W_hh, W_qh, xs, ys, method="recurrence"):
    r"""The total derivatives dL/dh_t, t = 1..T, of the linear RNN, two ways.

    method="recurrence" (backward, one step at a time):

        dL/dh_T = W_qh^T dL/do_T
        dL/dh_t = W_hh^T dL/dh_{t+1} + W_qh^T dL/do_t

    method="powers" (the recurrence unrolled):

        dL/dh_t = \sum_{i=t}^{T} (W_hh^T)^{i-t} W_qh^T dL/do_i

    with dL/do_t = (o_t - y_t) / T.  The powers of W_hh^T are why gradients
    vanish or explode over long spans.  Returns shape (T, [batch,] h).
    """
    W_hx, W_hh, W_qh, xs, ys = _floats(W_hx, W_hh, W_qh, xs, ys)
    _check_shapes(W_hh, W_hx, W_qh, xs, ys, names=_LINEAR_NAMES)
    hs, os = linear_rnn_forward(W_hx, W_hh, W_qh, xs)
    dL_do = _linear_output_grads(os, ys)
    T = xs.shape[0]

    dL_dh = np.zeros_like(hs)
    if method == "recurrence":
        dL_dh[T - 1] = _matvec(W_qh.T, dL_do[T - 1])
        for t in range(T - 1, 0, -1):
            dL_dh[t - 1] = _matvec(W_hh.T, dL_dh[t]) + _matvec(W_qh.T, dL_do[t - 1])
    elif method == "powers":
        for t in range(1, T + 1):
            for i in range(t, T + 1):
                M = np.linalg.matrix_power(W_hh.T, i - t) @ W_qh.T
                dL_dh[t - 1] += _matvec(M, dL_do[i - 1])
    else:
        raise ValueError(
            f"unknown method {method!r}; allowed: 'recurrence', 'powers'")
    return dL_dh


def linear_rnn_grads(W_hx, W_hh, W_qh, xs, ys):
    r"""Gradients of the linear RNN loss with respect to its three matrices.

        dL/dW_qh = \sum_t dL/do_t h_t^T
        dL/dW_hx = \sum_t dL/dh_t x_t^T
        dL/dW_hh = \sum_t dL/dh_t h_{t-1}^T      (h_0 = 0)

    The activation is the identity, so dL/dh_t is also the derivative with
    respect to the pre-activation.  Sums run over the batch too.
    Returns {"W_hx": ..., "W_hh": ..., "W_qh": ...}.
    """
    hs, os = linear_rnn_forward(W_hx, W_hh, W_qh, xs)
    dL_dh = linear_rnn_hidden_grads(W_hx, W_hh, W_qh, xs, ys)
    xs, ys = _floats(xs, ys)
    h_prev = np.concatenate([np.zeros_like(hs[:1]), hs[:-1]])
    return {
        "W_hx": _outer_sum(dL_dh, xs),
        "W_hh": _outer_sum(dL_dh, h_prev),
        "W_qh": _outer_sum(_linear_output_grads(os, ys), hs),
    }
