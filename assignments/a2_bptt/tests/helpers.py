"""What the public and hidden tests of assignment 2 share: the engine's run of the same Elman RNN.

The tests import it as ``helpers`` (pytest.ini puts tests/ on the path).
"""

import numpy as np

import rnn

DERIVATIVE = {  # g'(q) written through y_hat = g(q)
    "identity": lambda y: np.ones_like(y),
    "tanh": lambda y: 1.0 - y * y,
    "sigmoid": lambda y: y * (1.0 - y),
    "relu": lambda y: (y > 0).astype(float),
}


def engine_run(n_in=3, n=4, n_out=2, T=6, batch=None, f="tanh", g="identity", seed=0):
    """The engine's forward and backward of the Elman RNN on random data: weights, states and every gradient."""
    model = rnn.ElmanRNN(n_in, n, n_out, f=f, g=g, seed=seed)
    rng = np.random.default_rng(seed + 100)
    lead = (T,) if batch is None else (T, batch)
    xs, ys = rng.standard_normal(lead + (n_in,)), rng.standard_normal(lead + (n_out,))
    unrolled = rnn.unroll(model, xs, ys, rnn.Full())
    for tensor in unrolled.states[1:] + unrolled.outputs:
        tensor.retain_grad()
    unrolled.loss.backward()
    y_hat = np.stack([y.data for y in unrolled.outputs])
    return {
        "A": model.A.data, "B": model.B.data, "C": model.C.data, "xs": xs, "ys": ys, "f": f, "g": g,
        "h": np.stack([s.data for s in unrolled.states]),
        "dh": np.stack([s.grad for s in unrolled.states[1:]]),
        "dq": DERIVATIVE[g](y_hat) * np.stack([y.grad for y in unrolled.outputs]),
        "grads": {name: p.grad.copy() for name, p in model.named_parameters()},
    }
