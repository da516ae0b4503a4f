"""One driver for every BPTT strategy: unroll a cell on the tape and execute a Plan.

The driver splits 1..T into stretches that end at every update and every
reach point (``segments``), and for each stretch

1. runs the cell over its steps (``advance``): a cell with a ``scan`` (the fused
   Elman RNN, LSTM and GRU) records the stretch as one segment node with the plan's edge
   factors inside, tagged ``steps=(first, last)``; any other cell steps
   (``steps``, the one step loop that ``unroll`` shares), editing each
   recurrent edge h_{t-1} -> h_t as the plan says (nothing for factor 1, a
   stop-gradient node for 0, a scale-gradient node otherwise) and tagging
   each node ``step=t``;
2. adds the stretch's losses to the running sum of the current update;
3. at an update point: cuts the tape at h_reach (older nodes are released and
   h_reach becomes a constant leaf, so gradient stops there), backpropagates the
   update's losses, hands the gradient over, and remembers to cut, before the
   next stretch, everything no later update needs.

So memory is bounded by the longest window, not by T.  ``Checkpointed`` plans
run a different executor: a no-grad forward that stores every segment-th
state, then one recomputed segment at a time from the last one back.

Losses are summed over time and batch: mse is 1/2 sum_t ||y_hat_t - y_t||^2
(NaN targets skipped); ce is sum_t -log softmax(y_hat_t)[y_t] (targets -1
skipped); or any callable ``loss(y_hat_t, y_t) -> scalar Tensor``.  With
``reduction="mean"`` each update's loss is divided by the number of targets it
covers (non-skipped entries; for a callable loss, one per sequence and step),
so a learning rate tuned on a mean loss (D2L's recipes) carries over.
"""

from __future__ import annotations

import inspect
import itertools
import math
from dataclasses import dataclass, field

import numpy as np

import minigrad as mg
from minigrad.errors import DivergenceError
from minigrad.ops.base import out_of_range
from minigrad.tensor import Tensor
from minigrad.threads import blas_threads, threads_for

from .cells import holds_indices
from .states import map_state, newest, parts
from .truncation import CUT, PASS, Plan, Strategy

HIDDEN_MODES = ("carry", "reset")
REDUCTIONS = ("sum", "mean")


@dataclass
class Result:
    """What one run of the driver produced."""

    plan: Plan
    losses: list = field(default_factory=list)  # per update: the sum of its losses
    final_state: object = None
    peak_nodes: int = 0  # the most live tape nodes at any backward
    peak_bytes: int = 0  # the most bytes held for backward (tape + stored checkpoints)


# -- losses ----------------------------------------------------------------
def step_loss(kind, y_hat, y):
    """The loss of one step, summed over the batch."""
    if callable(kind):
        return kind(y_hat, y)
    if kind == "mse":
        return mg.mse(y_hat, y, reduction="sum") * 0.5
    if kind == "ce":
        return mg.cross_entropy(y_hat, y, reduction="sum")
    raise ValueError(f"loss must be 'mse', 'ce' or a callable (y_hat, y) -> Tensor, got {kind!r}")


def edit_edge(state, factor: float):
    """Apply the plan's factor to the recurrent edge: pass, stop_gradient or scale_grad."""
    if factor == PASS:
        return state
    if factor == CUT:
        return map_state(mg.stop_gradient, state)
    return map_state(lambda s: mg.scale_grad(s, factor), state)


# -- checks ------------------------------------------------------------------
def _check_cell(model) -> None:
    if not all(hasattr(model, name) for name in ("step", "initial_state", "parameters")):
        raise TypeError(
            f"{type(model).__name__} is not a cell: it needs initial_state(batch) and step(x_t, h) -> (h, y_hat) "
            "(and parameters(), as every minigrad.nn.Module has)"
        )


def _check_inputs(model, xs, ys, loss, h0=None, strategy=None, h0_leaf=True):
    """Check the cell, the strategy, xs, ys and h0 before anything runs; return xs and ys as arrays.

    ``h0_leaf``: the driver cuts the tape at h0, so ``run`` needs a leaf
    (``unroll``, which never cuts, takes any h0).
    """
    _check_cell(model)
    if strategy is not None:
        _check_strategy(strategy)
    xs, ys = _as_numbers("xs", xs), _as_numbers("ys", ys)
    if xs.ndim < 1 or len(xs) == 0:
        raise ValueError(f"xs must have a time axis first, (T, n_in) or (T, batch, n_in), got shape {xs.shape}")
    if ys.ndim < 1:
        raise ValueError(f"ys must have a time axis first, as xs (T={len(xs)}) has, got shape {ys.shape}")
    if len(ys) != len(xs):
        raise ValueError(f"xs and ys must have the same number of steps, got T={len(xs)} and {len(ys)}")
    n_in = getattr(model, "n_in", None)
    if holds_indices(xs):
        if not getattr(model, "takes_indices", False):
            raise ValueError(
                f"xs holds integers (token indices), which {type(model).__name__} does not take: pass feature "
                "vectors, xs of shape (T, n_in) or (T, batch, n_in) as floats (ElmanRNN and LinearRNN take indices)"
            )
        if n_in is not None and xs.ndim > 2:
            raise ValueError(f"xs holds token indices, so it must have shape (T,) or (T, batch), got {xs.shape}")
        if n_in is not None and out_of_range(xs, 0, n_in) is not None:
            raise ValueError(f"xs holds token indices, which must lie in [0, n_in) = [0, {n_in}); "
                             f"got values from {xs.min()} to {xs.max()}")
    elif n_in is not None and (xs.ndim < 2 or xs.shape[-1] != n_in):
        raise ValueError(f"xs must have {n_in} input features in its last axis, got shape {xs.shape}")
    elif n_in is not None and xs.ndim > 3:
        raise ValueError(f"xs must have shape (T, n_in) or (T, batch, n_in) with n_in = {n_in}, "
                         f"got shape {xs.shape} (rank {xs.ndim})")
    if loss == "ce" and ys.dtype.kind not in "iu":
        raise ValueError(f"loss='ce' needs integer class targets ys, got dtype {ys.dtype}")
    if h0 is not None:
        _check_h0(model, h0, batch_of(xs), leaf=h0_leaf)
    return xs, ys


def _as_numbers(name: str, values) -> np.ndarray:
    """``values`` (an array, a Tensor or nested lists) as an array of numbers, or a ValueError/TypeError naming it."""
    try:
        array = np.asarray(values.data if isinstance(values, Tensor) else values)
    except ValueError:
        raise ValueError(f"{name} is ragged (its rows have different lengths); pass a rectangular array") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers (float features, integer indices or targets), "
                        f"got dtype {array.dtype}" + (f", e.g. {array.flat[0]!r}" if array.size else ""))
    return array


def _check_strategy(strategy) -> None:
    """A Strategy instance (or a Plan, for ``unroll``); a spec string or a class gets a pointer to the fix."""
    if isinstance(strategy, (Strategy, Plan)):
        return
    if isinstance(strategy, str):
        raise TypeError(f"strategy must be a Strategy object, got the string {strategy!r}; "
                        f"turn a spec into one with rnn.parse_strategy({strategy!r})")
    if isinstance(strategy, type) and issubclass(strategy, Strategy):
        required = [p for p in inspect.signature(strategy).parameters.values() if p.default is p.empty]
        raise TypeError(f"strategy must be a Strategy object, got the class {strategy.__name__}; "
                        f"write {strategy.__name__}({'...' if required else ''}) (an instance), "
                        "or use rnn.parse_strategy with a spec")
    if not callable(getattr(strategy, "plan", None)):
        raise TypeError(f"strategy must be a Strategy (rnn.Full(), rnn.TBPTT(k1, k2), ... or "
                        f"rnn.parse_strategy('tbptt:4,16')), got {strategy!r} of type {type(strategy).__name__}")


def _check_h0(model, h0, batch, leaf: bool = True) -> None:
    """h0 must have the structure and shapes of ``model.initial_state(batch)``; for the driver, it must be a leaf."""
    try:
        with mg.no_grad():  # only its shapes are wanted: nothing goes on a tape
            expected = model.initial_state(batch)
    except Exception:  # noqa: BLE001 - a cell whose initial_state is unfinished (an assignment's task) or unusual
        expected = None
    if expected is None:
        return _check_h0_leaf(h0) if leaf else None
    want, got = parts(expected), parts(h0)
    if isinstance(expected, tuple) != isinstance(h0, tuple) or len(want) != len(got):
        raise ValueError(f"h0 must be {_structure(expected)} like {type(model).__name__}.initial_state({batch}), "
                         f"got {_structure(h0)}")
    for i, (w, g) in enumerate(zip(want, got)):
        name = f"h0[{i}]" if isinstance(h0, tuple) else "h0"
        if not isinstance(g, (Tensor, np.ndarray)):
            raise TypeError(f"{name} must be a Tensor, got {type(g).__name__}")
        if np.shape(g) != np.shape(w):
            for_batch = "one sequence (xs without a batch axis)" if batch is None else f"batch {batch}"
            raise ValueError(f"{name} must have shape {np.shape(w)} for {for_batch} and n_hidden "
                             f"{np.shape(w)[-1]}, got {np.shape(g)}")
    if leaf:
        _check_h0_leaf(h0)


def _check_h0_leaf(h0) -> None:
    for i, g in enumerate(parts(h0)):
        name = f"h0[{i}]" if isinstance(h0, tuple) else "h0"
        if isinstance(g, Tensor) and not g.is_leaf:
            raise ValueError(
                f"{name} has a recorded history (it is the output of op '{g.node.op}'), but the driver cuts the "
                f"tape at h0, so it must be a leaf: pass {name}.detach() (no gradient into its history) or a "
                "tensor made with requires_grad=True (a learned initial state)")


def _structure(state) -> str:
    if isinstance(state, tuple):
        return f"a tuple of {len(state)} tensors of shapes {', '.join(str(np.shape(s)) for s in state)}"
    return f"one tensor of shape {np.shape(state)}"


def _check_optimizer(optimizer) -> None:
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(f"fit needs an optimizer with a step() method, such as "
                        f"minigrad.optim.Adam(model.parameters(), lr=0.01); got {optimizer!r}")


def batch_of(xs: np.ndarray):
    """The batch size, or None for one sequence: features (T, [batch,] n_in) or indices (T, [batch])."""
    batched_ndim = 2 if holds_indices(xs) else 3
    return xs.shape[1] if xs.ndim >= batched_ndim else None


# -- the driver ----------------------------------------------------------------
def segments(plan: Plan) -> list[tuple[int, int]]:
    """The stretches (first, last) of steps between the points where the driver must stop:
    every update and every reach (a state that will become a cut point)."""
    stops = sorted({0, plan.T} | {u.t for u in plan.updates} | {u.reach for u in plan.updates})
    return [(a + 1, b) for a, b in itertools.pairwise(stops)]


def steps(model, xs, ys, h, first: int, last: int, plan: Plan, loss):
    """Step the cell through steps first..last (1-based) from state h, one step at a time.

    Yields (t, h_t, y_hat_t, l_t) after each step.  The edge into step t is
    edited as the plan says, and every node of step t is tagged ``step=t``.
    """
    for t in range(first, last + 1):
        with mg.tags(step=t):
            h = edit_edge(h, plan.edges[t])
            h, y_hat = model.step(xs[t - 1], h)
            l_t = step_loss(loss, y_hat, ys[t - 1])
        yield t, h, y_hat, l_t


def advance(model, xs, ys, h, first: int, last: int, plan: Plan, loss):
    """Run steps first..last (1-based) from state h; return (h_last, the sum of their losses).

    A cell with a ``scan`` runs the stretch as one segment (the plan's edge
    factors inside its node, tagged ``steps=(first, last)``); a callable loss
    is then applied to each step's slice of the outputs.  Any other cell steps
    (``steps``).
    """
    scan = getattr(model, "scan", None)
    if scan is not None:
        with mg.tags(steps=(first, last)):
            states, outputs = scan(xs[first - 1:last], h, plan.edges[first:last + 1])
            h_last = map_state(lambda s: s[-1], states)  # each part of a tuple state (the LSTM's h and c)
            if callable(loss):
                return h_last, _sum([step_loss(loss, outputs[i], ys[first - 1 + i])
                                     for i in range(last - first + 1)])
            return h_last, step_loss(loss, outputs, ys[first - 1:last])
    total = None
    for _, h, _, l_t in steps(model, xs, ys, h, first, last, plan, loss):
        total = l_t if total is None else total + l_t
    return h, total


def _sum(terms):
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def targets_per_step(ys: np.ndarray, loss) -> np.ndarray:
    """How many targets each step's loss counts: (T,) integers (see the module docstring)."""
    if loss == "ce":
        return (ys >= 0).reshape(len(ys), -1).sum(axis=1)
    if loss == "mse":
        return (~np.isnan(ys)).reshape(len(ys), -1).sum(axis=1)
    return np.full(len(ys), int(np.prod(ys.shape[1:-1])) if ys.ndim > 2 else 1)


def update_scales(plan: Plan, ys: np.ndarray, loss, reduction: str) -> list[float]:
    """The factor each update's loss is multiplied by: 1 for "sum", 1/(its targets) for "mean"."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if reduction == "sum":
        return [1.0] * len(plan.updates)
    counts = np.concatenate([[0], np.cumsum(targets_per_step(ys, loss))])
    return [1.0 / max(int(counts[u.t] - counts[u.first - 1]), 1) for u in plan.updates]


def run(model, xs, ys, strategy: Strategy, loss="mse", h0=None, on_update=None, hidden="carry",
        on_backward=None, reduction="sum") -> Result:
    """Unroll ``model`` over (xs, ys) under ``strategy``; call ``on_update(update, loss_value)``
    at every update point while each parameter's ``.grad`` holds that update's gradient.

    ``on_backward(update, tape)`` runs just before each update's backward, while
    the tape holds exactly the graph that backward will walk (``rnn.viz.as_run`` draws it).

    ``hidden``: what happens to the state after an update.  "carry" keeps it
    (the strategy decides whether gradient crosses); "reset" restarts from h0,
    so every update window is an independent sequence.  ``reduction``: "sum"
    (the default) or "mean" over each update's targets.
    """
    if hidden not in HIDDEN_MODES:
        raise ValueError(f"hidden must be one of {HIDDEN_MODES}, got {hidden!r}")
    xs, ys = _check_inputs(model, xs, ys, loss, h0=h0, strategy=strategy)
    with blas_threads(threads_for(largest_product(model, xs))):
        return _execute(model, xs, ys, strategy, loss, h0, on_update, hidden, on_backward, reduction)


def largest_product(model, xs) -> float:
    """FLOPs of the largest product one step makes: all rows of the batch times the largest weight matrix."""
    rows = math.prod(xs.shape[1:] if holds_indices(xs) else xs.shape[1:-1])  # 1 for one sequence
    return 2.0 * rows * max((p.data.size for p in model.parameters() if p.data.ndim == 2), default=0)


def _execute(model, xs, ys, strategy, loss, h0, on_update, hidden, on_backward, reduction) -> Result:
    """``run`` after its checks, under its BLAS thread limit."""
    plan = strategy.plan(len(xs))
    scales = update_scales(plan, ys, loss, reduction)
    run_online = getattr(strategy, "run_online", None)
    if run_online is not None:  # RTRL, UORO, SnAp (rnn.online): influence carried forward, no window
        if hidden != "carry":
            raise ValueError(f"{strategy!r} carries its influence across updates, so hidden='reset' has no meaning for it")
        return run_online(model, xs, ys, plan, loss, h0, on_update, scales)
    if plan.checkpoint:
        if hidden != "carry":
            raise ValueError("Checkpointed makes a single update, so hidden='reset' has no meaning for it")
        return _run_checkpointed(model, xs, ys, plan, loss, h0, on_update, scales[0])
    params = model.parameters()
    fresh = (lambda: model.initial_state(batch_of(xs))) if h0 is None else (lambda: h0)
    result = Result(plan)
    # The plan decides what the tape keeps: TBPTT(1, k2)'s window grows for k2 updates
    # on purpose, so the tape's guess that a state was left attached does not apply.
    with mg.Tape(watch_growth=False) as tape:
        h = fresh()
        states = {0: h}  # the state after each stretch that may still become a cut point
        pending_cut = None
        total = None
        next_update = 0
        for first, last in segments(plan):
            if pending_cut is not None:
                _cut_at(tape, states, pending_cut)
                pending_cut = None
            h, segment_loss = advance(model, xs, ys, h, first, last, plan, loss)
            total = segment_loss if total is None else total + segment_loss
            states[last] = h
            update = plan.updates[next_update]
            if update.t != last:
                continue
            _cut_at(tape, states, update.reach)
            result.peak_nodes = max(result.peak_nodes, tape.live_nodes)
            result.peak_bytes = max(result.peak_bytes, tape.saved_bytes())
            for p in params:
                p.grad = None
            if scales[next_update] != 1.0:
                total = total * scales[next_update]
            if on_backward is not None:
                on_backward(update, tape)
            if total.requires_grad:
                total.backward(retain_graph=True)
            _fill_missing_grads(params)
            result.losses.append(total.item())
            if on_update is not None:
                on_update(update, total.item())
            total = None
            pending_cut = plan.keep_from(next_update)
            next_update += 1
            if hidden == "reset" and next_update < len(plan.updates):
                h = fresh()
                states = {last: h}
    # The graph goes when this function returns: nothing outside holds a recorded tensor.
    result.final_state = map_state(lambda s: s.detach(), h)
    return result


def _cut_at(tape, states: dict, step: int) -> None:
    """Make h_step a leaf (release every older node) and forget older states."""
    if step not in states:
        return
    last = newest(states[step])
    if last is not None and not last.node.freed:
        tape.cut(last)
    for s in [s for s in states if s < step]:
        del states[s]


def _fill_missing_grads(params) -> None:
    for p in params:
        if p.grad is None:
            p.grad = np.zeros_like(p.data)


def _run_checkpointed(model, xs, ys, plan: Plan, loss, h0, on_update, scale: float = 1.0) -> Result:
    """Exact full BPTT storing only every ``segment``-th state (Chen et al.'s sqrt(T) memory trick).

    Forward without a tape, keeping h_0, h_s, h_2s, ...  Backward, newest segment
    first: rerun the segment on a fresh tape from its stored (leaf) state, add
    <h_end, dL/dh_end> from the segment after it, backpropagate, and pass
    dL/dh_start on to the segment before.
    """
    segment, T = plan.checkpoint, plan.T
    params = model.parameters()
    result = Result(plan)
    h = model.initial_state(batch_of(xs)) if h0 is None else h0
    stretches = [(first, min(first + segment - 1, T)) for first in range(1, T + 1, segment)]
    checkpoints = {}  # first step of a stretch -> the state before it
    total_loss = 0.0
    with mg.no_grad():
        for first, last in stretches:
            checkpoints[first] = h
            h, stretch_loss = advance(model, xs, ys, h, first, last, plan, loss)
            total_loss += scale * stretch_loss.item()
    final_state = h
    stored_bytes = sum(sum(s.data.nbytes for s in parts(c)) for c in checkpoints.values())
    for p in params:
        p.grad = None
    grad_end = None
    for first, last in reversed(stretches):
        with mg.Tape() as tape:
            h_start = map_state(lambda s: s.detach().requires_grad_(), checkpoints[first])
            h, objective = advance(model, xs, ys, h_start, first, last, plan, loss)
            if scale != 1.0:
                objective = objective * scale
            if grad_end is not None:
                objective = objective + _inner(h, grad_end)
            result.peak_nodes = max(result.peak_nodes, tape.live_nodes)
            result.peak_bytes = max(result.peak_bytes, tape.saved_bytes() + stored_bytes)
            if objective.requires_grad:
                objective.backward()
            grad_end = map_state(lambda s: np.zeros_like(s.data) if s.grad is None else s.grad, h_start)
    _fill_missing_grads(params)
    result.losses.append(total_loss)
    if on_update is not None:
        on_update(plan.updates[0], total_loss)
    result.final_state = final_state
    return result


def _inner(state, grads):
    """<state, grads> summed over every element (tuple states add their parts)."""
    if isinstance(state, tuple):
        total = None
        for s, g in zip(state, grads):
            term = (s * g).sum()
            total = term if total is None else total + term
        return total
    return (state * grads).sum()


@dataclass
class Unrolled:
    """The whole forward graph of a plan, recorded on ``tape`` and not yet backpropagated."""

    tape: object
    plan: Plan
    loss: Tensor  # the sum of every step's loss
    states: list  # h_0 .. h_T
    outputs: list  # y_hat_1 .. y_hat_T
    losses: list  # l_1 .. l_T


def unroll(model, xs, ys, strategy: Strategy | Plan, loss="mse", h0=None) -> Unrolled:
    """Record the forward pass step by step with the plan's edge edits (stop/scale nodes),
    without cuts or updates: the lesson view, one handle per h_t, y_hat_t and l_t.

    For looking at the graph a strategy builds: drawing it, counting its nodes,
    or backpropagating the total loss through it (``unrolled.loss.backward()``).
    It runs the driver's own step loop (``steps``), so each step records the
    nodes training records for a step; a fused cell's step is its scan node
    of length one.  Training scans whole stretches between updates instead:
    ``rnn.viz.as_run`` draws those, as recorded by ``run``.
    """
    xs, ys = _check_inputs(model, xs, ys, loss, h0=h0, strategy=strategy, h0_leaf=False)
    plan = strategy if isinstance(strategy, Plan) else strategy.plan(len(xs))
    tape = mg.Tape()
    with tape:
        h = model.initial_state(batch_of(xs)) if h0 is None else h0
        states, outputs, losses, total = [h], [], [], None
        for _, h, y_hat, l_t in steps(model, xs, ys, h, 1, plan.T, plan, loss):
            total = l_t if total is None else total + l_t
            states.append(h)
            outputs.append(y_hat)
            losses.append(l_t)
    return Unrolled(tape, plan, total, states, outputs, losses)


# -- the public entry points ------------------------------------------------------
def gradients(model, xs, ys, strategy: Strategy, loss="mse", h0=None, hidden="carry",
              reduction="sum") -> list[dict]:
    """One {parameter name: gradient} per update the strategy makes, all at the same parameters."""
    _check_cell(model)
    names = [name for name, _ in model.named_parameters()]
    params = model.parameters()
    collected = []

    def keep(update, loss_value):
        collected.append({name: p.grad.copy() for name, p in zip(names, params)})

    run(model, xs, ys, strategy, loss=loss, h0=h0, on_update=keep, hidden=hidden, reduction=reduction)
    for p in params:
        p.grad = None
    return collected


@dataclass
class History:
    """What ``fit`` did: per-update losses and the step at which each update happened."""

    losses: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    final_state: object = None
    peak_nodes: int = 0
    peak_bytes: int = 0

    def __len__(self) -> int:
        return len(self.losses)


def fit(model, xs, ys, strategy: Strategy, optimizer, loss="mse", h0=None, callback=None,
        hidden="carry", clip=None, reduction="sum") -> History:
    """One pass over the stream (xs, ys): an optimizer step at each of the strategy's updates.

    ``hidden="carry"`` carries the state across updates (the strategy decides
    whether gradient crosses); "reset" restarts each update window from h0.
    Pass ``h0=history.final_state`` to continue a stream in the next call, or
    leave it None to start from ``model.initial_state``.  ``clip`` bounds the
    gradient norm.  With overlapping TBPTT windows, the part of the next window
    recorded before an update is backpropagated with the updated weights (the
    states themselves stay as computed): the usual online approximation.
    ``callback(update_index, update, loss_value)`` runs after each step.
    ``reduction="mean"`` divides each update's loss by its number of targets.

    A non-finite loss or gradient raises ``minigrad.errors.DivergenceError``
    before the optimizer steps, so the weights stay the last finite ones.
    """
    _check_optimizer(optimizer)
    history = History()
    params = model.parameters()

    def step(update, loss_value):
        _check_finite(update, loss_value, params, len(history.losses))
        if clip is not None:
            mg.optim.clip_grad_norm(params, clip)
        optimizer.step()
        history.losses.append(loss_value)
        history.steps.append(update.t)
        if callback is not None:
            callback(len(history.losses) - 1, update, loss_value)

    try:
        result = run(model, xs, ys, strategy, loss=loss, h0=h0, on_update=step, hidden=hidden, reduction=reduction)
    finally:
        for p in params:
            p.grad = None
    history.final_state = result.final_state
    history.peak_nodes, history.peak_bytes = result.peak_nodes, result.peak_bytes
    return history


def _check_finite(update, loss_value: float, params, done: int) -> None:
    """Stop a diverging run before its optimizer step: the loss and every gradient must be finite."""
    bad = None
    if not np.isfinite(loss_value):
        bad = f"the loss is {loss_value}"
    else:
        for p in params:
            # a finite sum means finite entries (one pass, no temporary); an overflowing sum checks them one by one
            if p.grad is not None and not math.isfinite(np.sum(p.grad)) and not np.isfinite(p.grad).all():
                bad = f"the gradient of {p.name or 'a parameter'} is not finite"
                break
    if bad is not None:
        raise DivergenceError(
            f"training diverged at step {update.t} (update {done + 1}): {bad}; the weights are those "
            "before this update. Lower the learning rate or clip the gradient norm (clip=...)")
