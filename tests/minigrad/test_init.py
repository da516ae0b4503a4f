"""Tests for minigrad.init: the distributions' bounds and moments, orthogonality, determinism, errors.

Statistical checks allow 5 standard errors of the estimate, computed from the
sample size, so they fail by chance with probability below 1e-6.
"""

import math

import numpy as np
import pytest

from minigrad import init


def rng(seed=0):
    return np.random.default_rng(seed)


# -- Glorot / Xavier -------------------------------------------------------------

def test_xavier_uniform_stays_within_the_glorot_bound_and_reaches_it():
    w = init.xavier_uniform((200, 300), rng(), gain=2.0)
    a = 2.0 * math.sqrt(6.0 / (300 + 200))
    assert w.shape == (200, 300)
    assert np.all(np.abs(w) <= a)
    assert np.abs(w).max() > 0.999 * a


def test_xavier_uniform_has_the_glorot_variance():
    w = init.xavier_uniform((200, 300), rng())
    a = math.sqrt(6.0 / 500)
    n = w.size
    var = a**2 / 3                                   # variance of U(-a, a)
    se_var = math.sqrt((a**4 / 5 - var**2) / n)      # sd of the sample variance: (mu4 - sigma^4) / n
    assert abs(w.var() - var) < 5 * se_var
    assert abs(w.mean()) < 5 * math.sqrt(var / n)


def test_xavier_normal_has_the_glorot_variance():
    w = init.xavier_normal((150, 250), rng(), gain=0.5)
    var = 0.5**2 * 2.0 / (150 + 250)
    n = w.size
    assert abs(w.var() - var) < 5 * var * math.sqrt(2.0 / n)
    assert abs(w.mean()) < 5 * math.sqrt(var / n)


@pytest.mark.parametrize("shape, fans", [
    ((400,), 400 + 400),                 # a 1-D shape is its own fan-in and fan-out
    ((20, 30, 10), 30 * 10 + 20 * 10),   # trailing axes multiply both fans
])
def test_xavier_uniform_bound_for_other_ranks(shape, fans):
    w = init.xavier_uniform(shape, rng())
    a = math.sqrt(6.0 / fans)
    assert w.shape == shape
    assert np.all(np.abs(w) <= a) and np.abs(w).max() > 0.99 * a


# -- orthogonal ------------------------------------------------------------------

def test_orthogonal_square_matrix_is_orthogonal():
    q = init.orthogonal((6, 6), rng())
    np.testing.assert_allclose(q.T @ q, np.eye(6), atol=1e-12)
    np.testing.assert_allclose(q @ q.T, np.eye(6), atol=1e-12)


def test_orthogonal_tall_matrix_has_orthonormal_columns():
    q = init.orthogonal((8, 3), rng())
    assert q.shape == (8, 3)
    np.testing.assert_allclose(q.T @ q, np.eye(3), atol=1e-12)


def test_orthogonal_wide_matrix_has_orthonormal_rows():
    q = init.orthogonal((3, 8), rng())
    assert q.shape == (3, 8)
    np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-12)


def test_orthogonal_gain_scales_every_singular_value():
    q = init.orthogonal((5, 5), rng(), gain=2.5)
    np.testing.assert_allclose(np.linalg.svd(q, compute_uv=False), np.full(5, 2.5), atol=1e-12)


def test_orthogonal_flattens_trailing_dimensions():
    q = init.orthogonal((4, 2, 3), rng())
    assert q.shape == (4, 2, 3)
    flat = q.reshape(4, 6)
    np.testing.assert_allclose(flat @ flat.T, np.eye(4), atol=1e-12)


def test_orthogonal_is_haar_distributed_so_every_entry_has_mean_zero():
    # Under the Haar measure each entry of a 3x3 orthogonal matrix has mean 0 and
    # variance 1/3.  Without the sign fix, NumPy's QR gives diagonal means near -0.5.
    draws = 4000
    g = rng()
    mean = np.mean([init.orthogonal((3, 3), g) for _ in range(draws)], axis=0)
    assert np.all(np.abs(mean) < 5 * math.sqrt(1 / 3 / draws))


# -- identity, normal ------------------------------------------------------------

def test_scaled_identity():
    np.testing.assert_array_equal(init.scaled_identity(4, scale=0.5), 0.5 * np.eye(4))
    assert init.scaled_identity(3, dtype=np.float32).dtype == np.float32


def test_normal_has_the_requested_std():
    w = init.normal((300, 300), rng(), std=0.1)
    n = w.size
    assert abs(w.var() - 0.01) < 5 * 0.01 * math.sqrt(2.0 / n)
    assert abs(w.mean()) < 5 * 0.1 / math.sqrt(n)


# -- determinism, dtype, fresh arrays -------------------------------------------

@pytest.mark.parametrize("make", [
    lambda g: init.xavier_uniform((4, 3), g),
    lambda g: init.xavier_normal((4, 3), g),
    lambda g: init.orthogonal((4, 3), g),
    lambda g: init.normal((4, 3), g, std=1.0),
])
def test_same_seed_same_values_other_seed_other_values(make):
    np.testing.assert_array_equal(make(rng(7)), make(rng(7)))
    assert not np.array_equal(make(rng(7)), make(rng(8)))


def test_float32_gives_the_rounded_float64_values():
    w64 = init.xavier_uniform((5, 4), rng(3))
    w32 = init.xavier_uniform((5, 4), rng(3), dtype=np.float32)
    assert w32.dtype == np.float32
    np.testing.assert_array_equal(w32, w64.astype(np.float32))


def test_each_call_returns_a_new_array():
    a, b = init.scaled_identity(3), init.scaled_identity(3)
    a[0, 0] = 9.0
    assert b[0, 0] == 1.0


# -- errors ----------------------------------------------------------------------

def test_a_seed_instead_of_a_generator_is_refused_with_the_fix():
    with pytest.raises(TypeError, match=r"xavier_uniform: rng must be a np.random.Generator.*default_rng"):
        init.xavier_uniform((3, 3), 0)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"xavier_normal: shape .* got \(3, 0\)"):
        init.xavier_normal((3, 0), rng())
    with pytest.raises(ValueError, match=r"orthogonal: shape must have at least 2 dimensions"):
        init.orthogonal((5,), rng())
    with pytest.raises(ValueError, match=r"scaled_identity: n must be positive"):
        init.scaled_identity(0)
    with pytest.raises(ValueError, match=r"normal: std must be >= 0"):
        init.normal((2,), rng(), std=-1.0)
