"""The strategy explorer's data (scripts/explorer.py): what the page shows is what the engine computes.

These run in the ordinary suite (no site build, no browser): each grid point
checked here is computed afresh, at the smallest T of the grid.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

import rnn
from rnn import registry
from rnn.cli import render

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("explorer", ROOT / "scripts" / "explorer.py")
explorer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(explorer)

T = min(explorer.STEPS)


def full(T, radius):
    return explorer.full_reference(T, radius)


def test_every_registered_strategy_is_in_the_grid():
    strategies, skipped = explorer.strategy_grid()
    assert not skipped, f"registered strategies the explorer leaves out (give their parameters values): {skipped}"
    assert [s["name"] for s in strategies] == list(registry.STRATEGIES)
    for strategy in strategies:
        made = list(explorer.combinations(strategy))
        assert made, f"{strategy['name']}: no combination of the grid's values is accepted"
        for chosen, instance in made:
            assert rnn.describe(instance) == rnn.describe(rnn.parse_strategy(
                strategy["name"] + (":" + ",".join(f"{n}={v}" for n, v in chosen.items()) if chosen else "")))


def test_invalid_combinations_are_left_out():
    tbptt = next(s for s in explorer.strategy_grid()[0] if s["name"] == "tbptt")
    pairs = {(c["k1"], c["k2"]) for c, _ in explorer.combinations(tbptt)}
    assert ("3", "5") in pairs and ("4", "3") not in pairs  # TBPTT needs k2 >= k1


@pytest.mark.parametrize("spec,radius", [("tbptt:3,5", 1.5), ("randomized:0.5,seed=2", 0.5), ("artbp:0.4,seed=1", 1.0),
                                         ("uoro:4,seed=1", 1.0), ("checkpointed:2", 0.5)])
def test_the_drawings_are_what_the_command_under_them_draws(spec, radius):
    g, norms = full(T, radius)
    sources, numbers = explorer.point(spec, T, radius, g, norms)
    for view in ("compact", "heat"):
        p = render.parser()
        argv = numbers_command_argv(spec, radius, view)
        args = p.parse_args(argv)
        render.check(p, args)
        assert render.drawing(args).source == sources[view], f"{spec} {view}: the explorer's drawing differs from rnn.render's"


def numbers_command_argv(spec, radius, view):
    return explorer.render_argv(spec, T, radius, view)


def test_the_plan_and_numbers_are_the_engines():
    g, norms = full(T, 1.0)
    _, numbers = explorer.point("chunked:3", T, 1.0, g, norms)
    plan = rnn.Chunked(3).plan(T)
    assert numbers["plan"]["cuts"] == plan.cut_steps() == [4, 7]
    assert [u["t"] for u in numbers["plan"]["updates"]] == [3, 6, 8]
    assert numbers["draw"]["relative_error"] > 0.01  # chunks leave out the paths across their edges
    zeros = [t for t, n in enumerate(numbers["norms"], start=1) if not n]
    assert not zeros  # every state is in some chunk, so every one gets gradient
    _, exact = explorer.point("rtrl", T, 1.0, g, norms)
    assert exact["draw"]["relative_error"] < 1e-10 and exact["plan"]["carries"]  # RTRL is exact, and has no window
    _, same = explorer.point("full", T, 1.0, g, norms)
    assert same["draw"]["relative_error"] == 0.0 and same["norms"] == norms


def test_a_random_strategys_draws_are_its_seeds_and_look_unbiased():
    g, norms = full(T, 1.0)
    stats = explorer.estimator("randomized", {"p": "0.5"}, T, 1.0, g)
    assert stats["draws"] == explorer.DRAWS == len(stats["draw_errors"])
    _, seed2 = explorer.point("randomized:0.5,seed=2", T, 1.0, g, norms)
    assert math.isclose(stats["draw_errors"][2], seed2["draw"]["relative_error"], rel_tol=1e-4)  # draw i is seed i
    # unbiased: the mean of the draws is within a few standard errors of the full gradient
    assert stats["mean_error"] < 4 * stats["standard_error"]
    assert stats["relative_variance"] > 0


def test_grid_keys_are_what_the_page_builds():
    assert explorer.key("tbptt", {"k1": "3", "k2": "5"}, 12, 1.0) == "tbptt|k1=3|k2=5|T=12|R=1"
    assert explorer.key("full", {}, 8, 0.5) == "full|T=8|R=0.5"
    assert [explorer.text(v) for v in (1.0, 0.25, 16, 1.5)] == ["1", "0.25", "16", "1.5"]


def test_the_cache_is_keyed_by_the_engines_sources(tmp_path, monkeypatch):
    calls = []

    def fake_build(out, log=print):
        Path(out).mkdir(parents=True)
        (Path(out) / "data.js").write_text("window.EXPLORER_DATA = {};\n")
        calls.append(out)
        return out

    monkeypatch.setattr(explorer, "build", fake_build)
    explorer.build_cached(tmp_path / "x", log=lambda *_: None)
    explorer.build_cached(tmp_path / "x", log=lambda *_: None)
    assert len(calls) == 1, "an unchanged engine must reuse the explorer's files"
    monkeypatch.setattr(explorer, "fingerprint", lambda: "another engine")
    explorer.build_cached(tmp_path / "x", log=lambda *_: None)
    assert len(calls) == 2 and (tmp_path / "x" / "data.js").exists()


def test_data_js_is_plain_json_behind_one_assignment(tmp_path, monkeypatch):
    monkeypatch.setattr(explorer, "STEPS", (4,))
    monkeypatch.setattr(explorer, "RADII", (0.9,))
    monkeypatch.setattr(explorer, "DRAWS", 3)
    monkeypatch.setattr(explorer, "PARAMETER_VALUES", {**explorer.PARAMETER_VALUES, "k": (2,), "k1": (2,), "k2": (3,),
                                                        "p": (0.5,), "c": (0.2,), "segment": (2,), "every": (2,),
                                                        "seed": (0, 1)})
    out = explorer.build(tmp_path / "explorer", log=lambda *_: None)
    text = (out / "data.js").read_text()
    import json
    prefix = "window.EXPLORER_DATA = "
    body = text[text.index(prefix) + len(prefix):].rstrip().rstrip(";")
    data = json.loads(body)
    assert data["steps"] == ["4"] and data["radii"] == ["0.9"]
    for key, entry in data["entries"].items():
        for view in ("compact", "heat"):
            svg = out / entry[view]
            assert svg.read_text().lstrip().startswith(("<?xml", "<svg", "<!DOCTYPE")), f"{key}: {svg} is no SVG"
    assert np.isfinite([e["draw"]["relative_error"] for e in data["entries"].values()]).all()
    random = [e for e in data["entries"].values() if "estimator" in e]
    assert random and all(data["estimators"][e["estimator"]]["draws"] == 3 for e in random)
