"""Hidden tests of assignment 1: other shapes, axes and values than the public tests use."""

import numpy as np
import pytest
from checks import check_close
from helpers import check_backward, random

from minigrad.ops import unbroadcast as engine_unbroadcast


@pytest.mark.task1_1
@pytest.mark.points(1)
def test_unbroadcast_on_random_shapes(student):
    rng = np.random.default_rng(20)
    for trial in range(30):
        full = tuple(int(n) for n in rng.integers(1, 4, size=rng.integers(1, 5)))
        kept = int(rng.integers(0, len(full) + 1))
        shape = tuple(1 if rng.random() < 0.4 else n for n in full[len(full) - kept:])
        grad = rng.standard_normal(full)
        got = student.unbroadcast(grad, shape)
        assert np.shape(got) == shape, f"unbroadcast(grad of shape {full}, {shape}) has shape {np.shape(got)}"
        check_close(got, engine_unbroadcast(grad, shape), f"unbroadcast(grad of shape {full}, {shape})")


@pytest.mark.task1_2
@pytest.mark.points(2)
def test_add_and_mul_broadcast_on_both_sides(student):
    for a_shape, b_shape in (((2, 1, 4), (3, 1)), ((5,), (2, 1)), ((2, 3), ())):
        a, b = random(*a_shape, seed=21), random(*b_shape, seed=22)
        for op in ("Add", "Mul"):
            check_backward(student, op, [a, b], f"{op} of shapes {a_shape} and {b_shape}", exact_shapes=True)


@pytest.mark.task1_3
@pytest.mark.points(1)
def test_exp_and_tanh_on_large_inputs(student):
    x = np.array([[-30.0, -3.0, 0.0], [0.5, 3.0, 30.0]])
    check_backward(student, "Tanh", [x], "Tanh at saturating inputs")
    check_backward(student, "Exp", [x / 10], "Exp")


@pytest.mark.task1_4
@pytest.mark.points(2)
def test_matmul_on_thin_and_wide_matrices(student):
    for a_shape, b_shape in (((1, 5), (5, 1)), ((4, 3), (3, 2)), ((3, 3), (3, 3))):
        check_backward(student, "MatMul", [random(*a_shape, seed=23), random(*b_shape, seed=24)],
                       f"MatMul {a_shape} @ {b_shape}", exact_shapes=True)


@pytest.mark.task1_5
@pytest.mark.points(2)
def test_sum_over_tuples_of_axes_negative_axes_and_keepdims(student):
    x = random(2, 3, 4, seed=25)
    for axis, keepdims in (((0, -1), False), (-2, True), (None, True), ((1, 2), True), (-1, False)):
        params = {"axis": axis, "keepdims": keepdims}
        check_backward(student, "Sum", [x], f"Sum over axis={axis}, keepdims={keepdims}", params, against="numeric")
        check_backward(student, "Sum", [x], f"Sum over axis={axis}, keepdims={keepdims}", params)


@pytest.mark.task1_6
@pytest.mark.points(2)
def test_softmax_cross_entropy_with_large_logits_and_an_upstream_gradient(student):
    for n, c, scale in ((1, 3, 1.0), (6, 5, 1000.0)):
        params = {"targets": np.arange(n) % c}
        check_backward(student, "SoftmaxCrossEntropy", [random(n, c, seed=26, scale=scale)],
                       f"3 * SoftmaxCrossEntropy, N={n}, C={c}, logits of scale {scale:g}", params, scale=3.0)
