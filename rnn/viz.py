"""Drawings of an unrolled RNN: time steps, truncation windows, cuts, and gradient heat.

    u = rnn.unroll(model, xs, ys, rnn.TBPTT(3, 5))
    rnn.viz.compact(u)      # one column per step: x_t, h_t, y_hat_t, l_t
    rnn.viz.ops_view(u)     # every node on the tape, grouped by step
    rnn.viz.heat(u)         # h_t coloured by ||dL/dh_t|| (runs the backward if needed)
    rnn.viz.as_run(model, xs, ys, rnn.TBPTT(3, 5))   # what training records

Two kinds of view.  ``compact``, ``ops_view`` and ``heat`` are the lesson
view: they draw ``rnn.unroll``, which steps through the sequence one step at a
time (for a fused cell, its scan node of length one per step) so that every
h_t, y_hat_t and l_t has a box.  ``as_run`` is the view of what ran: it runs
``rnn.run`` itself and draws, for each update, the nodes on the tape when that
update's backward starts, with each scanned stretch as one node that names its
steps and the plan's edge factors inside it.

Each returns a ``graphviz.Digraph`` (shown inline in Jupyter; ``.source`` is
the DOT text; ``minigrad.viz.render_source`` writes a file).  Time runs left
to right, one cluster ("t = 3") per step.  The strategy's plan is drawn on
top, from the tape the engine recorded:

* the edge h_{t-1} -> h_t is dashed red where the tape has a stop_gradient
  node, and labelled "× c" where it has a scale_grad node;
* a coloured tag "W2" in a step says that update 2's gradient flows through
  that step: its window runs from just after h_reach to its last loss.  TBPTT
  windows overlap, so a step can carry two or more tags;
* an update point is a "update i" box in the step after which it happens,
  saying which losses it uses and how far back it reaches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import graphviz
import numpy as np

from minigrad import viz as mgviz
from minigrad.tensor import Tensor

from .bptt import Unrolled, run
from .states import hidden_of

WINDOW_COLOURS = ("#a6cee3", "#b2df8a", "#fdbf6f", "#cab2d6", "#fb9a99", "#ffff99")
HEAT_RAMP = ("#fcfdbf", "#feb078", "#f1605d", "#b73779", "#721f81", "#2c115f")  # magma, light to dark
NO_GRAD = "#dddddd"


# -- what the tape and the plan say about each step ------------------------------
def edge_edits(unrolled: Unrolled) -> dict:
    """{t: ("cut", n) or ("scale", factor)} for each step whose recurrent edge the tape edited.

    Read from the tape's stop_gradient/scale_grad nodes tagged with the step, so
    the drawing shows what the engine recorded (n counts the nodes: 2 for an LSTM's (h, c)).
    """
    nodes = unrolled.tape.nodes()
    if not nodes:
        raise ValueError("the unrolled graph was released by a backward; draw it first, "
                         "or backpropagate with loss.backward(retain_graph=True)")
    edits = {}
    for node in nodes:
        t = node.tags.get("step")
        if node.op == "stop_gradient":
            edits[t] = ("cut", edits.get(t, ("cut", 0))[1] + 1)
        elif node.op == "scale_grad":
            edits[t] = ("scale", node.meta)
    return edits


def windows(plan) -> dict:
    """{t: [update indices whose gradient window covers step t]}: steps reach+1 .. t of each update."""
    covered = {t: [] for t in range(1, plan.T + 1)}
    for i, u in enumerate(plan.updates):
        for t in range(u.reach + 1, u.t + 1):
            covered[t].append(i)
    return covered


def update_of_loss(plan) -> dict:
    """{t: index of the update whose losses include l_t}."""
    return {t: i for i, u in enumerate(plan.updates) for t in range(u.first, u.t + 1)}


# -- shared drawing pieces -----------------------------------------------------------
def _digraph(title: str) -> graphviz.Digraph:
    return graphviz.Digraph(
        "unrolled",
        graph_attr={"rankdir": "LR", "newrank": "true", "label": title, "labelloc": "t",
                    "fontname": "Helvetica", "fontsize": "16", "nodesep": "0.15", "ranksep": "0.35"},
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"fontname": "Helvetica", "fontsize": "10"},
    )


def _title(unrolled: Unrolled, what: str) -> str:
    plan = unrolled.plan
    title = f"{what}: T = {plan.T}, {len(plan.updates)} update(s), {len(plan.cut_steps())} cut(s), " \
            f"{len(plan.scaled_steps())} scaled edge(s)"
    if plan.carries:
        title += (f"\n{plan.carries} instead of unrolling: training keeps no graph of the past.\n"
                  "Drawn: the dependencies each update's gradient covers (all the way back to h0)")
    return title


def _window_tags(cluster, plan, t: int, covered: dict) -> list[str]:
    """The coloured W<i> tags of the windows covering step t; returns their ids, top first."""
    ids = []
    for i in covered[t]:
        node_id = f"w{i + 1}_{t}"
        cluster.node(node_id, f"W{i + 1}", shape="box", style="filled", fontsize="9", height="0.2",
                     color=WINDOW_COLOURS[i % len(WINDOW_COLOURS)], fillcolor=WINDOW_COLOURS[i % len(WINDOW_COLOURS)])
        ids.append(node_id)
    return ids


def _update_marks(cluster, plan, t: int) -> list[str]:
    """An "update i" box for each update made after step t; returns their ids."""
    ids = []
    for i, u in enumerate(plan.updates):
        if u.t == t:
            colour = WINDOW_COLOURS[i % len(WINDOW_COLOURS)]
            cluster.node(f"u{i + 1}", f"update {i + 1}\nlosses l{u.first}..l{u.t}\nback to h{u.reach}",
                         shape="note", style="filled", fillcolor=colour, fontsize="9")
            ids.append(f"u{i + 1}")
    return ids


def _stack(cluster, ids: list[str]) -> None:
    """Keep ``ids`` (nodes of one rank) in this order from top to bottom, with invisible edges.

    Within a rank of a left-to-right graph, dot puts an edge's head above its tail.
    """
    for above, below in pairwise(ids):
        cluster.edge(below, above, style="invis")


def _recurrent_edge(g, tail: str, head: str, edit) -> None:
    """h_{t-1} -> h_t: plain, dashed red (stop_gradient) or labelled with its factor (scale_grad)."""
    if edit is None:
        g.edge(tail, head, penwidth="2")
    elif edit[0] == "cut":
        g.edge(tail, head, label="stop_gradient", fontcolor="red", **mgviz.CUT_EDGE)
    else:
        g.edge(tail, head, label=f"× {edit[1]:.3g}", color="#1f4e79", fontcolor="#1f4e79", penwidth="2")


# -- the compact view -----------------------------------------------------------------
def compact(unrolled: Unrolled, colour_of_state=None, title: str | None = None) -> graphviz.Digraph:
    """One column per step (x_t at the bottom, then h_t, y_hat_t, l_t), the plan on top.

    ``colour_of_state(t) -> (fill, font colour)`` colours h_t (used by ``heat``).
    """
    plan, edits = unrolled.plan, edge_edits(unrolled)
    covered, owner = windows(plan), update_of_loss(plan)
    g = _digraph(title or _title(unrolled, "Unrolled graph"))
    g.node("h0", "h0", shape="box", style="rounded,filled", fillcolor=(colour_of_state or _plain)(0)[0])
    for t in range(1, plan.T + 1):
        with g.subgraph(name=f"cluster_{t}") as c:
            c.attr(label=f"t = {t}", style="rounded", color="#999999", rank="same")
            fill, font = (colour_of_state or _plain)(t)
            loss_colour = WINDOW_COLOURS[owner[t] % len(WINDOW_COLOURS)]
            c.node(f"l{t}", f"l{t}", shape="box", style="filled", fillcolor=loss_colour, color=loss_colour)
            c.node(f"y{t}", f"ŷ{t}", shape="box", style="rounded")
            c.node(f"h{t}", f"h{t}", shape="box", style="rounded,filled", fillcolor=fill, fontcolor=font,
                   penwidth="2")
            c.node(f"x{t}", f"x{t}", shape="box", style="rounded", color="#777777", fontcolor="#555555")
            tags, marks = _window_tags(c, plan, t, covered), _update_marks(c, plan, t)
            _stack(c, tags + marks + [f"l{t}", f"y{t}", f"h{t}", f"x{t}"])
            c.edge(f"y{t}", f"l{t}")
            c.edge(f"h{t}", f"y{t}")
            c.edge(f"x{t}", f"h{t}")
        _recurrent_edge(g, f"h{t - 1}", f"h{t}", edits.get(t))
    return g


def _plain(t: int) -> tuple[str, str]:
    return "#eef3fb", "black"


# -- the op-level view ------------------------------------------------------------------
def ops_view(unrolled: Unrolled, show_grad: bool = False) -> graphviz.Digraph:
    """Every node on the tape (minigrad.viz's drawing), one column (cluster) per step.

    Inside a step the data flow runs top to bottom, and h_{t-1} flows down into
    step t, so the steps form a staircase from left to right.  Edges that are
    not data flow within the sequence (from the parameters, shared by every
    step; the running sum of the losses) do not shape the layout
    (constraint=false); the clusters' top tags are chained on one rank so the
    steps stay in time order.  A tensor sits with the
    op that made it, a constant leaf (x_t, y_t, h_0) with its first user, an
    untagged node (the running sum of the losses, recorded outside the step)
    with the newest step among its inputs; the parameters, shared by every
    step, sit on top, outside the clusters.
    """
    nodes, tensors = mgviz.collect(unrolled.loss)
    ids, home = mgviz.ids_for(nodes, tensors), _homes(nodes)
    g = _digraph(_title(unrolled, "Tape"))
    g.attr(rankdir="TB", ranksep="0.25")
    shared = [ids[id(t)] for t in tensors if id(t) not in home]
    for tensor in tensors:
        if id(tensor) not in home:
            g.node(ids[id(tensor)], **mgviz.tensor_attrs(tensor, show_grad))
    tops = [_ops_cluster(g, unrolled.plan, t, nodes, tensors, ids, home, show_grad)
            for t in range(1, unrolled.plan.T + 1)]
    _order_columns(g, shared, tops)
    for node in nodes:
        for inp in node.inputs:
            loose = id(inp) not in home or (node.tags.get("step") is None and home[id(inp)] != home[id(node)])
            g.edge(ids[id(inp)], ids[id(node)], **mgviz.input_edge_attrs(node),
                   **({"constraint": "false"} if loose else {}))
        g.edge(ids[id(node)], ids[id(node.output())])
    return g


def _ops_cluster(g, plan, t: int, nodes, tensors, ids: dict, home: dict, show_grad: bool) -> str:
    """Draw step t's cluster: window tags and update marks on top, then its tensors and ops.

    Returns the id of its top node.  Whatever has no edge from inside the step
    (x_t, h_{t-1}'s stop/scale node) hangs from the marks, so the marks stay on top.
    """
    own_tensors = [x for x in tensors if home.get(id(x)) == t]
    own_nodes = [n for n in nodes if home.get(id(n)) == t]
    with g.subgraph(name=f"cluster_{t}") as c:
        c.attr(label=f"t = {t}", style="rounded", color="#999999")
        marks = _window_tags(c, plan, t, windows(plan)) + _update_marks(c, plan, t)
        for above, below in pairwise(marks):
            c.edge(above, below, style="invis")
        for tensor in own_tensors:
            c.node(ids[id(tensor)], **mgviz.tensor_attrs(tensor, show_grad))
        for node in own_nodes:
            c.node(ids[id(node)], **mgviz.op_attrs(node))
    return marks[0]


def _order_columns(g, shared: list[str], anchors: list[str]) -> None:
    """Put the shared parameters first, then the clusters in time order, left to right.

    dot does not order clusters by itself.  With newrank, a rank constraint may
    span clusters: the top node of each cluster goes on one rank with the
    parameters, chained left to right by invisible edges.
    """
    row = shared + anchors
    with g.subgraph(name="time_order") as top:
        top.attr(rank="same")
        for left, right in pairwise(row):
            top.edge(left, right, style="invis")


def _homes(nodes) -> dict:
    """{id(node or tensor): step} for everything drawn inside a step (see ``ops_view``).

    Parameters have no home: they belong to every step.
    """
    home = {}
    for node in nodes:
        t = node.tags.get("step")
        if t is None:
            t = max((home[id(i)] for i in node.inputs if id(i) in home), default=None)
        if t is None:
            continue
        home[id(node)] = home[id(node.output())] = t
        for inp in node.inputs:
            if inp.node is None and not inp.requires_grad:
                home.setdefault(id(inp), t)
    return home


# -- the gradient-heat view ----------------------------------------------------------------
def backpropagate(unrolled: Unrolled) -> None:
    """Backpropagate the total loss, keeping dL/dh_t in each state's ``.grad`` and the graph drawable."""
    for state in unrolled.states:
        hidden_of(state).retain_grad()
    unrolled.loss.backward(retain_graph=True)


def state_grad_norms(unrolled: Unrolled) -> list:
    """||dL/dh_t|| for t = 0..T (None where h_t kept no gradient, as the constant h_0)."""
    return [mgviz.grad_norm(hidden_of(s)) if isinstance(hidden_of(s), Tensor) else None for s in unrolled.states]


def heat(unrolled: Unrolled) -> graphviz.Digraph:
    """The compact view with h_t coloured by log10 ||dL/dh_t|| and a legend.

    Runs ``backpropagate`` first if no state holds a gradient yet.
    """
    norms = state_grad_norms(unrolled)
    if all(n is None for n in norms):
        backpropagate(unrolled)
        norms = state_grad_norms(unrolled)
    logs = [math.log10(n) for n in norms if n]
    low, high = (min(logs), max(logs)) if logs else (0.0, 0.0)

    def colour_of_state(t):
        return _heat_colour(norms[t], low, high)

    g = compact(unrolled, colour_of_state, title=_title(unrolled, "Gradient heat ||dL/dh_t||"))
    g.node("legend", _legend(low, high), shape="plaintext")
    g.edge(f"h{unrolled.plan.T}", "legend", style="invis")  # after the last step, clear of h0
    return g


def _heat_colour(norm, low: float, high: float) -> tuple[str, str]:
    """(fill, font colour) of a gradient norm on the log scale [low, high]."""
    if not norm:
        return NO_GRAD, "black"
    x = 0.0 if high == low else (math.log10(norm) - low) / (high - low)
    i = min(int(x * len(HEAT_RAMP)), len(HEAT_RAMP) - 1)
    return HEAT_RAMP[i], "white" if i >= len(HEAT_RAMP) // 2 else "black"


def _legend(low: float, high: float) -> str:
    """An HTML-like table: one cell per colour, with the range of ||dL/dh_t|| it stands for."""
    edges = np.linspace(low, high, len(HEAT_RAMP) + 1)
    cells = "".join(
        f'<TD BGCOLOR="{colour}"><FONT COLOR="{"white" if i >= len(HEAT_RAMP) // 2 else "black"}">'
        f"{10 ** edges[i]:.1e}</FONT></TD>"
        for i, colour in enumerate(HEAT_RAMP)
    )
    return (f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">'
            f'<TR><TD COLSPAN="{len(HEAT_RAMP)}">||dL/dh_t||, log scale: each colour from the value shown<BR/>(grey: no gradient)</TD></TR>'
            f"<TR>{cells}</TR></TABLE>>")


# -- the view of what ran ------------------------------------------------------------------
@dataclass(frozen=True)
class Recorded:
    """One node on the tape at an update's backward, as plain values (no arrays kept)."""

    seq: int
    op: str
    tags: dict
    inputs: tuple  # seqs of the recorded nodes that made its inputs
    shape: tuple  # its output's shape


def record_run(model, xs, ys, strategy, loss="mse", h0=None) -> tuple:
    """Run the driver and keep, per update, the nodes its backward walks: (plan, [(update, [Recorded])])."""
    snapshots = []

    def keep(update, tape):
        nodes = []
        for node in tape.nodes():
            out = node.output()
            nodes.append(Recorded(node.seq, node.op, dict(node.tags),
                                  tuple(i.node.seq for i in node.inputs if i.node is not None),
                                  () if out is None else out.shape))
        snapshots.append((update, nodes))

    result = run(model, xs, ys, strategy, loss=loss, h0=h0, on_backward=keep)
    return result.plan, snapshots


def as_run(model, xs, ys, strategy, loss="mse", h0=None) -> graphviz.Digraph:
    """What training records: one row per update, holding the nodes its backward walks.

    Each row is the tape at the moment ``rnn.run`` starts that update's
    backward: older nodes were cut off (the strategy's reach), so overlapping
    TBPTT windows show the same stretch in two rows.  A scanned stretch is one
    node labelled with its steps and the plan's factors on the edges into
    them (×1 passes, ×0 cuts, ×c scales); a stepping cell shows its nodes
    tagged with their step.  Parameters and data are left out.
    """
    plan, snapshots = record_run(model, xs, ys, strategy, loss=loss, h0=h0)
    if plan.carries:
        return _online_run(plan)
    g = _digraph(f"What training records: T = {plan.T}, {len(plan.updates)} update(s); "
                 "each row is the tape at one update's backward")
    g.attr(rankdir="LR")
    number = {}  # node seq -> its number in this drawing (seqs are global, so they differ between runs)
    for _, nodes in snapshots:
        for n in nodes:
            number.setdefault(n.seq, len(number) + 1)
    # graphviz stacks clusters bottom-up in LR layouts: add the last update first, so update 1 is on top
    for i, (update, nodes) in reversed(list(enumerate(snapshots))):
        colour = WINDOW_COLOURS[i % len(WINDOW_COLOURS)]
        with g.subgraph(name=f"cluster_update{i + 1}") as c:
            c.attr(label=f"update {i + 1} after step {update.t}: losses l{update.first}..l{update.t}, "
                         f"back to h{update.reach} ({len(nodes)} nodes)",
                   style="rounded,filled", fillcolor="#fafafa", color=colour, penwidth="2")
            present = {n.seq: n for n in nodes}
            for n in nodes:
                c.node(f"u{i}_{number[n.seq]}", _recorded_label(n, plan, present), shape="box", style="rounded,filled",
                       fillcolor=_recorded_fill(n), fontsize="10")
            for n in nodes:
                for source in n.inputs:
                    if source in present:
                        c.edge(f"u{i}_{number[source]}", f"u{i}_{number[n.seq]}")
    return g


def _online_run(plan) -> graphviz.Digraph:
    """An online strategy records no graph for a backward: say so, and what it carries instead."""
    g = _digraph(f"What training records: T = {plan.T}, {len(plan.updates)} update(s)")
    g.node("carried", f"{plan.carries}.\nNo tape is kept between steps: each step's graph is used once "
                      "and freed,\nso there is no backward graph to draw. Updates after steps "
                      f"{', '.join(str(u.t) for u in plan.updates)}.", shape="note", style="filled",
           fillcolor="#fff2cc")
    return g


def _recorded_label(node: Recorded, plan, present: dict) -> str:
    shape = "×".join(map(str, node.shape)) or "scalar"
    if "steps" in node.tags:
        first, last = node.tags["steps"]
        if node.op.endswith("_scan"):
            factors = " ".join(f"×{plan.edges[t]:.3g}" for t in range(first, last + 1))
            return f"{node.op}\nsteps {first}..{last}\nedges {factors}\n{shape}"
        if node.op == "getitem" and any(present[s].op.endswith("_scan") for s in node.inputs if s in present):
            return f"getitem\nh{last}, carried on\n{shape}"
        return f"{node.op}\nsteps {first}..{last}\n{shape}"
    if "step" in node.tags:
        return f"{node.op}\nstep {node.tags['step']}\n{shape}"
    return f"{node.op}\n{shape}"


def _recorded_fill(node: Recorded) -> str:
    if node.op.endswith("_scan") or node.op.endswith("_step"):
        return "#cfe2f3"
    if node.op == "stop_gradient":
        return "#f4cccc"
    if node.op == "scale_grad":
        return "#d9ead3"
    return "#ffffff"


__all__ = ["as_run", "record_run", "Recorded", "backpropagate", "compact", "edge_edits", "heat", "ops_view", "state_grad_norms", "windows"]
