"""rnn.viz drawings, the `python -m rnn.render` CLI and the committed gallery."""

import importlib.util
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import rnn
from minigrad.viz import render_source
from rnn import analysis, viz

ROOT = Path(__file__).resolve().parents[2]
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's `dot` is not installed")
T = 12
STRATEGIES = {
    "full": lambda: rnn.Full(),
    "chunked": lambda: rnn.Chunked(4),
    "tbptt": lambda: rnn.TBPTT(3, 5),
    "randomized": lambda: rnn.Randomized(0.5, seed=0),
    "artbp": lambda: rnn.ARTBP(c=0.2, seed=0),
    "checkpointed": lambda: rnn.Checkpointed(4),
}


def unrolled(strategy="tbptt", model=None, steps=T):
    rng = np.random.default_rng(0)
    model = model or rnn.ElmanRNN(2, 3, 1, seed=0)
    xs, ys = rng.standard_normal((steps, 2)), rng.standard_normal((steps, 1))
    return rnn.unroll(model, xs, ys, STRATEGIES[strategy]())


def tape_ops(u, op):
    return [n for n in u.tape.nodes() if n.op == op]


def clusters(dot):
    return re.findall(r"subgraph cluster_(\d+)", dot)


def dashed_edges(dot):
    return [line for line in dot.splitlines() if "->" in line and "style=dashed" in line]


# -- the compact view -------------------------------------------------------------------
@pytest.mark.parametrize("name", STRATEGIES)
def test_compact_has_one_cluster_per_step_and_the_tapes_cuts_and_scales(name):
    u = unrolled(name)
    dot = viz.compact(u).source
    assert clusters(dot) == [str(t) for t in range(1, T + 1)]
    cuts = dashed_edges(dot)
    assert len(cuts) == len(u.plan.cut_steps()) == len(tape_ops(u, "stop_gradient"))
    assert all("label=stop_gradient" in line and "color=red" in line for line in cuts)
    scaled = re.findall(r"h\d+ -> h\d+ \[label=\"× ([\d.]+)\"", dot)
    assert len(scaled) == len(u.plan.scaled_steps()) == len(tape_ops(u, "scale_grad"))
    assert sorted(float(c) for c in scaled) == pytest.approx(
        sorted(round(n.meta, 2) for n in tape_ops(u, "scale_grad")), abs=0.01)


def test_compact_labels_each_step():
    dot = viz.compact(unrolled("full")).source
    for t in range(1, T + 1):
        for label in (f"x{t}", f"h{t}", f"ŷ{t}", f"l{t}"):
            assert f'[label="{label}"' in dot or f"[label={label} " in dot


def test_tbptt_windows_overlap_and_updates_are_marked():
    u = unrolled("tbptt")
    dot = viz.compact(u).source
    assert len(re.findall(r'\bu\d+ \[label="update', dot)) == len(u.plan.updates) == 4
    # TBPTT(3, 5): the update at t=6 reaches back to h1, so steps 2 and 3 are in windows 1 and 2
    for t, expected in {1: ["1"], 2: ["1", "2"], 3: ["1", "2"], 4: ["2"], 12: ["4"]}.items():
        assert re.findall(rf"^\s*w(\d+)_{t} \[label", dot, flags=re.MULTILINE) == expected
    assert 'label="update 2\nlosses l4..l6\nback to h1"' in dot


def test_drawing_after_a_freeing_backward_says_what_to_do():
    u = unrolled("full")
    u.loss.backward()
    with pytest.raises(ValueError, match="retain_graph=True"):
        viz.compact(u)


# -- the op-level view ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["chunked", "artbp", "randomized"])
def test_ops_view_draws_every_tape_node_with_its_cuts_and_scales(name):
    u = unrolled(name)
    dot = viz.ops_view(u).source
    assert clusters(dot) == [str(t) for t in range(1, T + 1)]
    assert len(re.findall(r"^\s*n\d+ \[", dot, flags=re.MULTILINE)) == len(u.tape.nodes())
    assert len(dashed_edges(dot)) == len(tape_ops(u, "stop_gradient"))
    assert dot.count('label="scale_grad') == len(tape_ops(u, "scale_grad"))


def test_lstm_cuts_both_parts_of_its_state():
    u = unrolled("chunked", model=rnn.LSTM(2, 3, 1, seed=0))
    assert len(tape_ops(u, "stop_gradient")) == 2 * len(u.plan.cut_steps())
    assert len(dashed_edges(viz.ops_view(u).source)) == len(tape_ops(u, "stop_gradient"))
    assert len(dashed_edges(viz.compact(u).source)) == len(u.plan.cut_steps())


# -- the heat view ---------------------------------------------------------------------
def heat_norms(radius):
    model = rnn.LinearRNN(2, 3, 1, seed=0)
    analysis.set_spectral_radius(model, radius)
    u = unrolled("full", model=model)
    dot = viz.heat(u).source
    return viz.state_grad_norms(u), dot


def test_heat_colours_states_by_gradient_norm_with_a_legend():
    norms, dot = heat_norms(1.5)
    assert norms[0] is None and all(n > 0 for n in norms[1:])
    assert "||dL/dh_t||, log scale" in dot and clusters(dot) == [str(t) for t in range(1, T + 1)]
    assert norms[1] > 50 * norms[T]  # expanding: gradient explodes going back in time
    contracting, _ = heat_norms(0.5)
    assert norms[1] / norms[T] > 2 * contracting[1] / contracting[T]
    fills = set(re.findall(r"h\d+ \[label=h\d+ [^\]]*fillcolor=\"(#\w+)\"", dot))
    assert len(fills) >= 4  # a range of colours, not one


# -- rendering with dot ------------------------------------------------------------------
def png_size(data):
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", data[16:24])


@needs_dot
@pytest.mark.parametrize("name", STRATEGIES)
def test_svg_and_png_for_every_strategy(name, tmp_path):
    g = viz.compact(unrolled(name))
    svg = render_source(g.source, tmp_path / "g.svg")
    groups = ET.parse(svg).getroot().iter("{http://www.w3.org/2000/svg}g")
    assert sum(el.get("class") == "cluster" for el in groups) == T
    width, height = png_size(render_source(g.source, tmp_path / "g.png").read_bytes())
    assert 800 < width < 5000 and 200 < height < 2000


@needs_dot
def test_ops_and_heat_render(tmp_path):
    for drawing in (viz.ops_view, viz.heat):
        svg = render_source(drawing(unrolled("artbp", steps=5)).source, tmp_path / "g.svg")
        assert sum(el.get("class") == "cluster" for el in ET.parse(svg).getroot().iter()) == 5


# -- the view of what ran ---------------------------------------------------------------------
def test_as_run_records_the_tape_at_each_backward():
    model = rnn.ElmanRNN(2, 3, 1, seed=0)
    xs, ys = np.ones((12, 2)), np.zeros((12, 1))
    plan, snapshots = viz.record_run(model, xs, ys, rnn.TBPTT(3, 5))
    assert [u.t for u, _ in snapshots] == [3, 6, 9, 12]
    for update, nodes in snapshots:
        scans = [n.tags["steps"] for n in nodes if n.op == "elman_scan"]
        # the stretches the tape still holds run from just after h_reach to the update point, without gaps
        assert scans[0][0] == update.reach + 1 and scans[-1][1] == update.t
        assert all(b[0] == a[1] + 1 for a, b in zip(scans, scans[1:]))
    dot = viz.as_run(model, xs, ys, rnn.TBPTT(3, 5)).source
    assert dot.count("subgraph cluster_update") == 4
    assert "update 2 after step 6: losses l4..l6, back to h1" in dot
    assert "steps 10..12\nedges ×1 ×1 ×1" in dot


def test_as_run_shows_the_plan_factors_inside_a_scan():
    model = rnn.ElmanRNN(2, 3, 1, seed=0)
    xs, ys = np.ones((6, 2)), np.zeros((6, 1))
    dot = viz.as_run(model, xs, ys, rnn.Fixed(rnn.Plan(6, (1.0, 1.0, 0.5, 0.0, 1.0, 2.0, 1.0),
                                                          (rnn.Update(6, 1, 0),)))).source
    assert "edges ×1 ×0.5 ×0 ×1 ×2 ×1" in dot


def test_as_run_draws_a_stepping_cell_by_step():
    model = rnn.LSTM(2, 3, 1, seed=0, fused=False)  # per-op: no scan, so the driver steps it
    plan, snapshots = viz.record_run(model, np.ones((4, 2)), np.zeros((4, 1)), rnn.Chunked(2))
    (_, first), (_, second) = snapshots
    assert {n.tags["step"] for n in first if "step" in n.tags} == {1, 2}
    assert {n.tags["step"] for n in second if "step" in n.tags} == {3, 4}  # chunk 1 was cut off


# -- the CLI ----------------------------------------------------------------------------
def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "rnn.render", *args], check=False, capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=60)


def test_cli_writes_the_file(tmp_path):
    out = tmp_path / "g.dot"
    done = cli("--model", "gru", "--strategy", "tbptt", "--k1", "2", "--k2", "4", "--steps", "6",
               "--view", "ops", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert len(clusters(out.read_text())) == 6


@needs_dot
def test_cli_renders_svg(tmp_path):
    out = tmp_path / "g.svg"
    done = cli("--model", "linear", "--spectral-radius", "1.2", "--view", "heat", "--out", str(out))
    assert done.returncode == 0, done.stderr
    ET.parse(out)


@pytest.mark.parametrize("args", [
    ["--strategy", "bogus"], ["--steps", "0"], ["--strategy", "tbptt", "--k1", "5", "--k2", "3"],
    ["--strategy", "randomized", "--p", "1.5"], ["--p", "0.5"], ["--strategy", "tbptt:3"], ["--seed", "-1"],
    ["--spectral-radius", "inf"], ["--out", "g.gif"], ["--model", "lstm", "--spectral-radius", "1.5"], ["--steps", "x"],
])
def test_cli_bad_flags_give_one_line_and_exit_2(args):
    done = cli(*args)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "error:" in done.stderr


def test_cli_help_explains_every_flag():
    text = cli("--help").stdout
    for flag in ("--model", "--strategy", "--k ", "--k1", "--k2", "--p ", "--c ", "--segment", "--seed", "--steps",
                 "--hidden", "--spectral-radius", "--view", "--out"):
        assert flag in text


def test_cli_without_dot_writes_the_dot_file(tmp_path):
    done = cli("--out", str(tmp_path / "g.png"), env={"PATH": str(tmp_path / "empty")})
    assert done.returncode == 1
    assert "apt-get install graphviz" in done.stderr
    assert (tmp_path / "g.dot").read_text().startswith("digraph")


# -- the gallery ------------------------------------------------------------------------
def test_committed_gallery_is_what_the_script_makes_now():
    spec = importlib.util.spec_from_file_location("gallery", ROOT / "scripts" / "gallery.py")
    gallery = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gallery)
    for name in gallery.GALLERY:
        committed = ROOT / "docs" / "gallery" / f"{name}.dot"
        assert committed.read_text() == gallery.source(name), f"rerun scripts/gallery.py ({name} changed)"
