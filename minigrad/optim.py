"""Optimizers (SGD with momentum, Adam, Adagrad) and gradient-norm clipping.

An optimizer holds a list of parameters and, per parameter, a few state
arrays (a velocity, moment estimates, ...).  ``step()`` applies one update,
in place, to every parameter that has a gradient; the update itself is a
numba kernel (``minigrad.kernels.optim``) that walks the flat arrays once.

    opt = optim.Adam(model.parameters(), lr=1e-3)
    for x, y in data:
        opt.zero_grad()
        loss = mg.mse(model(x), y)
        loss.backward()
        opt.step()

State arrays are flat (``param.size`` elements) and in the parameter's
dtype, so a float32 model stays float32.  ``state_dict()`` returns them as
plain arrays named "<parameter index>.<state>" ("0.m", "3.step"), ready for
np.savez next to the model's own state_dict.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .errors import DivergenceError, ShapeError
from .kernels.optim import adagrad_update, adam_update, sgd_update
from .nn import Module, load_arrays_into
from .tensor import Tensor


class Optimizer:
    """Base class: parameter checks, zero_grad, the step loop and state (de)serialisation.

    A subclass defines ``_new_state(param) -> dict`` (the zeroed state of one
    parameter) and ``_update(flat_param, flat_grad, state)`` (one update).
    """

    def __init__(self, params):
        self.params = _checked_params(type(self).__name__, params)
        self.state = [self._new_state(p) for p in self.params]

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient; skip those whose grad is None."""
        for i, p in enumerate(self.params):
            if p.grad is not None:
                self._update(self._flat(i, p), self._flat_grad(i, p), self.state[i])

    def _flat(self, i: int, p: Tensor) -> np.ndarray:
        """A flat view of p.data: the kernel writes through it into the parameter."""
        if not (p.data.flags.c_contiguous and p.data.flags.writeable):
            raise ValueError(
                f"{type(self).__name__}: parameter {i} ({p.name or 'unnamed'}) has non-contiguous or "
                "read-only data, so it cannot be updated in place; assign it a fresh array "
                "(p.data = np.ascontiguousarray(p.data))"
            )
        return p.data.reshape(-1)

    def _flat_grad(self, i: int, p: Tensor) -> np.ndarray:
        """p.grad as a flat contiguous array of p's dtype (the kernel reads it)."""
        if np.shape(p.grad) != p.shape:
            raise ShapeError(
                f"{type(self).__name__}: parameter {i} ({p.name or 'unnamed'}) has shape {p.shape} "
                f"but its grad has shape {np.shape(p.grad)}"
            )
        return np.ascontiguousarray(p.grad, dtype=p.dtype).reshape(-1)

    def _new_state(self, p: Tensor) -> dict[str, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- checkpoints -------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """{"<index>.<name>": a copy of that state array}, for every parameter."""
        return {f"{i}.{name}": array.copy() for i, state in enumerate(self.state) for name, array in state.items()}

    def load_state_dict(self, state) -> None:
        """Copy a ``state_dict()`` back in place (names and shapes must match exactly)."""
        targets = {f"{i}.{name}": array for i, s in enumerate(self.state) for name, array in s.items()}
        load_arrays_into(f"{type(self).__name__}.load_state_dict", targets, state)


class SGD(Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum.

    v = momentum * v + g;  p = p - lr * v.   With momentum 0 this is p = p - lr * g.
    """

    def __init__(self, params, lr: float, momentum: float = 0.0):
        self.lr = _positive("SGD", "lr", lr)
        self.momentum = _fraction("SGD", "momentum", momentum)
        super().__init__(params)

    def _new_state(self, p):
        return {"velocity": np.zeros(p.size, dtype=p.dtype)}

    def _update(self, param, grad, state):
        sgd_update(param, grad, state["velocity"], self.lr, self.momentum)


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015): a step of about lr per coordinate, scaled by gradient history.

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  t = t + 1
    p = p - lr * m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t).
    The bias corrections undo the zero start of m and v: at t = 1 the step is
    lr * g / (|g| + eps), about lr * sign(g).  t counts the updates of each
    parameter (state "step"), so a parameter skipped for lack of a gradient
    keeps its own correct correction.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.lr = _positive("Adam", "lr", lr)
        beta1, beta2 = betas
        self.betas = (_fraction("Adam", "betas[0]", beta1), _fraction("Adam", "betas[1]", beta2))
        self.eps = _positive("Adam", "eps", eps)
        super().__init__(params)

    def _new_state(self, p):
        return {"m": np.zeros(p.size, dtype=p.dtype), "v": np.zeros(p.size, dtype=p.dtype),
                "step": np.zeros((), dtype=np.int64)}

    def _update(self, param, grad, state):
        state["step"] += 1
        adam_update(param, grad, state["m"], state["v"], self.lr, *self.betas, self.eps, int(state["step"]))


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011): per-coordinate steps that shrink with the gradients seen.

    acc = acc + g^2;  p = p - lr * g / (sqrt(acc) + eps).
    """

    def __init__(self, params, lr: float = 1e-2, eps: float = 1e-10):
        self.lr = _positive("Adagrad", "lr", lr)
        self.eps = _positive("Adagrad", "eps", eps)
        super().__init__(params)

    def _new_state(self, p):
        return {"sum_sq": np.zeros(p.size, dtype=p.dtype)}

    def _update(self, param, grad, state):
        adagrad_update(param, grad, state["sum_sq"], self.lr, self.eps)


def clip_grad_norm(params, max_norm: float) -> float:
    """Rescale the gradients so their total L2 norm is at most ``max_norm``; return the norm before.

    The total norm is sqrt(sum over params of sum(g^2)) (parameters whose grad
    is None are skipped), computed without overflow for huge but finite
    gradients.  If it exceeds max_norm, every grad is multiplied in place by
    max_norm / (norm + 1e-6): the direction of the update is kept, only its
    length is capped, which tames exploding gradients in BPTT.

    A gradient holding inf or NaN has no direction to keep: this raises
    ``minigrad.errors.DivergenceError`` naming the parameter, and leaves every
    gradient as it was (scaling would turn inf into NaN and hide where it came from).
    """
    max_norm = _positive("clip_grad_norm", "max_norm", max_norm)
    params = list(params)
    named = [(i, p) for i, p in enumerate(params) if p.grad is not None]
    for i, p in named:
        if not np.all(np.isfinite(p.grad)):
            raise DivergenceError(
                f"clip_grad_norm: the gradient of parameter {i} ({p.name or 'unnamed'}) holds "
                f"{'NaN' if np.any(np.isnan(p.grad)) else 'inf'}, so the norm is not finite; the gradients are "
                "left unchanged. Training has diverged: lower the learning rate (or find the op with mg.detect_anomaly)")
    grads = [p.grad for _, p in named]
    with np.errstate(over="ignore"):
        norm = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads))
    if math.isinf(norm):  # finite gradients whose squares overflow: factor out the largest entry
        largest = max(float(np.max(np.abs(g))) for g in grads if g.size)
        norm = largest * math.sqrt(sum(float(np.sum(np.square(g / largest, dtype=np.float64))) for g in grads))
    if norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for g in grads:
            g *= scale
    return norm


def _checked_params(owner: str, params) -> list[Tensor]:
    """The parameters as a list; each must be a distinct leaf tensor that requires grad."""
    if isinstance(params, (Tensor, Module)):
        raise TypeError(f"{owner}: expected an iterable of parameters, got a {type(params).__name__}; "
                        "pass model.parameters() or a list of tensors")
    params = list(params)
    if not params:
        raise ValueError(f"{owner}: got an empty parameter list, so there is nothing to optimize")
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{owner}: parameter {i} is a {type(p).__name__}, not a Parameter or Tensor")
        if not (p.requires_grad and p.is_leaf):
            raise ValueError(
                f"{owner}: parameter {i} ({p.name or 'unnamed'}, shape {p.shape}) is not a leaf tensor "
                "with requires_grad=True, so it never receives a gradient"
            )
    if len({id(p) for p in params}) != len(params):
        raise ValueError(f"{owner}: the same parameter appears twice in the list; it would be updated twice")
    return params


def _positive(owner: str, name: str, value) -> float:
    if isinstance(value, bool) or not (isinstance(value, numbers.Real) and math.isfinite(value) and value > 0):
        raise ValueError(f"{owner}: {name} must be a finite number > 0, got {value!r}")
    return float(value)


def _fraction(owner: str, name: str, value) -> float:
    if isinstance(value, bool) or not (isinstance(value, numbers.Real) and 0 <= value < 1):
        raise ValueError(f"{owner}: {name} must be in [0, 1), got {value!r}")
    return float(value)
