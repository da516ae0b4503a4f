"""The engine checks what every backward returns (``Function.backward_checked``).

The contract: a tuple (or list) with exactly one entry per input, each None or
a NumPy array of the input's shape, or of a shape broadcasting made from it
(summed back).  A numpy scalar is accepted for a 0-d input.  Anything else
raises BackwardError naming the op's class, the input and both shapes, and the
fix.  Each test below builds a deliberately broken op, the way a student's
assignment would, and checks the message; the good cases check the values that
arrive.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import BackwardError


def _op(backward, name="broken"):
    """A Function whose forward is the sum of its inputs and whose backward is ``backward``."""

    class Broken(mg.ops.Function):
        @staticmethod
        def forward(ctx, *arrays):
            out = arrays[0]
            for a in arrays[1:]:
                out = out + a
            return out

    Broken.name = name
    Broken.backward = staticmethod(backward)
    return Broken


def _backward_through(op, *shapes):
    inputs = [mg.tensor(np.arange(np.prod(s), dtype=float).reshape(s) + 1.0, requires_grad=True) for s in shapes]
    with mg.Tape():
        out = op.apply(*inputs)
        out.backward(np.ones(out.shape))
    return inputs


def test_a_bare_array_from_a_single_input_backward_raises():
    """The assignment-1 mistake: `return grad * (1 - y * y)` without the tuple. Before the check,
    the tape zipped the array's rows against the inputs and took the first row silently."""
    op = _op(lambda ctx, grad: grad * 2.0, name="bare_tanh")
    with pytest.raises(BackwardError) as info:
        _backward_through(op, (3, 4))
    message = str(info.value)
    assert "op 'bare_tanh' (class _op.<locals>.Broken in tests.minigrad.test_backward_contract)" in message
    assert "a bare array of shape (3, 4), not a tuple" in message
    assert "1 input (shape (3, 4))" in message
    assert "`return (grad_a,)`" in message
    assert "A single input still needs the comma" in message


def test_a_bare_array_whose_length_equals_the_input_count_raises():
    """Two inputs of shape (2,) and a bare (2, 2) array: zip would have handed one row to each."""
    op = _op(lambda ctx, grad: np.stack([grad, grad]))
    with pytest.raises(BackwardError, match=r"a bare array of shape \(2, 2\), not a tuple .* `return \(grad_a, grad_b\)`"):
        _backward_through(op, (2,), (2,))


def test_returning_nothing_raises():
    op = _op(lambda ctx, grad: None)
    with pytest.raises(BackwardError, match=r"returned None \(did it forget to return\?\)"):
        _backward_through(op, (3,))


@pytest.mark.parametrize("returned, count", [(lambda g: (g,), "1 gradient"), (lambda g: (g, g, g), "3 gradients")])
def test_the_wrong_number_of_gradients_raises(returned, count):
    op = _op(lambda ctx, grad: returned(grad), name="add2")
    with pytest.raises(BackwardError) as info:
        _backward_through(op, (3, 4), (3, 4))
    message = str(info.value)
    assert f"op 'add2' (class _op.<locals>.Broken" in message
    assert f"returned {count} for its 2 inputs (shapes (3, 4), (3, 4))" in message
    assert "`return (grad_a, grad_b)`" in message


def test_a_gradient_of_the_wrong_shape_names_the_input_and_both_shapes():
    op = _op(lambda ctx, grad: (grad, np.ones((4, 3))), name="add2")
    with pytest.raises(BackwardError, match=r"op 'add2' .* returned a gradient of shape \(4, 3\) for input 1 of "
                                            r"shape \(3, 4\); each gradient must have its input's shape"):
        _backward_through(op, (3, 4), (3, 4))


@pytest.mark.parametrize("bad_shape, input_shape", [
    ((4,), (3, 4)),      # smaller than the input: broadcasting never shrinks
    ((), (3,)),          # a 0-d gradient for a vector
    ((2, 4, 5), (3, 1)),  # axis 1 has 4 entries where the input has 3
])
def test_shapes_that_do_not_unbroadcast_are_refused(bad_shape, input_shape):
    op = _op(lambda ctx, grad: (np.ones(bad_shape),))
    message = rf"gradient of shape {re_shape(bad_shape)} for input 0 of shape {re_shape(input_shape)}"
    with pytest.raises(BackwardError, match=message):
        _backward_through(op, input_shape)


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize("value, kind", [
    (lambda g: 1.5, "float"),
    (lambda g: g.tolist(), "list"),
    (lambda g: mg.tensor(g), r"Tensor \(a Tensor: return its \.data\)"),
])
def test_a_gradient_that_is_not_an_array_is_refused(value, kind):
    op = _op(lambda ctx, grad: (value(grad),), name="not_array")
    with pytest.raises(BackwardError, match=rf"op 'not_array' .* returned a {kind} as the gradient of input 0 \(shape \(2,\)\)"):
        _backward_through(op, (2,))


def test_a_python_float_is_refused_even_for_a_0d_input():
    """The decision: a Python number is not an array, even where it would fit (a NumPy scalar is accepted)."""
    op = _op(lambda ctx, grad: (float(grad),))
    with pytest.raises(BackwardError, match=r"returned a float as the gradient of input 0 \(shape \(\)\)"):
        _backward_through(op, ())


def test_a_numpy_scalar_for_a_0d_input_is_accepted():
    op = _op(lambda ctx, grad: (np.float64(3.0) * grad[()],))  # a numpy scalar, not an array
    (x,) = _backward_through(op, ())
    assert isinstance(x.grad, np.ndarray) and x.grad.shape == () and x.grad == 3.0


def test_a_list_of_arrays_and_none_entries_are_accepted():
    op = _op(lambda ctx, grad: [grad * 2.0, None])
    x, y = _backward_through(op, (2, 3), (2, 3))
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))
    assert y.grad is None


def test_a_broadcast_gradient_is_summed_back_to_its_input():
    """Input (3, 1) used against (2, 3, 4): the backward returns the (2, 3, 4) gradient, the engine sums it."""
    op = _op(lambda ctx, grad: (grad, grad))
    x, y = _backward_through(op, (3, 1), (2, 3, 4))
    np.testing.assert_array_equal(x.grad, np.full((3, 1), 8.0))
    np.testing.assert_array_equal(y.grad, np.ones((2, 3, 4)))


def test_gradcheck_surfaces_the_contract_error():
    op = _op(lambda ctx, grad: grad, name="bare")
    with pytest.raises(BackwardError, match="op 'bare'"):
        mg.gradcheck(op.apply, [mg.tensor(np.ones(3), requires_grad=True)])


def test_the_error_is_a_type_error():
    """So ``except TypeError`` in a grader or a user's script keeps catching it."""
    assert issubclass(BackwardError, TypeError)


def test_the_gradient_of_a_constant_input_is_checked_too():
    """The engine drops the gradient of an input that does not require grad, but not before checking it."""
    op = _op(lambda ctx, grad: (grad, np.ones((5,))), name="add2")
    x = mg.tensor(np.ones((3, 4)), requires_grad=True)
    with mg.Tape(), pytest.raises(BackwardError, match=r"gradient of shape \(5,\) for input 1 of shape \(4,\)"):
        op.apply(x, np.ones(4)).sum().backward()
