"""Hidden tests of assignment 1: other shapes, axes and values than the public tests use."""

import numpy as np
import pytest
from checks import check_close
from helpers import gradients, random, raw_backward

import minigrad as mg
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
def test_add_and_mul_broadcast_on_both_sides(student, monkeypatch):
    monkeypatch.setattr(student, "unbroadcast", engine_unbroadcast)
    for a_shape, b_shape in (((2, 1, 4), (3, 1)), ((5,), (2, 1)), ((2, 3), ())):
        a, b = random(*a_shape, seed=21), random(*b_shape, seed=22)
        for op, engine in ((student.Add, lambda x, y: x + y), (student.Mul, lambda x, y: x * y)):
            (grad_a, grad_b), _ = raw_backward(op, a, b)
            assert np.shape(grad_a) == a_shape and np.shape(grad_b) == b_shape, (
                f"{op.__name__}.backward for shapes {a_shape} and {b_shape} returned gradients of shapes "
                f"{np.shape(grad_a)} and {np.shape(grad_b)}"
            )
            mine = gradients(op.apply, a, b)
            want = gradients(engine, a, b)
            check_close(mine[0], want[0], f"{op.__name__}: dL/da for shapes {a_shape} and {b_shape}")
            check_close(mine[1], want[1], f"{op.__name__}: dL/db for shapes {a_shape} and {b_shape}")


@pytest.mark.task1_3
@pytest.mark.points(1)
def test_exp_and_tanh_on_large_inputs(student):
    x = np.array([[-30.0, -3.0, 0.0], [0.5, 3.0, 30.0]])
    mine = gradients(student.tanh, x)[0]
    assert np.all(np.isfinite(mine)), f"tanh's gradient is not finite at large inputs: {mine}"
    check_close(mine, gradients(mg.tanh, x)[0], "tanh: dL/da against the engine at saturating inputs")
    small = x / 10
    check_close(gradients(student.exp, small)[0], gradients(mg.exp, small)[0], "exp: dL/da against the engine")


@pytest.mark.task1_4
@pytest.mark.points(2)
def test_matmul_on_thin_and_wide_matrices(student):
    for a_shape, b_shape in (((1, 5), (5, 1)), ((4, 3), (3, 2)), ((3, 3), (3, 3))):
        a, b = random(*a_shape, seed=23), random(*b_shape, seed=24)
        (grad_a, grad_b), _ = raw_backward(student.MatMul, a, b)
        assert np.shape(grad_a) == a_shape and np.shape(grad_b) == b_shape, (
            f"MatMul.backward for {a_shape} @ {b_shape} returned gradients of shapes "
            f"{np.shape(grad_a)} and {np.shape(grad_b)}"
        )
        mine = gradients(student.matmul, a, b)
        engine = gradients(lambda x, y: x @ y, a, b)
        check_close(mine[0], engine[0], f"matmul {a_shape} @ {b_shape}: dL/da")
        check_close(mine[1], engine[1], f"matmul {a_shape} @ {b_shape}: dL/db")


@pytest.mark.task1_5
@pytest.mark.points(2)
def test_sum_over_tuples_of_axes_negative_axes_and_keepdims(student):
    x = random(2, 3, 4, seed=25)
    for axis, keepdims in (((0, -1), False), (-2, True), (None, True), ((1, 2), True), (-1, False)):
        def mine_fn(a, axis=axis, keepdims=keepdims):
            return student.sum_over(a, axis=axis, keepdims=keepdims)

        def engine_fn(a, axis=axis, keepdims=keepdims):
            return mg.sum(a, axis=axis, keepdims=keepdims)

        assert mg.gradcheck(mine_fn, [mg.tensor(x, requires_grad=True)])
        check_close(gradients(mine_fn, x)[0], gradients(engine_fn, x)[0],
                    f"sum over axis={axis}, keepdims={keepdims}: dL/da against the engine")


@pytest.mark.task1_6
@pytest.mark.points(2)
def test_softmax_cross_entropy_with_large_logits_and_an_upstream_gradient(student):
    for n, c, scale in ((1, 3, 1.0), (6, 5, 1000.0)):
        logits = random(n, c, seed=26, scale=scale)
        targets = np.arange(n) % c
        mine = gradients(lambda z, t=targets: student.softmax_cross_entropy(z, t) * 3.0, logits)[0]
        engine = gradients(lambda z, t=targets: mg.cross_entropy(z, t) * 3.0, logits)[0]
        assert np.all(np.isfinite(mine)), f"the gradient is not finite for logits of scale {scale}"
        check_close(mine, engine, f"3 * softmax_cross_entropy, N={n}, C={c}, logits of scale {scale}")
