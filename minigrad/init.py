"""Weight initialisers: each returns a NEW np.ndarray of the requested shape and dtype.

Random initialisers take a ``np.random.Generator`` (``np.random.default_rng(seed)``)
rather than a seed, so one generator can initialise a whole model reproducibly.
Values are drawn in float64 and then cast, so a float32 model gets the rounded
values of the float64 one built from the same seed.

Fan-in and fan-out follow the convention of a weight used as ``y = W x``:
for a 2-D shape (n_out, n_in), fan_in = shape[1] and fan_out = shape[0].
"""

from __future__ import annotations

import math

import numpy as np


def _fans(shape: tuple, op: str) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shape; a 1-D shape is its own fan-in and fan-out.

    Dimensions after the second (a convolution's kernel, say) multiply both fans.
    """
    if len(shape) == 0 or any(n <= 0 for n in shape):
        raise ValueError(f"{op}: shape must have at least one dimension, all positive; got {shape}")
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _check_rng(rng, op: str) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{op}: rng must be a np.random.Generator, got {type(rng).__name__}; "
            "pass np.random.default_rng(seed)"
        )


def _shape(shape) -> tuple:
    """A shape given as an int or a sequence of ints, as a tuple."""
    return (int(shape),) if np.isscalar(shape) else tuple(int(n) for n in shape)


def xavier_uniform(shape, rng: np.random.Generator, gain: float = 1.0, dtype=np.float64) -> np.ndarray:
    """Glorot/Xavier uniform: W ~ U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).

    The variance a^2/3 = gain^2 * 2 / (fan_in + fan_out) keeps the variance of
    activations (forward) and of gradients (backward) roughly constant from
    layer to layer (Glorot and Bengio, 2010).
    """
    shape = _shape(shape)
    _check_rng(rng, "xavier_uniform")
    fan_in, fan_out = _fans(shape, "xavier_uniform")
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=shape).astype(dtype)


def xavier_normal(shape, rng: np.random.Generator, gain: float = 1.0, dtype=np.float64) -> np.ndarray:
    """Glorot/Xavier normal: W ~ N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).

    The same variance as ``xavier_uniform``, drawn from a Gaussian.
    """
    shape = _shape(shape)
    _check_rng(rng, "xavier_normal")
    fan_in, fan_out = _fans(shape, "xavier_normal")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return rng.normal(0.0, std, size=shape).astype(dtype)


def orthogonal(shape, rng: np.random.Generator, gain: float = 1.0, dtype=np.float64) -> np.ndarray:
    """A random (semi-)orthogonal matrix times ``gain``, uniform (Haar) over such matrices.

    Take a Gaussian matrix G of shape (max(r, c), min(r, c)) and its QR
    decomposition G = QR.  Q alone is not uniformly distributed: NumPy's QR
    fixes the signs of R's diagonal by convention, which biases Q.  Multiplying
    column j of Q by sign(R_jj) removes that bias (Mezzadri, 2007).
    For a tall shape (r >= c) the columns are orthonormal (Q^T Q = I); for a
    wide one the result is transposed, so the rows are (Q Q^T = I).
    Shapes with more than 2 dimensions are treated as (shape[0], rest flattened).
    An orthogonal recurrent matrix has all singular values 1, so it neither
    shrinks nor grows a gradient sent back through it (Saxe et al., 2014).
    """
    shape = _shape(shape)
    _check_rng(rng, "orthogonal")
    if len(shape) < 2 or any(n <= 0 for n in shape):
        raise ValueError(f"orthogonal: shape must have at least 2 dimensions, all positive; got {shape}")
    rows, cols = shape[0], math.prod(shape[1:])
    g = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(g)
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)
    if rows < cols:
        q = q.T
    return (gain * q).reshape(shape).astype(dtype)


def scaled_identity(n: int, scale: float = 1.0, dtype=np.float64) -> np.ndarray:
    """scale * I, an (n, n) matrix.

    As a recurrent matrix with ReLU units this is the IRNN initialisation (Le
    et al., 2015): at first the hidden state is copied from step to step, so
    gradients pass back through time undamped.
    """
    if int(n) <= 0:
        raise ValueError(f"scaled_identity: n must be positive, got {n}")
    return (scale * np.eye(int(n))).astype(dtype)


def normal(shape, rng: np.random.Generator, std: float, dtype=np.float64) -> np.ndarray:
    """W ~ N(0, std^2), elementwise and independent."""
    shape = _shape(shape)
    _check_rng(rng, "normal")
    if not std >= 0:
        raise ValueError(f"normal: std must be >= 0, got {std}")
    return rng.normal(0.0, std, size=shape).astype(dtype)
