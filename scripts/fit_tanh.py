"""Fit the rational tanh that minigrad's float32 kernels use (``minigrad.kernels.activations``).

    python scripts/fit_tanh.py

tanh(x) / x is a smooth even function, so on [0, X] it is well matched by a
ratio of polynomials in s = x^2:

    tanh(x) ~ x P(s) / Q(s),   P of degree 5, Q of degree 4, Q(0) = 1.

The coefficients minimise the largest *relative* error on a dense grid, by
iteratively reweighted linear least squares: P(s) - f(s) Q(s) = 0 is linear in
the coefficients once each row is divided by the previous iterate's Q(s) (the
Sanathanan-Koerner iteration), and the weights grow where the error is large
(Lawson's step towards the minimax fit).  Beyond X = 10, tanh rounds to +-1 in
float32, so the kernels clamp x to [-10, 10].

The script prints the coefficients (already scaled to powers of x^2) and the
error in units of float32 spacing, measured the way the kernel computes:
in float64, rounded once to float32.  ``tests/minigrad/test_fast_tanh.py``
checks the same bound on the shipped coefficients.
"""

from __future__ import annotations

import numpy as np

CLAMP = 10.0
P_DEGREE, Q_DEGREE = 5, 4


def fit(iterations: int = 60):
    """(p, q, largest relative error) for tanh(x)/x ~ P(s)/Q(s), s = (x / CLAMP)^2 in [0, 1]."""
    x = np.sort(np.concatenate([np.linspace(0, CLAMP, 400_001)[1:], np.geomspace(1e-7, 1, 40_000)]))
    s = (x / CLAMP) ** 2
    f = np.tanh(x) / x
    weights, q_previous = np.ones_like(s), np.ones_like(s)
    best = (None, None, np.inf)
    for _ in range(iterations):
        columns = [s**k for k in range(P_DEGREE + 1)] + [-f * s**k for k in range(1, Q_DEGREE + 1)]
        scale = np.sqrt(weights) / (f * q_previous)
        coef, *_ = np.linalg.lstsq(np.stack(columns, 1) * scale[:, None], f * scale, rcond=None)
        p, q = coef[:P_DEGREE + 1], np.concatenate([[1.0], coef[P_DEGREE + 1:]])
        q_previous = np.polyval(q[::-1], s)
        error = (np.polyval(p[::-1], s) / q_previous - f) / f
        if np.abs(error).max() < best[2]:
            best = (p, q, np.abs(error).max())
        weights = weights * np.abs(error)
        weights /= weights.sum()
    return best


def main() -> None:
    p, q, error = fit()
    # in powers of x^2 rather than (x / CLAMP)^2
    p = [c / CLAMP ** (2 * k) for k, c in enumerate(p)]
    q = [c / CLAMP ** (2 * k) for k, c in enumerate(q)]
    print(f"largest relative error of the fit: {error:.3g} ({error / np.finfo(np.float32).eps:.3f} float32 eps)")
    print("TANH_P =", tuple(float(c) for c in p))
    print("TANH_Q =", tuple(float(c) for c in q))


if __name__ == "__main__":
    main()
