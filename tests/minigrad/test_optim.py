"""Tests for minigrad.optim: each update rule against plain NumPy, state round trips,
clipping, argument checks, and a small network trained with every optimizer."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim
from minigrad.errors import ShapeError

SHAPES = [(2, 3), (4,)]
STEPS = 3


def make_params(dtype=np.float64):
    rng = np.random.default_rng(0)
    return [nn.Parameter(rng.standard_normal(shape), dtype=dtype) for shape in SHAPES]


def fixed_grads(steps=STEPS, seed=1):
    """grads[t][i]: the gradient of parameter i at step t."""
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(shape) for shape in SHAPES] for _ in range(steps)]


def run(opt, params, grads):
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g.copy()
        opt.step()


# -- reference updates in plain NumPy --------------------------------------------

def sgd_reference(p, grads, lr, momentum):
    v = np.zeros_like(p)
    for g in grads:
        v = momentum * v + g
        p = p - lr * v
    return p


def adam_reference(p, grads, lr, b1, b2, eps):
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return p


def adagrad_reference(p, grads, lr, eps):
    acc = np.zeros_like(p)
    for g in grads:
        acc = acc + g**2
        p = p - lr * g / (np.sqrt(acc) + eps)
    return p


CASES = {
    "sgd": (lambda ps: optim.SGD(ps, lr=0.1), lambda p, gs: sgd_reference(p, gs, 0.1, 0.0)),
    "sgd-momentum": (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), lambda p, gs: sgd_reference(p, gs, 0.1, 0.9)),
    "adam": (lambda ps: optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6),
             lambda p, gs: adam_reference(p, gs, 0.01, 0.8, 0.99, 1e-6)),
    "adagrad": (lambda ps: optim.Adagrad(ps, lr=0.5, eps=1e-7), lambda p, gs: adagrad_reference(p, gs, 0.5, 1e-7)),
}


@pytest.mark.parametrize("case", CASES)
def test_three_steps_match_the_numpy_reference(case):
    make_opt, reference = CASES[case]
    params = make_params()
    start = [p.data.copy() for p in params]
    grads = fixed_grads()
    run(make_opt(params), params, grads)
    for i, p in enumerate(params):
        expected = reference(start[i], [step_grads[i] for step_grads in grads])
        np.testing.assert_allclose(p.data, expected, rtol=1e-12, atol=1e-14, err_msg=f"parameter {i}")


def test_momentum_makes_a_constant_gradient_accelerate():
    p = nn.Parameter(np.zeros(1))
    opt = optim.SGD([p], lr=1.0, momentum=0.5)
    positions = []
    for _ in range(3):
        p.grad = np.ones(1)
        opt.step()
        positions.append(p.data[0])
    # velocities 1, 1.5, 1.75
    np.testing.assert_allclose(positions, [-1.0, -2.5, -4.25])


def test_adam_first_step_is_lr_times_the_sign_of_the_gradient():
    g = np.array([1e3, -2.0, 0.1, -0.5, 37.0])
    p = nn.Parameter(np.zeros(5))
    opt = optim.Adam([p], lr=0.01)
    p.grad = g.copy()
    opt.step()
    # bias correction: m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps)
    np.testing.assert_allclose(p.data, -0.01 * np.sign(g), rtol=1e-6)


def test_a_parameter_without_grad_is_skipped_and_keeps_its_state():
    params = make_params()
    untouched = params[1].data.copy()
    opt = optim.Adam(params, lr=0.1)
    params[0].grad = np.ones(SHAPES[0])
    opt.step()
    np.testing.assert_array_equal(params[1].data, untouched)
    state = opt.state_dict()
    assert state["0.step"] == 1 and state["1.step"] == 0
    assert not np.any(state["1.m"])


def test_zero_grad_clears_every_grad():
    params = make_params()
    opt = optim.SGD(params, lr=0.1)
    for p in params:
        p.grad = np.ones(p.shape)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_a_grad_of_the_wrong_shape_is_refused():
    p = nn.Parameter(np.zeros((2, 3)), name="W")
    opt = optim.SGD([p], lr=0.1)
    p.grad = np.ones(6)
    with pytest.raises(ShapeError, match=r"SGD: parameter 0 \(W\) has shape \(2, 3\) but its grad has shape \(6,\)"):
        opt.step()


def test_non_contiguous_data_is_refused_instead_of_updating_a_copy():
    p = nn.Parameter(np.zeros((2, 3)))
    opt = optim.SGD([p], lr=0.1)
    p.data = np.zeros((3, 2)).T
    p.grad = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"SGD: parameter 0 .* non-contiguous"):
        opt.step()


# -- float32 ---------------------------------------------------------------------

@pytest.mark.parametrize("make_opt", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: optim.Adam(ps), lambda ps: optim.Adagrad(ps),
], ids=["sgd", "adam", "adagrad"])
def test_float32_parameters_and_state_stay_float32(make_opt):
    model = nn.Linear(3, 2, dtype=np.float32)
    opt = make_opt(model.parameters())
    mg.mse(model(np.ones((4, 3), dtype=np.float32)), np.zeros((4, 2), dtype=np.float32)).backward()
    before = model.W.data.copy()
    opt.step()
    assert model.W.dtype == np.float32 and model.b.dtype == np.float32
    assert not np.array_equal(model.W.data, before)
    assert all(a.dtype == np.float32 for name, a in opt.state_dict().items() if not name.endswith("step"))


def test_a_float64_grad_is_cast_to_the_float32_parameter():
    p = nn.Parameter(np.ones(3), dtype=np.float32)
    opt = optim.SGD([p], lr=0.5)
    p.grad = np.full(3, 1.0, dtype=np.float64)
    opt.step()
    assert p.dtype == np.float32
    np.testing.assert_array_equal(p.data, np.full(3, 0.5, dtype=np.float32))


# -- state round trip ------------------------------------------------------------

@pytest.mark.parametrize("case", ["sgd-momentum", "adam", "adagrad"])
def test_checkpoint_through_npz_continues_identically(case, tmp_path):
    make_opt, _ = CASES[case]
    grads = fixed_grads(steps=6)

    params = make_params()
    opt = make_opt(params)
    run(opt, params, grads[:3])
    np.savez(tmp_path / "ckpt.npz", **{f"model.{i}": p.data for i, p in enumerate(params)},
             **{f"opt.{k}": v for k, v in opt.state_dict().items()})
    run(opt, params, grads[3:])

    resumed = make_params()
    resumed_opt = make_opt(resumed)
    with np.load(tmp_path / "ckpt.npz", allow_pickle=False) as ckpt:
        for i, p in enumerate(resumed):
            p.data[...] = ckpt[f"model.{i}"]
        resumed_opt.load_state_dict({k[4:]: ckpt[k] for k in ckpt.files if k.startswith("opt.")})
    run(resumed_opt, resumed, grads[3:])

    for a, b in zip(params, resumed):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_dict_names_are_index_dot_state():
    opt = optim.Adam(make_params())
    assert sorted(opt.state_dict()) == ["0.m", "0.step", "0.v", "1.m", "1.step", "1.v"]
    assert opt.state_dict()["0.m"].shape == (6,)  # flat


def test_loading_another_optimizers_state_is_refused():
    sgd_state = optim.SGD(make_params(), lr=0.1).state_dict()
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: .*missing keys: '0.m' \(6,\).*unexpected keys: '0.velocity'"):
        optim.Adam(make_params()).load_state_dict(sgd_state)


# -- clipping --------------------------------------------------------------------

def test_clip_grad_norm_returns_the_norm_before_and_clips_to_max_norm():
    a, b, c = nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros((1, 1))), nn.Parameter(np.zeros(3))
    a.grad, b.grad = np.array([3.0, 4.0]), np.array([[12.0]])  # total norm 13; c has no grad
    norm = optim.clip_grad_norm([a, b, c], max_norm=6.5)
    assert norm == pytest.approx(13.0)
    total = np.sqrt(np.sum(a.grad**2) + np.sum(b.grad**2))
    assert total == pytest.approx(6.5, rel=1e-6)
    np.testing.assert_allclose(a.grad, [1.5, 2.0], rtol=1e-6)  # direction kept
    assert c.grad is None


def test_clip_grad_norm_below_max_norm_changes_nothing():
    p = nn.Parameter(np.zeros(2))
    p.grad = np.array([0.3, 0.4])
    assert optim.clip_grad_norm([p], max_norm=1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(p.grad, [0.3, 0.4])


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_clip_grad_norm_with_a_non_finite_gradient_raises_and_leaves_the_gradients(bad):
    a, b = nn.Parameter(np.zeros(2), name="A"), nn.Parameter(np.zeros(3), name="B")
    a.grad, b.grad = np.array([1.0, 2.0]), np.array([3.0, bad, 4.0])
    before = [a.grad.copy(), b.grad.copy()]
    kind = "NaN" if np.isnan(bad) else "inf"
    with pytest.raises(mg.errors.DivergenceError, match=rf"clip_grad_norm: the gradient of parameter 1 \(B\) holds {kind}.*left unchanged"):
        optim.clip_grad_norm([a, b], max_norm=1.0)
    np.testing.assert_array_equal(a.grad, before[0])
    np.testing.assert_array_equal(b.grad, before[1])


def test_clip_grad_norm_of_huge_finite_gradients_does_not_overflow():
    p = nn.Parameter(np.zeros(2))
    p.grad = np.array([3e200, 4e200])  # the sum of squares overflows; the norm does not
    assert optim.clip_grad_norm([p], max_norm=1.0) == pytest.approx(5e200)
    np.testing.assert_allclose(p.grad, [0.6, 0.8], rtol=1e-9)


def test_hyperparameters_accept_numpy_scalars_and_refuse_bools():
    opt = optim.SGD(make_params(), lr=np.float32(0.5), momentum=np.float64(0.25))
    assert (opt.lr, opt.momentum) == (0.5, 0.25)
    with pytest.raises(ValueError, match=r"SGD: lr must be a finite number > 0, got True"):
        optim.SGD(make_params(), lr=True)
    with pytest.raises(ValueError, match=r"Adam: betas\[0\] must be in \[0, 1\), got False"):
        optim.Adam(make_params(), betas=(False, 0.9))


# -- argument checks -------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda ps: optim.SGD(ps, lr=0.0), r"SGD: lr must be a finite number > 0, got 0.0"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=1.0), r"SGD: momentum must be in \[0, 1\), got 1.0"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=-0.1), r"SGD: momentum must be in \[0, 1\), got -0.1"),
    (lambda ps: optim.Adam(ps, lr=float("nan")), r"Adam: lr must be a finite number > 0, got nan"),
    (lambda ps: optim.Adam(ps, betas=(0.9, 1.0)), r"Adam: betas\[1\] must be in \[0, 1\), got 1.0"),
    (lambda ps: optim.Adam(ps, eps=0.0), r"Adam: eps must be a finite number > 0, got 0.0"),
    (lambda ps: optim.Adagrad(ps, lr=-1.0), r"Adagrad: lr must be a finite number > 0, got -1.0"),
    (lambda ps: optim.clip_grad_norm(ps, max_norm=0), r"clip_grad_norm: max_norm must be a finite number > 0, got 0"),
])
def test_bad_hyperparameters_are_refused_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make(make_params())


def test_bad_parameter_lists_are_refused():
    with pytest.raises(ValueError, match="SGD: got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="Adam: parameter 1 is a ndarray, not a Parameter or Tensor"):
        optim.Adam([nn.Parameter(np.zeros(1)), np.zeros(1)])
    with pytest.raises(ValueError, match=r"Adagrad: parameter 0 \(unnamed, shape \(2,\)\) is not a leaf tensor with requires_grad=True"):
        optim.Adagrad([mg.tensor(np.zeros(2))])
    with pytest.raises(TypeError, match=r"SGD: expected an iterable of parameters, got a Linear; pass model.parameters\(\)"):
        optim.SGD(nn.Linear(2, 2), lr=0.1)
    p = nn.Parameter(np.zeros(1))
    with pytest.raises(ValueError, match="SGD: the same parameter appears twice"):
        optim.SGD([p, p], lr=0.1)


def test_plain_leaf_tensors_that_require_grad_are_accepted():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.5)
    (w * w).sum().backward()
    opt.step()
    np.testing.assert_allclose(w.data, [0.0, 0.0])


# -- training a small network ----------------------------------------------------

class TanhMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(1, 16, seed=0)
        self.out = nn.Linear(16, 1, seed=1)

    def forward(self, x):
        return self.out(self.hidden(x).tanh())


@pytest.mark.parametrize("make_opt", [
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9),
    lambda ps: optim.Adam(ps, lr=0.03),
    lambda ps: optim.Adagrad(ps, lr=0.1),
], ids=["sgd-momentum", "adam", "adagrad"])
def test_an_mlp_learns_sine_with_each_optimizer(make_opt):
    x = np.linspace(-3, 3, 64)[:, None]
    y = np.sin(x)  # predicting the mean instead would leave a loss of about 0.45
    model = TanhMLP()
    opt = make_opt(model.parameters())
    losses = []
    for _ in range(400):
        opt.zero_grad()
        loss = mg.mse(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.03
    assert losses[-1] < losses[0] / 50
