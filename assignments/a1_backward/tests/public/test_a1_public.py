"""Public tests of assignment 1: your backward passes against finite differences and the engine's own ops.

Each test gets your backward.py through the ``student`` fixture.  Your op
runs where your code runs (``tests/probes.py``), with an upstream gradient
the test chose; the references are computed here.  The tests of task 1.2 run
with the engine's ``unbroadcast`` in place of yours, so that they grade your
Add and Mul even while unbroadcast is unfinished.
"""

import numpy as np
import pytest
from checks import check_close
from helpers import check_backward, random

from minigrad.ops import unbroadcast as engine_unbroadcast


@pytest.mark.task1_1
@pytest.mark.points(1)
def test_unbroadcast_sums_the_axes_broadcasting_added(student):
    grad = np.ones((2, 3, 4))
    for shape, value in (((3, 4), 2.0), ((4,), 6.0), ((), 24.0)):
        got = student.unbroadcast(grad, shape)
        assert np.shape(got) == shape, f"unbroadcast(ones((2, 3, 4)), {shape}) has shape {np.shape(got)}"
        check_close(got, np.full(shape, value), f"unbroadcast(ones((2, 3, 4)), {shape})")


@pytest.mark.task1_1
@pytest.mark.points(1)
def test_unbroadcast_sums_stretched_axes_and_keeps_them(student):
    grad = random(2, 3, 4)
    for shape in ((3, 1), (1, 4), (2, 1, 4), (1, 1, 1), (2, 3, 4)):
        got = student.unbroadcast(grad, shape)
        assert np.shape(got) == shape, f"unbroadcast(grad of shape (2, 3, 4), {shape}) has shape {np.shape(got)}"
        check_close(got, engine_unbroadcast(grad, shape), f"unbroadcast(grad of shape (2, 3, 4), {shape})")


@pytest.mark.task1_2
@pytest.mark.points(1)
def test_add_and_mul_pass_gradcheck_with_broadcasting(student):
    for b_shape in ((3, 4), (4,), (3, 1)):
        a, b = random(3, 4, seed=2), random(*b_shape, seed=3)
        check_backward(student, "Add", [a, b], f"Add, b of shape {b_shape}", against="numeric")
        check_backward(student, "Mul", [a, b], f"Mul, b of shape {b_shape}", against="numeric")


@pytest.mark.task1_2
@pytest.mark.points(1)
def test_add_and_mul_backward_return_their_inputs_shapes(student):
    a, b = random(3, 4, seed=4), random(4, seed=5)
    for op in ("Add", "Mul"):
        check_backward(student, op, [a, b], f"{op} of (3, 4) and (4,)", exact_shapes=True)


@pytest.mark.task1_3
@pytest.mark.points(1)
def test_exp_and_tanh_match_finite_differences_and_the_engine(student):
    x = random(3, 4, seed=6)
    for op in ("Exp", "Tanh"):
        check_backward(student, op, [x], op, against="numeric")
        check_backward(student, op, [x], op)


@pytest.mark.task1_4
@pytest.mark.points(1)
def test_matmul_passes_gradcheck(student):
    check_backward(student, "MatMul", [random(3, 2, seed=7), random(2, 4, seed=8)], "MatMul (3, 2) @ (2, 4)",
                   against="numeric")


@pytest.mark.task1_4
@pytest.mark.points(1)
def test_matmul_matches_the_engine(student):
    check_backward(student, "MatMul", [random(2, 5, seed=9), random(5, 3, seed=10)], "MatMul (2, 5) @ (5, 3)")


@pytest.mark.task1_5
@pytest.mark.points(1)
def test_sum_over_one_axis_or_all(student):
    x = random(3, 4, seed=11)
    for axis in (0, 1, None):
        params = {"axis": axis, "keepdims": False}
        check_backward(student, "Sum", [x], f"Sum over axis={axis}", params, against="numeric")
        check_backward(student, "Sum", [x], f"Sum over axis={axis}", params)


@pytest.mark.task1_6
@pytest.mark.points(1)
def test_softmax_cross_entropy_passes_gradcheck(student):
    params = {"targets": np.array([0, 2, 1, 2])}
    check_backward(student, "SoftmaxCrossEntropy", [random(4, 3, seed=12)], "SoftmaxCrossEntropy", params,
                   against="numeric")


@pytest.mark.task1_6
@pytest.mark.points(1)
def test_softmax_cross_entropy_matches_the_engine(student):
    params = {"targets": np.array([3, 0, 0, 1, 2])}
    check_backward(student, "SoftmaxCrossEntropy", [random(5, 4, seed=13)], "SoftmaxCrossEntropy", params)
