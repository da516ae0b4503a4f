"""What runs next to your backward.py when it is graded (and when you run pytest here).

The tests cannot hand your op classes to the engine across processes, so
``backward`` below does it where your code runs: it applies your op to
tensors made from the arrays it is given, calls your backward with the
upstream gradient the test chose, and returns what it got, as arrays.  The
tests compare that with the engine's gradients and with finite differences.

While a task is graded, the engine's own answer to it is switched off
(``SWITCHED_OFF``): calling it raises ``SwitchedOff``.  The tape's backward
and forward mode are off for every task, since your backward must compute
its gradient, not ask the engine for it.  While task 1.2 is graded, your
``unbroadcast`` is the engine's (``USE_ENGINE``), so task 1.2 does not depend
on task 1.1.
"""

import numpy as np

import minigrad as mg

NEEDS_ENGINE = True
WARM_UP = ("ops",)  # the compiled kernels the worker loads before it starts (sandbox/warmup.py)
AUTODIFF = ("minigrad.tape:Tape.backward", "minigrad.tensor:Tensor.backward", "minigrad.forward_mode:jvp")
SWITCHED_OFF = {
    "task1_1": ("minigrad.ops.base:unbroadcast", *AUTODIFF),
    "task1_2": ("minigrad.ops.arithmetic:Add.backward", "minigrad.ops.arithmetic:Mul.backward", *AUTODIFF),
    "task1_3": ("minigrad.ops.elementwise:Exp.backward", "minigrad.ops.elementwise:Tanh.backward",
                "minigrad.kernels.activations:activation_backward", *AUTODIFF),
    "task1_4": ("minigrad.ops.linalg:MatMul.backward", "minigrad.ops.linalg:MatVec.backward", *AUTODIFF),
    "task1_5": ("minigrad.ops.reduce:Sum.backward", "minigrad.ops.reduce:Mean.backward", *AUTODIFF),
    "task1_6": ("minigrad.ops.loss:CrossEntropy.backward", "minigrad.ops.loss:LogSoftmax.backward",
                "minigrad.ops.loss:Softmax.backward", "minigrad.kernels.losses:softmax_cross_entropy_backward",
                *AUTODIFF),
}
USE_ENGINE = {"task1_2": {"unbroadcast": "minigrad.ops.base:unbroadcast"}}


def backward(module, op, arrays, grad, params=None):
    """Apply your ``op`` (a class of backward.py) to tensors of ``arrays``, then call its backward with ``grad``.

    Returns {"output": the forward's value, "grads": what backward returned
    (a list when it returned a tuple or a list, else as it came),
    "returned": the name of its type}.
    """
    cls = getattr(module, op)
    tensors = [mg.tensor(np.asarray(a, dtype=float), requires_grad=True) for a in arrays]
    out = cls.apply(*tensors, **(params or {}))
    returned = cls.backward(out.node, np.asarray(grad, dtype=float))
    grads = list(returned) if isinstance(returned, (tuple, list)) else returned
    return {"output": out.data, "grads": grads, "returned": type(returned).__name__}
