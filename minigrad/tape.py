"""The tape: an ordered list of the nodes that computed each tensor, walked in reverse.

Reverse-mode autodiff needs the nodes of a graph in an order where every node
comes after the nodes that produced its inputs.  The order in which the forward
pass *recorded* them is such an order, so backward needs no topological sort:
it walks the tape from the newest node to the oldest, hands each node the
gradient of its output, and adds what the node returns into the gradients of
its inputs (``+=``: a tensor used twice gets the sum).

Who keeps a node alive?  The tensor it produced (``tensor._node``), and through
the node's inputs, everything upstream.  The tape itself only holds weak
references, so a graph nobody can reach any more is freed at once, as in
PyTorch; the tape still knows the recording order of everything alive and can
count it.  Three ways to release a graph on purpose:

* ``backward(retain_graph=False)`` releases each node it used;
* ``Tape.cut(tensor)`` releases every node recorded up to ``tensor``'s own node,
  which makes ``tensor`` (and every older output) a constant leaf: this is how a
  truncated BPTT run keeps its memory bounded by its window;
* ``no_grad()`` records nothing in the first place.

The tape knows nothing about ops: a node carries the class whose ``backward``
it calls, the arrays that backward needs, and free-form tags (a time step, say).
"""

from __future__ import annotations

import contextlib
import warnings
import weakref

import numpy as np

from .errors import AnomalyError, FreedGraphError

_state = {"grad_enabled": True, "anomaly": False, "tags": {}, "tape": None}
_sequence = [0]


class Node:
    """One recorded op: ``output = fn.forward(*inputs)``; knows how to send gradient back.

    ``saved`` holds the arrays the backward needs (released when the node is
    freed), ``meta`` small non-array values such as an axis, ``tags`` the tags in
    force when it was recorded.
    """

    __slots__ = (
        "fn", "inputs", "saved", "meta", "tags", "seq", "tape", "output",
        "retain", "freed", "entry", "__weakref__",
    )

    def __init__(self, fn, inputs, tape):
        self.fn = fn
        self.inputs = inputs
        self.saved = ()
        self.meta = None
        self.tags = _state["tags"]
        self.seq = _sequence[0] = _sequence[0] + 1
        self.tape = tape
        self.output = None
        self.retain = False
        self.freed = False
        self.entry = None

    @property
    def op(self) -> str:
        """The op's name, as shown in errors and drawings."""
        return self.fn.name

    def save(self, *arrays) -> None:
        """Keep arrays for the backward pass (the node's memory cost)."""
        self.saved = arrays

    @property
    def nbytes(self) -> int:
        """Bytes held by this node's saved arrays."""
        return sum(a.nbytes for a in self.saved if isinstance(a, np.ndarray))

    def release(self) -> None:
        """Drop the saved arrays and the inputs; the node can no longer backpropagate."""
        if self.freed:
            return
        self.freed = True
        self.saved = ()
        self.inputs = ()
        self.entry.released = True
        self.tape._live -= 1

    def __repr__(self) -> str:
        state = "freed" if self.freed else f"{len(self.inputs)} inputs"
        tags = f", tags={self.tags}" if self.tags else ""
        return f"Node(#{self.seq} {self.op}, {state}{tags})"


class _Entry(weakref.ref):
    """A weak reference to a node that remembers whether the node was released."""

    __slots__ = ("seq", "released")


class Tape:
    """The Wengert list: every live node in recording order.

    There is always a current tape (``current_tape()``); ``with Tape() as t:``
    records into a fresh one, which keeps counts clean in tests and lessons.
    """

    #: warn when the live graph grew on this many backward calls in a row
    GROWTH_PATIENCE = 8

    def __init__(self, watch_growth: bool = True):
        """``watch_growth=False`` silences the growing-graph warning, for a caller that
        cuts the tape itself and expects it to grow for a while (the BPTT driver)."""
        self.watch_growth = watch_growth
        self._entries: list[_Entry] = []
        self._live = 0
        self._peak_live = 0
        self._growth = {"start": None, "last": 0, "calls": 0, "warned": False}
        self._outer = None

    # -- recording ---------------------------------------------------------
    def record(self, node: Node) -> None:
        entry = _Entry(node, self._on_dead)
        entry.seq = node.seq
        entry.released = False
        node.entry = entry
        self._entries.append(entry)
        self._live += 1
        if self._live > self._peak_live:
            self._peak_live = self._live
        if len(self._entries) > 2 * self._live + 1024:
            self._entries = [e for e in self._entries if e() is not None]

    def _on_dead(self, entry) -> None:
        # A node that was never released died with its last reference.
        # Released nodes were already subtracted in Node.release.
        if not entry.released:
            self._live -= 1

    # -- introspection -----------------------------------------------------
    def nodes(self):
        """The live (not released) nodes, oldest first."""
        return [n for n in (e() for e in self._entries) if n is not None and not n.freed]

    def __iter__(self):
        return iter(self.nodes())

    def __len__(self) -> int:
        return self._live

    @property
    def live_nodes(self) -> int:
        """How many recorded nodes are still alive and not released."""
        return self._live

    @property
    def peak_live_nodes(self) -> int:
        """The most nodes that were live at once since this tape was made."""
        return self._peak_live

    def saved_bytes(self) -> int:
        """Bytes of the arrays that live nodes saved for backward, each buffer counted once.

        An array and the views into it (``path[1:]``, a reshape) share their
        memory, which counts as the owning array's bytes; a view of memory that
        no node saved (a slice of the caller's data) counts its own bytes.
        """
        owners, views = {}, {}
        for entry in self._entries:
            node = entry()
            if node is None or node.freed:
                continue
            for a in node.saved:
                if not isinstance(a, np.ndarray):
                    continue
                if a.base is None:
                    owners[id(a)] = a.nbytes
                else:
                    views.setdefault(id(a.base), {})[id(a)] = a.nbytes
        return sum(owners.values()) + sum(sum(group.values()) for base, group in views.items() if base not in owners)

    # -- editing -----------------------------------------------------------
    def cut(self, tensor) -> int:
        """Release every node recorded up to ``tensor``'s own; return how many.

        Afterwards ``tensor`` and every older output are constant leaves (their
        data stay, their history is gone), so gradient stops at them and the
        memory of everything before is returned.
        """
        node = tensor._node
        if node is None:
            return 0
        if node.tape is not self:
            raise ValueError("cut: the tensor was recorded on another tape; call cut on its own tape")
        return self._release_upto(node.seq)

    def clear(self) -> int:
        """Release every node on this tape; return how many."""
        return self._release_upto(_sequence[0])

    def _release_upto(self, seq: int) -> int:
        released = 0
        for entry in self._entries:
            if entry.seq > seq:
                break
            node = entry()
            if node is None or node.freed:
                continue
            out = node.output()
            if out is not None:
                out._node = None
                out.requires_grad = False
            node.release()
            released += 1
        self._entries = [e for e in self._entries if e.seq > seq and e() is not None]
        return released

    # -- current tape ------------------------------------------------------
    def __enter__(self) -> "Tape":
        self._outer = _state["tape"]
        _state["tape"] = self
        return self

    def __exit__(self, *exc) -> None:
        _state["tape"] = self._outer
        self._outer = None

    def __repr__(self) -> str:
        return f"Tape({self._live} live nodes, {self.saved_bytes():,} saved bytes)"

    # -- backward ----------------------------------------------------------
    def backward(self, root, grad: np.ndarray, retain_graph: bool = False) -> None:
        """Send ``grad`` (dL/droot) back through every node that led to ``root``."""
        start = root._node
        if start.freed:
            raise FreedGraphError(_freed_message(start))
        pending = {start: grad}
        anomaly = _state["anomaly"]
        for entry in reversed(self._entries):
            if entry.seq > start.seq:
                continue
            node = entry()
            if node is None:
                continue
            g = pending.pop(node, None)
            if g is None:
                continue
            if node.freed:
                raise FreedGraphError(_freed_message(node))
            if node.retain:
                _accumulate_into(node.output(), g)
            input_grads = node.fn.backward_checked(node, g)
            if anomaly:
                _check_backward(node, input_grads)
            for inp, ig in zip(node.inputs, input_grads):
                if ig is None or not inp.requires_grad:
                    continue
                upstream = inp._node
                if upstream is None:
                    _accumulate_into(inp, ig)
                elif upstream in pending:
                    pending[upstream] = pending[upstream] + ig
                else:
                    pending[upstream] = ig
            if not retain_graph:
                node.release()
            if not pending:
                break
        if self.watch_growth:
            self._watch_growth()

    def _watch_growth(self) -> None:
        """Warn once if the live graph keeps growing from one backward to the next.

        That is the signature of a hidden state carried across updates without
        being detached while ``retain_graph=True`` keeps the old graph alive:
        every backward then walks the whole history, and memory grows without bound.
        """
        growth = self._growth
        if self._live > growth["last"]:
            if growth["calls"] == 0:
                growth["start"] = growth["last"]
            growth["calls"] += 1
        else:
            growth["calls"] = 0
        growth["last"] = self._live
        if growth["calls"] >= self.GROWTH_PATIENCE and not growth["warned"] and self._live > 2 * max(growth["start"], 1):
            growth["warned"] = True
            warnings.warn(
                f"the tape grew from {growth['start']:,} to {self._live:,} live nodes over "
                f"{growth['calls']} backward calls: a hidden state is probably still attached "
                "to the graph of earlier updates, so every backward walks the whole history. "
                "Detach it between updates (h = h.detach()) or cut the tape (tape.cut(h)).",
                RuntimeWarning,
                stacklevel=4,
            )


def _freed_message(node: Node) -> str:
    where = f" (tags {node.tags})" if node.tags else ""
    return (
        f"backward reached node #{node.seq} '{node.op}'{where}, whose saved arrays an earlier "
        "backward already released. Pass retain_graph=True to the first backward if you "
        "mean to backpropagate through this graph again; in an RNN loop this usually "
        "means a hidden state was carried into the next update without h = h.detach()."
    )


def _accumulate_into(tensor, grad: np.ndarray) -> None:
    if tensor is None:
        return
    if tensor.grad is None:
        tensor.grad = np.array(grad, dtype=tensor.data.dtype, copy=True)
    else:
        tensor.grad += grad


def _check_backward(node: Node, grads) -> None:
    for i, g in enumerate(grads):
        if g is not None and not np.all(np.isfinite(g)):
            raise AnomalyError(
                f"anomaly: the backward of '{node.op}' (node #{node.seq}, tags {node.tags or {}}) "
                f"produced a non-finite gradient for input {i} of shape {np.shape(g)}"
            )


def current_tape() -> Tape:
    """The tape new nodes are recorded on."""
    if _state["tape"] is None:
        _state["tape"] = Tape()
    return _state["tape"]


def is_grad_enabled() -> bool:
    return _state["grad_enabled"]


@contextlib.contextmanager
def no_grad():
    """Record nothing inside the block (evaluation, parameter updates)."""
    before = _state["grad_enabled"]
    _state["grad_enabled"] = False
    try:
        yield
    finally:
        _state["grad_enabled"] = before


class tags:
    """Attach tags (say ``step=t``) to every node recorded inside the block:
    ``with mg.tags(step=t): ...``.

    A class rather than a ``contextlib.contextmanager`` generator: a BPTT loop
    enters one per time step, and this costs a third as much.
    """

    __slots__ = ("new_tags", "before")

    def __init__(self, **new_tags):
        self.new_tags = new_tags

    def __enter__(self) -> None:
        self.before = _state["tags"]
        _state["tags"] = {**self.before, **self.new_tags}

    def __exit__(self, *exc) -> None:
        _state["tags"] = self.before


@contextlib.contextmanager
def detect_anomaly():
    """Raise AnomalyError at the first op whose output (or gradient) is not finite."""
    before = _state["anomaly"]
    _state["anomaly"] = True
    try:
        yield
    finally:
        _state["anomaly"] = before


def is_anomaly_enabled() -> bool:
    return _state["anomaly"]
