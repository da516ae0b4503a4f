"""Every differentiable op, one module per family; each op is a small class."""

from .arithmetic import add, div, mul, neg, pow, sub
from .base import Function, unbroadcast
from .elementwise import exp, log, relu, sigmoid, tanh
from .graph import scale_grad, stop_gradient
from .linalg import matmul, matvec
from .loss import cross_entropy, log_softmax, mse, softmax
from .reduce import max, mean, sum
from .shape import concat, getitem, reshape, stack, take_rows, transpose

__all__ = [
    "Function", "unbroadcast",
    "add", "sub", "mul", "div", "neg", "pow", "matmul", "matvec",
    "exp", "log", "tanh", "sigmoid", "relu",
    "sum", "mean", "max",
    "reshape", "transpose", "getitem", "take_rows", "concat", "stack",
    "softmax", "log_softmax", "cross_entropy", "mse",
    "stop_gradient", "scale_grad",
]
