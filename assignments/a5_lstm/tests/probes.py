"""What runs next to your lstm.py when it is graded (and when you run pytest here).

Your step and your cell cannot travel to the tests, so they run here: ``step``
applies your FusedLSTMStep to arrays the test chose and calls its backward
with the upstream gradient the test chose; ``cell_gradients`` and
``initial_state_grads`` run the engine's driver over your LSTMCell.  The
tests compare the arrays that come back with the engine's.

While a task is graded, the engine's own answer to it is switched off
(``SWITCHED_OFF``): its LSTM backward (the kernel ``lstm_backward``,
``rnn.gated.LSTMStep.backward`` and the segment node's ``rnn.gated_scan.LSTMScan.backward``)
and the tape's backward for task 5.1; for task 5.2 ``LSTMStep.backward``,
``LSTMScan.backward`` and any backward run *inside* a backward (the
driver's own backward still runs your node).  While task 5.2 is graded, your
``gate_backward`` is the engine's kernel (``USE_ENGINE``), so task 5.2 does
not depend on task 5.1.
"""

import harness
import numpy as np

import minigrad as mg
import rnn
from minigrad.kernels.gates import lstm_backward

NEEDS_ENGINE = True
WARM_UP = ("gated", "ops")  # the compiled kernels the worker loads before it starts (sandbox/warmup.py)
SWITCHED_OFF = {
    "task5_1": ("rnn.gated:LSTMStep.backward", "rnn.gated_scan:LSTMScan.backward",
                "minigrad.kernels.gates:lstm_backward", "minigrad.tape:Tape.backward",
                "minigrad.tensor:Tensor.backward", "minigrad.forward_mode:jvp"),
    "task5_2": ("rnn.gated:LSTMStep.backward", "rnn.gated_scan:LSTMScan.backward", "minigrad.forward_mode:jvp",
                ("minigrad.tape:Tape.backward", "probes:no_nested_backward")),
}
USE_ENGINE = {"task5_2": {"gate_backward": "probes:kernel_gate_backward"}}


def kernel_gate_backward(grad_h, grad_c, gates, c, c_prev):
    """The engine's element-wise LSTM backward (its numba kernel), with gate_backward's signature."""
    h = gates[:, 3 * c.shape[1]:] * np.tanh(c)
    grad = np.ascontiguousarray(np.concatenate([grad_h, grad_c], axis=1))
    hc = np.ascontiguousarray(np.concatenate([h, c], axis=1))
    dpre, dc_prev = np.empty_like(gates), np.empty_like(c)
    lstm_backward(grad, np.ascontiguousarray(gates), hc, np.ascontiguousarray(c_prev), dpre, dc_prev)
    return dpre, dc_prev


def no_nested_backward(original, task):
    """The tape's backward, refusing to start while another backward runs (inside a node's backward)."""
    running = []

    def backward(tape, *args, **kwargs):
        if running:
            raise harness.SwitchedOff(
                f"a backward inside a backward: while {task} is graded, FusedLSTMStep.backward must compute its "
                "gradients itself, not ask the engine's tape for them"
            )
        running.append(True)
        try:
            return original(tape, *args, **kwargs)
        finally:
            running.pop()

    return backward


def step(module, inputs, grad):
    """Your FusedLSTMStep applied to tensors of ``inputs`` (W, U, b, h_prev, c_prev, x), and the tape's
    backward from ``grad`` through it (so your backward runs as the engine runs it, and the engine sums a
    broadcast input's gradient back to its shape): {"output", "grads": dL/d(each input)}."""
    tensors = [mg.tensor(np.asarray(a, dtype=float), requires_grad=True) for a in inputs]
    with mg.Tape():
        out = module.FusedLSTMStep.apply(*tensors)
        out.backward(np.asarray(grad, dtype=float))
    return {"output": out.data, "grads": [t.grad for t in tensors]}


def _strategy(spec):
    name, *args = spec
    return getattr(rnn, name)(*args)


def cell_gradients(module, sizes, seed, xs, ys, strategy):
    """``rnn.gradients`` over your LSTMCell(*sizes, seed=seed); ``strategy`` is ("Full",) or ("TBPTT", k1, k2)."""
    updates = rnn.gradients(module.LSTMCell(*sizes, seed=seed), xs, ys, _strategy(strategy))
    return [{str(k): np.asarray(v, dtype=float) for k, v in u.items()} for u in updates]


def initial_state_grads(module, sizes, seed, xs, ys, h0, c0):
    """dL/dh_0 and dL/dc_0 of full BPTT over your LSTMCell, from the initial state (h0, c0)."""
    h0, c0 = (mg.tensor(np.asarray(a, dtype=float), requires_grad=True) for a in (h0, c0))
    rnn.unroll(module.LSTMCell(*sizes, seed=seed), xs, ys, rnn.Full(), h0=(h0, c0)).loss.backward()
    return {"h0": h0.grad, "c0": c0.grad}
