"""Optimizer updates, in place on flat parameter arrays (one pass, no temporaries)."""

import math

from numba import njit


@njit(cache=True)
def sgd_update(param, grad, velocity, lr, momentum):
    """v = momentum * v + g; p -= lr * v   (plain SGD when momentum == 0: p -= lr * g, v untouched)."""
    if momentum == 0:
        for i in range(param.size):
            param[i] -= lr * grad[i]
        return
    for i in range(param.size):
        velocity[i] = momentum * velocity[i] + grad[i]
        param[i] -= lr * velocity[i]


@njit(cache=True)
def adam_update(param, grad, m, v, lr, beta1, beta2, eps, step):
    """Adam (Kingma and Ba): bias-corrected first and second moments.

    m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
    p -= lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps).
    """
    c1 = 1.0 - beta1 ** step
    c2 = 1.0 - beta2 ** step
    for i in range(param.size):
        m[i] = beta1 * m[i] + (1.0 - beta1) * grad[i]
        v[i] = beta2 * v[i] + (1.0 - beta2) * grad[i] * grad[i]
        param[i] -= lr * (m[i] / c1) / (math.sqrt(v[i] / c2) + eps)


@njit(cache=True)
def adagrad_update(param, grad, accumulator, lr, eps):
    """Adagrad: acc += g^2; p -= lr * g / (sqrt(acc) + eps)."""
    for i in range(param.size):
        accumulator[i] += grad[i] * grad[i]
        param[i] -= lr * grad[i] / (math.sqrt(accumulator[i]) + eps)
