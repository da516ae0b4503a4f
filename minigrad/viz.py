"""Draw the graph that produced a tensor: the tape, as graphviz sees it.

    import minigrad as mg
    from minigrad import viz
    print(viz.to_dot(loss))                 # DOT source: needs nothing installed
    viz.render(loss, "loss.svg")            # needs graphviz's `dot` program
    viz.draw(loss)                          # a graphviz.Digraph: shows inline in Jupyter

The drawing is generated from the tape, never by hand: starting at
``tensor.node`` it follows each node's inputs back to the leaves.  Tensors are
boxes (name and shape), ops are ellipses (op name), so an edge reads
"tensor -> op -> tensor" as the forward pass ran.  What matters for
backpropagation stands out:

* parameters (leaves that require grad) are filled gold: gradient ends there;
* a stop_gradient node is a red octagon, and the edge into it is dashed red:
  gradient cannot cross it;
* a scale_grad node is a blue hexagon that shows its factor c;
* with ``show_grad=True`` (after a backward) each tensor that kept its
  gradient shows ||dL/dtensor||.

Node ids follow the recording order (n0, n1, ... by ``node.seq``; t0, t1, ...
for tensors in the order the walk meets them), never a global counter, so the
same computation always gives the same DOT text.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import graphviz
import numpy as np

FORMATS = ("svg", "png", "pdf", "dot")

PARAMETER = {"shape": "box", "style": "rounded,filled", "fillcolor": "gold"}
TENSOR = {"shape": "box", "style": "rounded"}
OP = {"shape": "ellipse", "fontsize": "10"}
STOP = {"shape": "octagon", "style": "filled", "fillcolor": "#f4cccc", "color": "red", "fontcolor": "#990000"}
SCALE = {"shape": "hexagon", "style": "filled", "fillcolor": "#cfe2f3", "color": "#1f4e79"}
CUT_EDGE = {"style": "dashed", "color": "red", "penwidth": "2"}


class GraphvizNotFoundError(RuntimeError):
    """Raised by ``render`` when graphviz's ``dot`` program is not on the PATH.

    The DOT source has been written next to the requested file, so nothing is lost.
    """


def install_hint() -> str:
    """How to get the ``dot`` program on the usual systems."""
    return ("install graphviz: `sudo apt-get install graphviz` (Debian/Ubuntu), "
            "`brew install graphviz` (macOS) or `conda install graphviz` (conda)")


# -- walking the graph -------------------------------------------------------------
def collect(tensor):
    """The nodes that produced ``tensor`` (oldest first) and every tensor they touch.

    Tensors are listed in the order the walk meets them (each node's inputs,
    then its output), which depends only on the recording order.
    """
    nodes, seen, stack = [], set(), [tensor.node] if tensor.node is not None else []
    while stack:  # iterative: an unrolled RNN is deeper than Python's recursion limit
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        stack.extend(inp.node for inp in node.inputs if inp.node is not None)
    nodes.sort(key=lambda n: n.seq)
    tensors = {}
    for node in nodes:
        for t in (*node.inputs, node.output()):
            tensors.setdefault(id(t), t)
    tensors.setdefault(id(tensor), tensor)
    return nodes, list(tensors.values())


def ids_for(nodes, tensors) -> dict:
    """Stable DOT ids: ``n<i>`` for the i-th node by recording order, ``t<i>`` for tensors."""
    ids = {id(node): f"n{i}" for i, node in enumerate(nodes)}
    ids.update({id(t): f"t{i}" for i, t in enumerate(tensors)})
    return ids


# -- how each element looks ------------------------------------------------------
def is_parameter(tensor) -> bool:
    """A leaf that requires grad: where backward leaves its result."""
    return tensor.node is None and tensor.requires_grad


def grad_norm(tensor) -> float | None:
    """||tensor.grad|| (Frobenius), or None when the tensor kept no gradient."""
    return None if tensor.grad is None else float(np.linalg.norm(tensor.grad))


def shape_text(shape) -> str:
    return "scalar" if shape == () else "(" + ", ".join(str(n) for n in shape) + ")"


def tensor_attrs(tensor, show_grad: bool = False) -> dict:
    """Label (name and shape, optionally the gradient norm) and style of a tensor box."""
    lines = [tensor.name] if tensor.name else []
    lines.append(shape_text(tensor.shape))
    if show_grad and grad_norm(tensor) is not None:
        lines.append(f"|grad| = {grad_norm(tensor):.2e}")
    style = PARAMETER if is_parameter(tensor) else TENSOR
    return {"label": "\n".join(lines), **style}


def op_attrs(node) -> dict:
    """Label and style of an op: stop_gradient and scale_grad look different from the rest."""
    if node.op == "stop_gradient":
        return {"label": "stop_gradient", **STOP}
    if node.op == "scale_grad":
        return {"label": f"scale_grad\n× {node.meta:.3g}", **SCALE}
    return {"label": node.op, **OP}


def input_edge_attrs(node) -> dict:
    """The edge from an input into ``node``: dashed red when gradient cannot cross it."""
    return dict(CUT_EDGE) if node.op == "stop_gradient" else {}


# -- building and rendering ------------------------------------------------------
def draw(tensor, show_grad: bool = False) -> graphviz.Digraph:
    """The graph that produced ``tensor`` as a ``graphviz.Digraph`` (displays inline in Jupyter)."""
    nodes, tensors = collect(tensor)
    ids = ids_for(nodes, tensors)
    g = graphviz.Digraph("minigrad", graph_attr={"rankdir": "LR"}, node_attr={"fontname": "Helvetica"})
    for t in tensors:
        g.node(ids[id(t)], **tensor_attrs(t, show_grad))
    for node in nodes:
        g.node(ids[id(node)], **op_attrs(node))
        for inp in node.inputs:
            g.edge(ids[id(inp)], ids[id(node)], **input_edge_attrs(node))
        g.edge(ids[id(node)], ids[id(node.output())])
    return g


def to_dot(tensor, show_grad: bool = False) -> str:
    """The DOT source of the graph that produced ``tensor`` (no graphviz program needed)."""
    return draw(tensor, show_grad).source


def render(tensor, path, format: str | None = None, show_grad: bool = False) -> Path:
    """Draw the graph that produced ``tensor`` into ``path``; return the path written.

    ``format`` is "svg", "png", "pdf" or "dot"; by default it is the file's
    extension.  Needs graphviz's ``dot`` except for "dot".
    """
    return render_source(to_dot(tensor, show_grad), path, format)


def show(drawing) -> None:
    """Display a drawing (``draw``'s, or any of ``rnn.viz``) inline in Jupyter.

    Without graphviz's ``dot`` program a notebook cannot render it, so the DOT
    text is printed instead, with how to install ``dot``: a lesson still runs.
    """
    if shutil.which("dot") is None:
        print(f"(graphviz's `dot` is not installed, so here is the DOT text; {install_hint()})")
        print(drawing.source)
        return
    from IPython.display import display  # in a notebook or IPython session; imported only here

    display(drawing)


def format_of(path, format: str | None = None) -> str:
    """The output format: ``format`` if given, else the extension of ``path``."""
    fmt = (format or Path(path).suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"render: unknown format {fmt!r} for {path}; use one of {', '.join(FORMATS)}")
    return fmt


def render_source(source: str, path, format: str | None = None) -> Path:
    """Write DOT ``source`` to ``path`` in the given format (shared by every drawing).

    Without the ``dot`` program the DOT text is still written (to ``path``
    with a .dot suffix) before GraphvizNotFoundError says how to install it.
    """
    path = Path(path)
    fmt = format_of(path, format)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "dot":
        path.write_text(source)
        return path
    if shutil.which("dot") is None:
        dot_path = path.with_suffix(".dot")
        dot_path.write_text(source)
        raise GraphvizNotFoundError(
            f"cannot render {path}: graphviz's `dot` program is not on the PATH. "
            f"The DOT source is in {dot_path}. To render, {install_hint()}."
        )
    path.write_bytes(graphviz.Source(source).pipe(format=fmt))
    return path


__all__ = ["GraphvizNotFoundError", "collect", "draw", "render", "render_source", "show", "to_dot"]
