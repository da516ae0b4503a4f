"""The strategy explorer's data: every drawing and number that explorer.html shows, made by the engine.

    python scripts/explorer.py OUT          # write OUT/data.js and OUT/svg/*.svg (about a minute)

The course site (``./run docs``) calls ``build_cached(docs/_build/explorer)``,
which reuses the last result while the engine's sources, this script and
graphviz are unchanged.  The page itself runs no Python: it picks files.

What is computed, for every point of the grid (``strategy_grid()`` times
``STEPS`` times ``RADII``):

* the model and data of ``python -m rnn.render`` with its defaults: an Elman RNN
  (2 inputs, 3 hidden units, 1 output, weights seed 0) on seeded random inputs
  and targets, its recurrent matrix rescaled to the spectral radius R;
* two drawings, by ``rnn.render``'s own code (so the command shown under each
  draws exactly it): ``--view compact`` (the unrolled graph with the plan) and
  ``--view heat`` (h_t coloured by ||dL/dh_t|| on a log scale);
* the plan: edge factors, updates (after step t, losses l_first..l_t, back to
  h_reach), cut and scaled steps, and what an online strategy carries instead
  of a window;
* ||dL/dh_t|| under the strategy and under full BPTT (from the heat's backward);
* the summed gradient of the strategy (``rnn.analysis.summed_gradient``, all
  updates at the same weights) against the full gradient: relative error and
  cosine, overall and per parameter.  A random strategy (``strategy.random``)
  is measured over ``DRAWS`` draws, draw i being the plan of seed i: the error
  of their mean (its bias, up to sampling noise), its standard error, the
  root-mean-square error of one draw, and the total variance relative to
  ||g_full||^2.  The seed the reader picks is one of those draws.

A strategy joins the explorer by being registered (``rnn.registry``) with
parameters that ``PARAMETER_VALUES`` gives values for; one whose parameter has
no values here is left out, and ``build`` reports it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import rnn  # noqa: E402
from rnn import analysis, registry, viz  # noqa: E402
from rnn.cli import render  # noqa: E402

STEPS = (8, 12, 16)  # T
RADII = (0.5, 1.0, 1.5)  # spectral radius of the recurrent matrix
PARAMETER_VALUES = {
    "k": (2, 3, 4, 6),
    "k1": (2, 3, 4),
    "k2": (3, 5, 8),
    "p": (0.25, 0.5, 0.75),
    "c": (0.1, 0.2, 0.4),
    "segment": (2, 4),
    "every": (1, 4),
    "level": (1,),
    "seed": (0, 1, 2),
}
DRAWS = 64  # draws of a random strategy for its bias and variance
FORMAT_VERSION = 2


def text(value) -> str:
    """A grid value as the page writes it (and as a key holds it): 1.0 -> "1", 0.25 -> "0.25"."""
    return format(value, "g")


# -- the grid ---------------------------------------------------------------------------------
def strategy_grid() -> tuple[list, list]:
    """(strategies, skipped): one dict per registered strategy with its parameters' values, and the
    names of registered strategies left out (a parameter with no values in PARAMETER_VALUES)."""
    chosen, skipped = [], []
    for entry in registry.STRATEGIES.values():
        if any(p.name not in PARAMETER_VALUES for p in entry.params):
            skipped.append(entry.name)
            continue
        params = [{"name": p.name, "values": [text(v) for v in PARAMETER_VALUES[p.name]],
                   "default": None if p.required else text(p.default)} for p in entry.params]
        chosen.append({"name": entry.name, "summary": entry.summary, "form": entry.form,
                       "doc": _doc(entry.cls), "random": bool(getattr(entry.cls, "random", False)),
                       "params": params})
    return chosen, skipped


def _doc(cls) -> str:
    """The class docstring's first paragraph, on one line."""
    import inspect
    paragraph = (inspect.getdoc(cls) or "").split("\n\n")[0]
    return " ".join(paragraph.split())


def combinations(strategy: dict):
    """Every {parameter: value text} of one strategy that its constructor accepts, with the strategy."""
    names = [p["name"] for p in strategy["params"]]
    for values in itertools.product(*[p["values"] for p in strategy["params"]]):
        chosen = dict(zip(names, values))
        spec = strategy["name"] + (":" + ",".join(f"{n}={v}" for n, v in chosen.items()) if chosen else "")
        try:
            made = rnn.parse_strategy(spec)
        except ValueError:  # e.g. TBPTT with k2 < k1
            continue
        yield chosen, made


def key(name: str, chosen: dict, T, radius) -> str:
    """The page's key of one grid point: "tbptt|k1=3|k2=5|T=12|R=1"."""
    return "|".join([name, *(f"{n}={v}" for n, v in chosen.items()), f"T={text(T)}", f"R={text(radius)}"])


# -- one grid point ------------------------------------------------------------------------------
def render_args(spec: str, T: int, radius: float, view: str):
    """rnn.render's parsed arguments for one drawing (checked as its command line checks them)."""
    p = render.parser()
    args = p.parse_args(render_argv(spec, T, radius, view))
    render.check(p, args)
    return args


def render_argv(spec: str, T: int, radius: float, view: str) -> list[str]:
    return ["--strategy", spec, "--steps", str(T), "--spectral-radius", text(radius), "--view", view]


def data_of(args):
    """The model, inputs and targets that rnn.render draws (rnn.render.drawing's own recipe)."""
    rng = np.random.default_rng(args.seed)
    xs, ys = rng.standard_normal((args.steps, render.N_IN)), rng.standard_normal((args.steps, render.N_OUT))
    return render.model_of(args), xs, ys


def plan_of(plan) -> dict:
    return {
        "T": plan.T,
        "edges": [float(e) for e in plan.edges[1:]],
        "updates": [{"t": u.t, "first": u.first, "reach": u.reach} for u in plan.updates],
        "cuts": plan.cut_steps(),
        "scaled": {str(t): float(c) for t, c in plan.scaled_steps().items()},
        "checkpoint": plan.checkpoint,
        "carries": plan.carries,
    }


def errors_against(g: dict, full: dict) -> dict:
    """Relative error and cosine of a summed gradient against the full one, overall and per parameter."""
    flat, reference = analysis.flatten(g), analysis.flatten(full)
    return {
        "relative_error": analysis.relative_error(flat, reference),
        "cosine": analysis.cosine_similarity(flat, reference),
        "per_parameter": {name: analysis.relative_error(g[name], full[name]) for name in full},
    }


def point(spec: str, T: int, radius: float, full: dict, full_norms: list) -> tuple[dict, dict]:
    """({view: DOT source}, numbers) of one strategy at one (T, R)."""
    args = render_args(spec, T, radius, "heat")
    model, xs, ys = data_of(args)
    strategy = rnn.parse_strategy(args.spec)
    unrolled = rnn.unroll(model, xs, ys, strategy)
    heat = viz.heat(unrolled)  # backpropagates the total loss through the edited graph
    norms = viz.state_grad_norms(unrolled)[1:]
    sources = {"heat": heat.source, "compact": render.drawing(render_args(spec, T, radius, "compact")).source}
    g = analysis.summed_gradient(model, xs, ys, rnn.parse_strategy(args.spec))
    numbers = {
        "spec": args.spec,
        "plan": plan_of(unrolled.plan),
        "norms": [None if n is None else float(n) for n in norms],
        "full_norms": full_norms,
        "draw": errors_against(g, full),
    }
    return sources, numbers


def full_reference(T: int, radius: float) -> tuple[dict, list]:
    """The full BPTT gradient {name: array} and ||dL/dh_t|| (t = 1..T) at (T, R)."""
    model, xs, ys = data_of(render_args("full", T, radius, "heat"))
    unrolled = rnn.unroll(model, xs, ys, rnn.Full())
    viz.backpropagate(unrolled)
    norms = [float(n) for n in viz.state_grad_norms(unrolled)[1:]]
    return analysis.summed_gradient(model, xs, ys, rnn.Full()), norms


def estimator(name: str, chosen: dict, T: int, radius: float, full: dict) -> dict:
    """A random strategy's draws 0..DRAWS-1 (draw i: the plan of seed i) against the full gradient."""
    model, xs, ys = data_of(render_args("full", T, radius, "heat"))
    reference = analysis.flatten(full)
    samples = []
    for seed in range(DRAWS):
        spec = name + ":" + ",".join(f"{n}={v}" for n, v in {**chosen, "seed": str(seed)}.items())
        samples.append(analysis.flatten(analysis.summed_gradient(model, xs, ys, rnn.parse_strategy(spec))))
    samples = np.stack(samples)
    stats = analysis.estimator_stats(samples, reference)
    scale = float(np.linalg.norm(reference))
    return {
        "draws": DRAWS,
        "mean_error": stats.mean_error,
        "standard_error": stats.standard_error,
        "draw_error": stats.draw_error,
        "relative_variance": stats.total_variance / scale ** 2,
        "draw_errors": [round(float(e), 5) for e in np.linalg.norm(samples - reference, axis=1) / scale],
    }


# -- the whole grid ------------------------------------------------------------------------------
def compute(log=print) -> tuple[dict, dict]:
    """(data for the page, {svg name: DOT source})."""
    strategies, skipped = strategy_grid()
    if skipped:
        log(f"explorer: left out (a parameter without values in PARAMETER_VALUES): {', '.join(skipped)}")
    entries, drawings, estimators = {}, {}, {}
    started = time.perf_counter()
    for T, radius in itertools.product(STEPS, RADII):
        full, full_norms = full_reference(T, radius)
        for strategy in strategies:
            for chosen, _ in combinations(strategy):
                sources, numbers = point(
                    strategy["name"] + (":" + ",".join(f"{n}={v}" for n, v in chosen.items()) if chosen else ""),
                    T, radius, full, full_norms)
                for view, source in sources.items():
                    name = hashlib.sha1(source.encode()).hexdigest()[:16] + ".svg"
                    drawings[name] = source
                    numbers[view] = f"svg/{name}"
                if strategy["random"]:  # its draws are shared by its seeds
                    group = {n: v for n, v in chosen.items() if n != "seed"}
                    name = key(strategy["name"], group, T, radius)
                    if name not in estimators:
                        estimators[name] = estimator(strategy["name"], group, T, radius, full)
                    numbers["estimator"] = name
                    numbers["draw_index"] = int(chosen.get("seed", 0))
                numbers["commands"] = {view: "python -m rnn.render " + " ".join(
                    render_argv(numbers["spec"], T, radius, view)) + f" --out {view}.svg" for view in ("compact", "heat")}
                entries[key(strategy["name"], chosen, T, radius)] = numbers
    log(f"explorer: {len(entries)} grid points, {len(drawings)} distinct drawings "
        f"computed in {time.perf_counter() - started:.0f} s")
    data = {
        "version": FORMAT_VERSION,
        "steps": [text(T) for T in STEPS],
        "radii": [text(r) for r in RADII],
        "draws": DRAWS,
        "model": {"cell": "elman", "n_in": render.N_IN, "hidden": 3, "n_out": render.N_OUT, "seed": 0},
        "strategies": [s for s in strategies if any(k.startswith(s["name"] + "|") for k in entries)],
        "entries": entries,
        "estimators": estimators,  # a random strategy's draws at one (T, R), named by its key without the seed
    }
    return data, drawings


def render_svgs(drawings: dict, folder: Path, batch: int = 80) -> None:
    """Run graphviz's dot over every DOT source (a few processes, many files each)."""
    if shutil.which("dot") is None:
        raise RuntimeError("the explorer needs graphviz's `dot` program (apt-get install graphviz)")
    folder.mkdir(parents=True, exist_ok=True)
    names = sorted(drawings)
    with tempfile.TemporaryDirectory() as scratch:
        for start in range(0, len(names), batch):
            chunk = names[start:start + batch]
            inputs = []
            for name in chunk:
                path = Path(scratch) / name.replace(".svg", ".gv")
                path.write_text(drawings[name])
                inputs.append(str(path))
            subprocess.run(["dot", "-Tsvg", "-O", *inputs], check=True)
            for name in chunk:
                shutil.move(Path(scratch) / (name.replace(".svg", ".gv") + ".svg"), folder / name)


def build(out: Path, log=print) -> Path:
    """Write out/data.js (``window.EXPLORER_DATA = {...}``, so that it loads from file:// too) and out/svg/."""
    out = Path(out)
    data, drawings = compute(log)
    started = time.perf_counter()
    render_svgs(drawings, out / "svg")
    (out / "data.js").write_text("// written by scripts/explorer.py: the strategy explorer's grid\n"
                                 "window.EXPLORER_DATA = " + json.dumps(data, separators=(",", ":"),
                                                                        allow_nan=False) + ";\n")
    log(f"explorer: {len(drawings)} SVG drawings rendered in {time.perf_counter() - started:.0f} s")
    return out


def fingerprint() -> str:
    """What the explorer's output depends on: the engine's and this script's sources, numpy, graphviz."""
    h = hashlib.sha256(f"format {FORMAT_VERSION}; numpy {np.__version__}\n".encode())
    dot = subprocess.run(["dot", "-V"], capture_output=True, text=True) if shutil.which("dot") else None
    h.update((dot.stderr if dot else "no dot").encode())
    for path in sorted([Path(__file__).resolve(), *(ROOT / "minigrad").rglob("*.py"), *(ROOT / "rnn").rglob("*.py")]):
        h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def build_cached(out: Path, log=print) -> Path:
    """``build(out)`` unless out/stamp.json says it was built from the same sources."""
    out = Path(out)
    stamp = out / "stamp.json"
    want = fingerprint()
    if stamp.exists() and json.loads(stamp.read_text()).get("fingerprint") == want and (out / "data.js").exists():
        log("explorer: up to date (the engine, scripts/explorer.py and graphviz are unchanged)")
        return out
    fresh = out.with_name(out.name + ".new")
    if fresh.exists():
        shutil.rmtree(fresh)
    build(fresh, log)
    (fresh / "stamp.json").write_text(json.dumps({"fingerprint": want}) + "\n")
    if out.exists():
        shutil.rmtree(out)
    fresh.rename(out)
    return out


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0].startswith("-"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    build(Path(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
