"""minigrad.viz: the DOT text of a graph, and rendering it with (or without) graphviz's `dot`."""

import re
import shutil
import xml.etree.ElementTree as ET

import graphviz
import numpy as np
import pytest

import minigrad as mg
from minigrad import viz

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's `dot` is not installed")


def small_graph():
    """loss = sum((scale_grad(A stop_gradient(tanh(A h0)), 0.5))^2): every kind of node once."""
    with mg.Tape():
        A = mg.tensor(np.eye(2) * 0.5, requires_grad=True, name="A")
        h0 = mg.tensor([1.0, -2.0], name="h0")
        h1 = mg.tanh(mg.matvec(A, h0))
        h2 = mg.scale_grad(mg.matvec(A, mg.stop_gradient(h1)), 0.5)
        return A, h1, (h2 * h2).sum()


def edge_lines(dot: str) -> list[str]:
    return [line for line in dot.splitlines() if "->" in line]


def test_labels_show_names_shapes_and_ops():
    _, _, loss = small_graph()
    dot = viz.to_dot(loss)
    assert 'label="A\n(2, 2)" fillcolor=gold' in dot  # a parameter stands out
    assert 'label="h0\n(2)" shape=box style=rounded' in dot  # a constant does not
    assert "label=scalar" in dot
    for op in ("matvec", "tanh", "mul", "sum"):
        assert f"label={op} " in dot


def test_stop_gradient_and_scale_grad_are_marked():
    _, _, loss = small_graph()
    dot = viz.to_dot(loss)
    assert "label=stop_gradient" in dot and "shape=octagon" in dot
    assert 'label="scale_grad\n× 0.5"' in dot and "shape=hexagon" in dot
    dashed = [line for line in edge_lines(dot) if "style=dashed" in line]
    assert len(dashed) == 1 and "color=red" in dashed[0]  # only the edge into the stop_gradient


def test_every_tape_node_is_drawn_once():
    _, _, loss = small_graph()
    nodes, tensors = viz.collect(loss)
    assert [n.op for n in nodes] == ["matvec", "tanh", "stop_gradient", "matvec", "scale_grad", "mul", "sum"]
    dot = viz.to_dot(loss)
    assert len(re.findall(r"^\s*n\d+ \[", dot, flags=re.MULTILINE)) == 7
    assert len(tensors) == 9


def test_show_grad_labels_the_gradient_norm():
    A, h1, loss = small_graph()
    h1.retain_grad()
    loss.backward(retain_graph=True)
    dot = viz.to_dot(loss, show_grad=True)
    assert f"|grad| = {np.linalg.norm(A.grad):.2e}" in dot
    assert "|grad|" not in viz.to_dot(loss)


def test_dot_text_is_deterministic_whatever_was_recorded_before():
    first = viz.to_dot(small_graph()[2])
    for _ in range(3):
        small_graph()  # moves the global node counter on
    assert viz.to_dot(small_graph()[2]) == first


def test_draw_is_a_digraph_for_jupyter():
    g = viz.draw(small_graph()[2])
    assert isinstance(g, graphviz.Digraph)
    assert hasattr(g, "_repr_mimebundle_") or hasattr(g, "_repr_svg_")


def test_a_leaf_draws_as_one_box():
    assert viz.to_dot(mg.tensor([1.0], name="x")).count("[label=") == 1


def test_to_dot_needs_no_graphviz_program(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "digraph" in viz.to_dot(small_graph()[2])


def test_render_without_dot_writes_the_source_and_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(viz.GraphvizNotFoundError) as caught:
        viz.render(small_graph()[2], tmp_path / "graph.svg")
    message = str(caught.value)
    for hint in ("apt-get install graphviz", "brew install graphviz", "conda install graphviz", "graph.dot"):
        assert hint in message
    assert isinstance(caught.value, RuntimeError)
    assert (tmp_path / "graph.dot").read_text().startswith("digraph")


def test_render_refuses_an_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="gif"):
        viz.render(small_graph()[2], tmp_path / "graph.gif")


def test_render_dot_format_needs_no_program(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    path = viz.render(small_graph()[2], tmp_path / "g.dot")
    assert path.read_text() == viz.to_dot(small_graph()[2])


@needs_dot
def test_render_svg_png_pdf(tmp_path):
    loss = small_graph()[2]
    svg = viz.render(loss, tmp_path / "g.svg")
    ET.parse(svg)
    png = viz.render(loss, tmp_path / "g.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    assert viz.render(loss, tmp_path / "g.pdf").read_bytes().startswith(b"%PDF")


def test_show_prints_the_dot_text_when_dot_is_missing(monkeypatch, tmp_path, capsys):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    drawing = viz.draw((x * x).sum())
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    viz.show(drawing)
    printed = capsys.readouterr().out
    assert "`dot` is not installed" in printed and "apt-get install graphviz" in printed
    assert drawing.source in printed


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs graphviz's dot")
def test_show_hands_the_drawing_to_ipython_display_when_dot_exists(monkeypatch):
    display = pytest.importorskip("IPython.display")
    shown = []
    monkeypatch.setattr(display, "display", shown.append)
    drawing = viz.draw(mg.tensor([1.0], requires_grad=True).sum())
    viz.show(drawing)
    assert shown == [drawing]
