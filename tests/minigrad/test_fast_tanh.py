"""The float32 tanh of the fused kernels (``kernels.tanh_rational``) against float64 tanh, in ulps.

The kernel promises: within one float32 spacing of the exactly rounded tanh
everywhere, odd, exactly +-1 once tanh rounds to +-1, NaN for NaN.  The
coefficients come from ``scripts/fit_tanh.py``, which this test re-runs to
check that the shipped ones are the ones it fits.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from minigrad import kernels
from minigrad.kernels import activations

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fit_tanh.py"


def fast_tanh(x: np.ndarray) -> np.ndarray:
    out = np.empty(x.shape, dtype=np.float32)
    kernels.tanh_rational(np.ascontiguousarray(x, dtype=np.float32).reshape(-1), out.reshape(-1))
    return out


def ulps(approx: np.ndarray, x: np.ndarray) -> np.ndarray:
    """|approx - tanh(x)| in units of the float32 spacing at tanh(x) (tanh in float64)."""
    exact = np.tanh(x.astype(np.float64))
    return np.abs(approx.astype(np.float64) - exact) / np.spacing(np.abs(exact).astype(np.float32))


def test_within_one_ulp_on_a_million_float32_values():
    rng = np.random.default_rng(7)
    x = np.concatenate([
        rng.uniform(-12, 12, 600_000),                                         # the whole curve
        rng.choice([-1, 1], 400_000) * np.exp(rng.uniform(np.log(1e-30), np.log(2), 400_000)),  # near 0
    ]).astype(np.float32)
    err = ulps(fast_tanh(x), x)
    assert err.max() <= 1.0, f"largest error {err.max():.2f} ulp at x = {x[err.argmax()]!r}"
    # better than faithful on average: most values are the correctly rounded tanh
    assert np.mean(fast_tanh(x) == np.tanh(x.astype(np.float64)).astype(np.float32)) > 0.9


def test_odd_saturating_and_nan():
    x = np.array([0.0, 1e-30, 0.5, 3.0, 9.5, 10.0, 11.0, 1e4, np.inf], dtype=np.float32)
    np.testing.assert_array_equal(fast_tanh(-x), -fast_tanh(x))
    np.testing.assert_array_equal(fast_tanh(x[-3:]), 1.0)
    assert fast_tanh(np.array([0.0], np.float32))[0] == 0.0
    assert np.isnan(fast_tanh(np.array([np.nan], np.float32))[0])
    assert np.all(np.abs(fast_tanh(np.linspace(-20, 20, 4001, dtype=np.float32))) <= 1.0)


@pytest.mark.slow
def test_shipped_coefficients_are_the_fit():
    spec = importlib.util.spec_from_file_location("fit_tanh", SCRIPT)
    fit_tanh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fit_tanh)
    p, q, error = fit_tanh.fit()
    scale = [fit_tanh.CLAMP ** (2 * k) for k in range(len(p))]
    np.testing.assert_allclose(activations.TANH_P, np.array(p) / scale, rtol=1e-9)
    np.testing.assert_allclose(activations.TANH_Q, np.array(q) / scale[:len(q)], rtol=1e-9)
    assert error < 0.1 * np.finfo(np.float32).eps
