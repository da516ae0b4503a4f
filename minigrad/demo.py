"""A first look at the engine: record a small recurrence on the tape, walk it back,
check the gradient against finite differences, then truncate it.

Run: ``python -m minigrad.demo``
"""

import numpy as np

import minigrad as mg


def unroll(w, steps, cut_at=None):
    """h_t = tanh(w * h_{t-1} + 1), loss = sum_t h_t; optionally stop gradient at one step."""
    h = mg.tensor(0.5)
    loss = mg.tensor(0.0)
    for t in range(1, steps + 1):
        with mg.tags(step=t):
            if t == cut_at:
                h = mg.stop_gradient(h)
            h = (w * h + 1.0).tanh()
            loss = loss + h
    return loss


def main() -> None:
    w = mg.tensor(0.8, requires_grad=True, name="w")
    with mg.Tape() as tape:
        loss = unroll(w, steps=4)
        print(f"forward: loss = {loss.item():.6f}; the tape holds {tape.live_nodes} nodes:")
        for node in tape:
            print(f"  #{node.seq:<4} {node.op:<14} step {node.tags.get('step')}")
        loss.backward()
    print(f"backward (walking that list in reverse): dL/dw = {w.grad.item():.6f}")
    print("finite differences agree:", mg.gradcheck(lambda w: unroll(w, 4), [w]))

    w.grad = None
    unroll(w, steps=4, cut_at=3).backward()
    print(f"with stop_gradient before step 3 (truncated): dL/dw = {w.grad.item():.6f}")


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
