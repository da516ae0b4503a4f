"""Public tests of assignment 1: your backward passes against finite differences and the engine's own ops.

Each test uses the ``student`` fixture (your backward.py).  The tests of
add/mul replace your ``unbroadcast`` by the engine's, so that they grade your
backward even while unbroadcast is unfinished.
"""

import numpy as np
import pytest
from checks import check_close
from helpers import gradients, random, raw_backward

import minigrad as mg
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
def test_add_and_mul_pass_gradcheck_with_broadcasting(student, monkeypatch):
    monkeypatch.setattr(student, "unbroadcast", engine_unbroadcast)
    for b_shape in ((3, 4), (4,), (3, 1)):
        a = mg.tensor(random(3, 4, seed=2), requires_grad=True)
        b = mg.tensor(random(*b_shape, seed=3), requires_grad=True)
        assert mg.gradcheck(student.add, [a, b])
        assert mg.gradcheck(student.mul, [a, b])


@pytest.mark.task1_2
@pytest.mark.points(1)
def test_add_and_mul_backward_return_their_inputs_shapes(student, monkeypatch):
    monkeypatch.setattr(student, "unbroadcast", engine_unbroadcast)
    a, b = random(3, 4, seed=4), random(4, seed=5)
    (grad_a, grad_b), grad = raw_backward(student.Add, a, b)
    assert np.shape(grad_b) == b.shape, f"Add.backward returned dL/db of shape {np.shape(grad_b)} for b of shape {b.shape}"
    check_close(grad_a, grad, "Add.backward: dL/da")
    check_close(grad_b, grad.sum(axis=0), "Add.backward: dL/db")
    (grad_a, grad_b), grad = raw_backward(student.Mul, a, b)
    assert np.shape(grad_b) == b.shape, f"Mul.backward returned dL/db of shape {np.shape(grad_b)} for b of shape {b.shape}"
    check_close(grad_a, grad * b, "Mul.backward: dL/da")
    check_close(grad_b, (grad * a).sum(axis=0), "Mul.backward: dL/db")


@pytest.mark.task1_3
@pytest.mark.points(1)
def test_exp_and_tanh_match_finite_differences_and_the_engine(student):
    x = random(3, 4, seed=6)
    assert mg.gradcheck(student.exp, [mg.tensor(x, requires_grad=True)])
    assert mg.gradcheck(student.tanh, [mg.tensor(x, requires_grad=True)])
    check_close(gradients(student.exp, x)[0], gradients(mg.exp, x)[0], "exp: dL/da against the engine's exp")
    check_close(gradients(student.tanh, x)[0], gradients(mg.tanh, x)[0], "tanh: dL/da against the engine's tanh")


@pytest.mark.task1_4
@pytest.mark.points(1)
def test_matmul_passes_gradcheck(student):
    a = mg.tensor(random(3, 2, seed=7), requires_grad=True)
    b = mg.tensor(random(2, 4, seed=8), requires_grad=True)
    assert mg.gradcheck(student.matmul, [a, b])


@pytest.mark.task1_4
@pytest.mark.points(1)
def test_matmul_matches_the_engine(student):
    a, b = random(2, 5, seed=9), random(5, 3, seed=10)
    mine = gradients(student.matmul, a, b)
    engine = gradients(lambda x, y: x @ y, a, b)
    check_close(mine[0], engine[0], "matmul: dL/da against the engine's a @ b")
    check_close(mine[1], engine[1], "matmul: dL/db against the engine's a @ b")


@pytest.mark.task1_5
@pytest.mark.points(1)
def test_sum_over_one_axis_or_all(student):
    x = random(3, 4, seed=11)
    for axis in (0, 1, None):
        def mine_fn(a, axis=axis):
            return student.sum_over(a, axis=axis)

        def engine_fn(a, axis=axis):
            return mg.sum(a, axis=axis)

        assert mg.gradcheck(mine_fn, [mg.tensor(x, requires_grad=True)])
        mine, engine = gradients(mine_fn, x)[0], gradients(engine_fn, x)[0]
        check_close(mine, engine, f"sum over axis={axis}: dL/da against the engine's sum")


@pytest.mark.task1_6
@pytest.mark.points(1)
def test_softmax_cross_entropy_passes_gradcheck(student):
    logits = mg.tensor(random(4, 3, seed=12), requires_grad=True)
    targets = np.array([0, 2, 1, 2])
    assert mg.gradcheck(lambda z: student.softmax_cross_entropy(z, targets), [logits])


@pytest.mark.task1_6
@pytest.mark.points(1)
def test_softmax_cross_entropy_matches_the_engine(student):
    logits = random(5, 4, seed=13)
    targets = np.array([3, 0, 0, 1, 2])
    mine = gradients(lambda z: student.softmax_cross_entropy(z, targets), logits)[0]
    engine = gradients(lambda z: mg.cross_entropy(z, targets), logits)[0]
    check_close(mine, engine, "softmax_cross_entropy: dL/dlogits against the engine's cross_entropy")
