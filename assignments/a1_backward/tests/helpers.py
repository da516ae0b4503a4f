"""What the public and hidden tests of assignment 1 share: random arrays, and gradients through the tape.

The tests import it as ``helpers`` (pytest.ini puts tests/ on the path).
"""

import numpy as np

import minigrad as mg


def random(*shape, seed=0, scale=1.0):
    """An array of the given shape, standard normal times ``scale``: the same numbers for the same seed."""
    return scale * np.random.default_rng(seed).standard_normal(shape)


def gradients(fn, *arrays, seed=0):
    """dL/d(each input) of L = sum(w * fn(inputs)) for fixed random weights w, through the tape."""
    inputs = [mg.tensor(a, requires_grad=True) for a in arrays]
    with mg.Tape():
        out = fn(*inputs)
        weights = np.random.default_rng(seed).standard_normal(out.shape)
        (out * weights).sum().backward()
    return [x.grad for x in inputs]


def raw_backward(op, *arrays, seed=1, **params):
    """(what op.backward returns for a random dL/d(output), that dL/d(output)): the backward, called directly."""
    out = op.apply(*(mg.tensor(a, requires_grad=True) for a in arrays), **params)
    grad = np.random.default_rng(seed).standard_normal(out.shape)
    return op.backward(out.node, grad), grad
