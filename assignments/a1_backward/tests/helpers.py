"""What the public and hidden tests of assignment 1 share: random arrays, and your backward against references.

The tests import it as ``helpers`` (pytest.ini puts tests/ on the path).
Your op runs where your code runs (``probes.backward``); the references are
computed here, by the engine's own ops and by central finite differences.
"""

import numpy as np
from checks import check_close

import minigrad as mg
from minigrad.ops import unbroadcast

ENGINE = {  # your op's name in backward.py -> the engine's op computing the same thing
    "Add": lambda a, b: a + b,
    "Mul": lambda a, b: a * b,
    "Exp": mg.exp,
    "Tanh": mg.tanh,
    "MatMul": lambda a, b: a @ b,
    "Sum": lambda a, axis=None, keepdims=False: mg.sum(a, axis=axis, keepdims=keepdims),
    "SoftmaxCrossEntropy": lambda logits, targets: mg.cross_entropy(logits, targets),
}
INPUTS = {"Add": "ab", "Mul": "ab", "MatMul": "ab", "SoftmaxCrossEntropy": ("logits",)}


def random(*shape, seed=0, scale=1.0):
    """An array of the given shape, standard normal times ``scale``: the same numbers for the same seed."""
    return scale * np.random.default_rng(seed).standard_normal(shape)


def forward(op, arrays, params=None):
    """The engine's value of ``op`` on ``arrays``."""
    with mg.no_grad():
        return ENGINE[op](*(mg.tensor(a) for a in arrays), **(params or {})).data


def engine_grads(op, arrays, grad, params=None):
    """dL/d(each input) of L = sum(grad * op(inputs)), through the engine's tape."""
    tensors = [mg.tensor(a, requires_grad=True) for a in arrays]
    with mg.Tape():
        (ENGINE[op](*tensors, **(params or {})) * grad).sum().backward()
    return [t.grad for t in tensors]


def numerical_grads(op, arrays, grad, params=None, eps=1e-6):
    """The same gradients by central finite differences of the engine's forward."""
    grads = []
    for i, array in enumerate(arrays):
        numeric = np.zeros_like(array, dtype=float)
        for index in np.ndindex(array.shape):
            values = []
            for step in (eps, -eps):
                moved = [a.copy() for a in arrays]
                moved[i][index] += step
                values.append(np.sum(grad * forward(op, moved, params)))
            numeric[index] = (values[0] - values[1]) / (2 * eps)
        grads.append(numeric)
    return grads


def upstream(op, arrays, params=None, seed=1, scale=1.0):
    """A random dL/d(output) of the output's shape (chosen here, never by the code under test)."""
    return scale * np.random.default_rng(seed).standard_normal(np.shape(forward(op, arrays, params)))


def student_grads(student, op, arrays, grad, params=None, exact_shapes=False):
    """What your ``op.backward`` returns for ``grad``, checked to be one gradient per input.

    With ``exact_shapes`` each must have its input's shape; without, a
    gradient of a broadcast shape is summed back as the engine would (its
    base class un-broadcasts after every backward).  Your forward's value is
    checked against the engine's too.
    """
    got = student.probe("backward", op, arrays, grad, params)
    check_close(got["output"], forward(op, arrays, params), f"{op}.forward's value (given code: did it change?)")
    grads = got["grads"]
    if not isinstance(grads, list) or len(grads) != len(arrays):
        count = f"{len(grads)} values" if isinstance(grads, list) else f"a bare {got['returned']}"
        raise AssertionError(f"{op}.backward must return a tuple with one gradient per input ({len(arrays)}), "
                             f"got {count}")
    names = INPUTS.get(op, ("a",))
    out = []
    for name, g, array in zip(names, grads, arrays):
        shape = np.shape(g)
        if shape != array.shape:
            if exact_shapes:
                raise AssertionError(f"{op}.backward returned dL/d{name} of shape {shape} for {name} of shape "
                                     f"{array.shape}")
            try:
                g = unbroadcast(np.asarray(g, dtype=float), array.shape)
            except ValueError:
                raise AssertionError(f"{op}.backward returned dL/d{name} of shape {shape}, which cannot be "
                                     f"summed back to {name}'s shape {array.shape}") from None
        out.append(g)
    return out


def check_backward(student, op, arrays, what, params=None, seed=1, scale=1.0, exact_shapes=False,
                   against="engine"):
    """Fail unless your ``op.backward`` gives the engine's gradients (or the finite differences', ``against="numeric"``)."""
    arrays = [np.asarray(a, dtype=float) for a in arrays]
    grad = upstream(op, arrays, params, seed, scale)
    mine = student_grads(student, op, arrays, grad, params, exact_shapes)
    if against == "numeric":
        want, rtol, atol, source = numerical_grads(op, arrays, grad, params), 1e-5, 1e-7, "central finite differences"
    else:
        want, rtol, atol, source = engine_grads(op, arrays, grad, params), 1e-7, 1e-10, "the engine"
    names = INPUTS.get(op, ("a",))
    for name, g, w in zip(names, mine, want):
        check_close(g, w, f"{what}: dL/d{name} against {source}", rtol=rtol, atol=atol)
