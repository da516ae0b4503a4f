"""Compile the engine's numba kernels once, into the runtime's cache, before any worker needs them.

Run by ``runtime`` (as the grader, never with a student's code) inside the
runtime, with NUMBA_CACHE_DIR pointing at the cache the workers start from:
each worker then loads compiled kernels instead of spending seconds compiling
them.  It exercises what the assignments' tests run in the worker: the Elman
cell with every activation, one sequence and batches, under every BPTT
strategy; the LSTM and GRU, fused and op by op; the engine's ops one by one.
A kernel signature missed here is compiled by the worker that needs it.
"""

import numpy as np

import minigrad as mg
import rnn

ACTIVATIONS = ("tanh", "sigmoid", "relu", "identity")
SECTIONS = ("elman", "activations", "gated", "ops")
STRATEGIES = (rnn.Full(), rnn.TBPTT(2, 4), rnn.Chunked(3), rnn.Randomized(0.5, seed=0))


def data(T, batch, n_in, n_out, seed=0):
    rng = np.random.default_rng(seed)
    lead = (T,) if batch is None else (T, batch)
    return rng.standard_normal(lead + (n_in,)), rng.standard_normal(lead + (n_out,))


def main(sections=None):
    """Run the sections named (all by default): "elman" (tanh and identity, the cell of the assignments),
    "activations" (the Elman cell with every other activation), "gated" (LSTM, GRU and the LSTM kernels by
    hand), "ops" (the engine's ops one by one).  A zygote loads only what its assignment uses
    (probes.WARM_UP); the runtime's cache holds them all."""
    sections = set(sections or SECTIONS)
    if "elman" in sections:
        elman([("tanh", "identity")])
    if "activations" in sections:
        elman([(f, "identity") for f in ACTIVATIONS if f != "tanh"] + [("tanh", g) for g in ACTIVATIONS
                                                                         if g != "identity"])
    if "gated" in sections:
        gated()
    if "ops" in sections:
        ops()


def elman(pairs):
    for f, g in pairs:  # each activation as f and as g (a kernel is specialised per activation)
        for batch in (None, 2):
            model = rnn.ElmanRNN(3, 4, 2, f=f, g=g, seed=0)
            xs, ys = data(6, batch, 3, 2)
            for strategy in STRATEGIES if (f, g) == ("tanh", "identity") else STRATEGIES[:2]:
                rnn.gradients(model, xs, ys, strategy)
            with mg.Tape():  # step by step, as a hand-written loop does
                h = model.initial_state(batch)
                total = None
                for x, y in zip(xs, ys):
                    h, y_hat = model.step(x, h)
                    loss = mg.mse(y_hat, y, reduction="sum") * 0.5
                    total = loss if total is None else total + loss
                total.backward()


def gated():
    for cell in (rnn.LSTM, rnn.GRU):
        for fused in (True, False):
            for batch in (None, 2):
                model = cell(3, 4, 2, seed=0, fused=fused)
                xs, ys = data(5, batch, 3, 2)
                for strategy in STRATEGIES[:2]:
                    rnn.gradients(model, xs, ys, strategy)
    lstm_by_hand()


def ops():
    a = mg.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    b = mg.tensor(np.random.default_rng(1).standard_normal((3, 5)), requires_grad=True)
    for op in (mg.exp, mg.tanh, mg.sigmoid, mg.relu, mg.log_softmax, mg.softmax):
        op(a).sum().backward()
    (a @ b).sum().backward()
    (a * a + a).sum(axis=(0, 1)).backward()
    mg.cross_entropy(a, np.array([0, 2, 1, 2])).backward()
    mg.mse(a, a * 2.0).backward()
    mg.gradcheck(lambda x: mg.tanh(x).sum(), [mg.tensor(np.ones(3), requires_grad=True)])


def lstm_by_hand():
    """The LSTM kernels called as assignment 5 calls them: on (rows, 4n) pre-activations, c_prev writable
    or a read-only broadcast view (one sequence), and backward from [h | c] split into column slices."""
    from minigrad.kernels.gates import lstm_backward, lstm_forward

    rng = np.random.default_rng(0)
    for rows, n, read_only in ((1, 2, False), (1, 2, True), (3, 2, False), (3, 2, True)):
        pre, c_prev = rng.standard_normal((rows, 4 * n)), rng.standard_normal((rows, n))
        if read_only:
            c_prev = np.broadcast_to(c_prev, c_prev.shape)
        gates, hc = np.empty_like(pre), np.empty((rows, 2 * n))
        lstm_forward(pre, c_prev, gates, hc)
        c = hc[:, n:]
        h = gates[:, 3 * n:] * np.tanh(c)
        grad = np.ascontiguousarray(np.concatenate([rng.standard_normal((rows, n))] * 2, axis=1))
        dpre, dc_prev = np.empty_like(gates), np.empty_like(c)
        lstm_backward(grad, np.ascontiguousarray(gates), np.ascontiguousarray(np.concatenate([h, c], axis=1)),
                      np.ascontiguousarray(c_prev), dpre, dc_prev)
        lstm_backward(grad, gates, hc, c_prev, dpre, dc_prev)


if __name__ == "__main__":
    main()
