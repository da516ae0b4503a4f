"""PyTorch versions of the training step, for scale: an eager loop and ``torch.nn.RNN``.

Imported only when torch is installed (it is never a dependency of minigrad).
Both use float32, the same initial weights and data as every other
implementation, and torch's default number of threads unless ``--torch-threads``
says otherwise (the number is reported in RESULTS.md).

* eager loop: the textbook loop written with torch tensors, one autograd node
  per op, backward by ``loss.backward()``;
* nn.RNN: the recurrence as one ``torch.nn.RNN`` layer (tanh, no bias; its
  weight_hh is A and weight_ih is B), then the logits of all steps as one
  product with C, as a PyTorch user would write it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class TorchTrainer:
    """Training steps of torch parameters {"A", "B", "C"} under a loss function of them, by plain SGD."""

    def __init__(self, params: dict, loss_fn, lr: float):
        self.params = params
        self.loss_fn = loss_fn
        self.lr = lr

    def _backward(self) -> None:
        for p in self.params.values():
            p.grad = None
        self.loss_fn().backward()

    def gradients(self) -> dict:
        """dL/dA, dL/dB, dL/dC at the current weights, as numpy arrays (the weights do not change)."""
        self._backward()
        return {name: p.grad.detach().numpy().copy() for name, p in self.params.items()}

    def step(self) -> None:
        """Forward, full BPTT by autograd, and the SGD update."""
        self._backward()
        with torch.no_grad():
            for p in self.params.values():
                p -= self.lr * p.grad


def _weight(problem, name: str) -> torch.Tensor:
    return torch.tensor(problem.weights[name], requires_grad=True)


def eager_loop(problem) -> TorchTrainer:
    """h_t = tanh(h_{t-1} A^T + x_t B^T) and the step's cross-entropy, one time step at a time."""
    params = {name: _weight(problem, name) for name in ("A", "B", "C")}
    xs, ys = torch.from_numpy(problem.xs), torch.from_numpy(problem.ys)
    T, batch, _ = problem.xs.shape

    def loss_fn():
        """The summed loss, recorded by autograd step by step."""
        A, B, C = params["A"], params["B"], params["C"]
        h = torch.zeros(batch, A.shape[0], dtype=A.dtype)
        loss = 0.0
        for t in range(T):
            h = torch.tanh(h @ A.T + xs[t] @ B.T)
            loss = loss + F.cross_entropy(h @ C.T, ys[t], reduction="sum")
        return loss

    return TorchTrainer(params, loss_fn, problem.lr)


def nn_rnn(problem) -> TorchTrainer:
    """``torch.nn.RNN`` over the whole sequence, then all logits as one product with C."""
    vocab, hidden = problem.config.vocab, problem.config.hidden
    layer = torch.nn.RNN(vocab, hidden, nonlinearity="tanh", bias=False)
    with torch.no_grad():
        layer.weight_hh_l0.copy_(torch.from_numpy(problem.weights["A"]))
        layer.weight_ih_l0.copy_(torch.from_numpy(problem.weights["B"]))
    params = {"A": layer.weight_hh_l0, "B": layer.weight_ih_l0, "C": _weight(problem, "C")}
    xs, ys = torch.from_numpy(problem.xs), torch.from_numpy(problem.ys)

    def loss_fn():
        """The summed loss of one nn.RNN call and one product for all logits."""
        states, _ = layer(xs)  # (T, batch, hidden), from h_0 = 0
        logits = states @ params["C"].T
        return F.cross_entropy(logits.reshape(-1, vocab), ys.reshape(-1), reduction="sum")

    return TorchTrainer(params, loss_fn, problem.lr)


def threads(requested: int | None = None) -> int:
    """Set torch's intra-op threads to ``requested`` (None: leave its default); return the number in use."""
    if requested is not None:
        torch.set_num_threads(requested)
    return torch.get_num_threads()
