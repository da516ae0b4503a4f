"""The course site's Sphinx extension: brings the repository's own sources into the site.

Sphinx reads documents from ``docs/`` only, so before reading (``config-inited``)
this copies, when changed, and removes stale copies of:

    tutorials/NN_name.py            -> docs/lessons/NN_name.py      (executed by myst-nb)
    assignments/aN_name/README.md   -> docs/handouts/aN_name.md     (the handout as released)
    every module of minigrad, rnn   -> docs/api/<module>.rst        (an automodule stub)
    benchmarks/RESULTS.md           -> docs/results/benchmarks.md
    benchmarks/ONLINE.md            -> docs/results/online.md       (when present; likewise
    benchmarks/GATED.md, WORKLOAD.md   -> docs/results/gated.md, workload.md)

These four folders are build products (git ignores them): edit the originals.
A copy is rewritten only when its text changed, so Sphinx's incremental build and
myst-nb's execution cache see an unchanged lesson as unchanged.

The lessons execute as tests/tutorials executes them: in a fresh ``python3``
kernel with the repository root as working directory.  myst-nb starts its kernel
in the page's folder, so an IPython startup file (in a private IPYTHONDIR under
docs/_build, which also keeps a reader's own IPython profile out of the build)
changes to the root first.

It also adds

* the ``gallery`` directive: one figure per drawing that ``scripts/gallery.py``
  lists, captioned with the ``python -m rnn.render`` command that made it;
* the strategy explorer's data (``scripts/explorer.py``): computed at
  ``builder-inited`` into docs/_build/explorer (kept while the engine's sources,
  the script and graphviz are unchanged) and copied to ``<html>/explorer/`` when
  the build finishes.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
BUILD = DOCS / "_build"
logger = logging.getLogger(__name__)


def load_script(name: str):
    """A module from ``scripts/`` (they are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"_course_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- copies of the course's sources ---------------------------------------------------------
def course_sources() -> dict[Path, Path]:
    """{copy in docs/: original} for every lesson, handout and results file."""
    wanted = {}
    for lesson in sorted((ROOT / "tutorials").glob("[0-9]*.py")):
        wanted[DOCS / "lessons" / lesson.name] = lesson
    for readme in sorted((ROOT / "assignments").glob("a[0-9]*/README.md")):
        wanted[DOCS / "handouts" / f"{readme.parent.name}.md"] = readme
    for name, target in (("RESULTS.md", "benchmarks.md"), ("ONLINE.md", "online.md"), ("GATED.md", "gated.md"),
                         ("WORKLOAD.md", "workload.md")):
        if (ROOT / "benchmarks" / name).exists():
            wanted[DOCS / "results" / target] = ROOT / "benchmarks" / name
    return wanted


PACKAGES = ("minigrad", "rnn")


def api_stubs() -> dict[Path, str]:
    """{docs/api/<module>.rst: its text} for every module of the packages.

    Written here rather than by autosummary's recursion, which resolves a name
    such as ``minigrad.tensor`` to the function ``mg.tensor`` that shadows the module.
    """
    import importlib
    import inspect
    import pkgutil

    stubs = {}
    for package in PACKAGES:
        root = importlib.import_module(package)
        names = [package] + [m.name for m in pkgutil.walk_packages(root.__path__, package + ".")]
        for name in names:
            module = importlib.import_module(name)
            lines = [name, "=" * len(name), "", f".. automodule:: {name}", ""]
            public = getattr(module, "__all__", None) if name in PACKAGES else None
            if public:
                lines += [".. rubric:: Public names", "", "Defined in the modules below and re-exported here:", ""]
                for item in public:
                    obj = getattr(module, item)
                    if inspect.ismodule(obj):
                        lines.append(f"- :py:mod:`{name}.{item} <{obj.__name__}>`")
                    elif getattr(obj, "__module__", "").split(".")[0] in PACKAGES and inspect.getdoc(obj) \
                            and (inspect.isclass(obj) or inspect.isfunction(obj)):
                        lines.append(f"- :py:obj:`{name}.{item} <{obj.__module__}.{obj.__qualname__}>`")
                    else:
                        lines.append(f"- ``{name}.{item}``")
                lines.append("")
            children = sorted(n for n in names if n != name and n.rsplit(".", 1)[0] == name)
            if children:
                lines += [".. rubric:: Modules", "", ".. toctree::", "   :maxdepth: 1", ""]
                lines += [f"   {child}" for child in children]
                lines.append("")
            stubs[DOCS / "api" / f"{name}.rst"] = "\n".join(lines)
    return stubs


def sync_sources(app: Sphinx, config) -> None:
    wanted = course_sources()
    stubs = api_stubs()
    (DOCS / "api").mkdir(exist_ok=True)
    for old in (DOCS / "api").iterdir():
        if old.is_file() and old not in stubs:
            old.unlink()
    for stub, text in stubs.items():
        if not stub.exists() or stub.read_text(encoding="utf-8") != text:
            stub.write_text(text, encoding="utf-8")
    for folder in ("lessons", "handouts", "results"):
        (DOCS / folder).mkdir(exist_ok=True)
        for old in (DOCS / folder).iterdir():
            if old.is_file() and old not in wanted:
                old.unlink()
    for copy, original in wanted.items():
        text = original.read_text(encoding="utf-8")
        if not copy.exists() or copy.read_text(encoding="utf-8") != text:
            copy.write_text(text, encoding="utf-8")
    if not any(p.parent.name == "lessons" for p in wanted):
        logger.warning("no lessons found in tutorials/ (NN_name.py)")
    _lessons_from_root()


def _lessons_from_root() -> None:
    """Make the lessons' kernels start in the repository root (see the module docstring)."""
    ipython = BUILD / ".ipython"
    startup = ipython / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    script = startup / "00-repository-root.py"
    text = ("# written by docs/_ext/course.py: the lessons run from the repository root, as in tests/tutorials\n"
            f"import os\nos.chdir({str(ROOT)!r})\n")
    if not script.exists() or script.read_text() != text:
        script.write_text(text)
    os.environ["IPYTHONDIR"] = str(ipython)


# -- the gallery -----------------------------------------------------------------------------
class Gallery(SphinxDirective):
    """``{gallery}``: every drawing of scripts/gallery.py, with the command that made it."""

    def run(self):
        gallery = load_script("gallery")
        self.env.note_dependency(str(ROOT / "scripts" / "gallery.py"))
        found = []
        for name in gallery.GALLERY:
            command = "python -m rnn.render " + " ".join(gallery.command(name)) + f" --out {name}.svg"
            section = nodes.section(ids=[f"drawing-{name.replace('_', '-')}"])
            section += nodes.title(text=name.replace("_", " "))
            figure = nodes.figure(classes=["gallery-drawing"])
            svg = DOCS / "gallery" / f"{name}.svg"
            self.env.note_dependency(str(svg))
            figure += nodes.image(uri=f"gallery/{name}.svg", alt=f"the {name.replace('_', ' ')} drawing")
            caption = nodes.caption()
            caption += nodes.literal(text=command)
            figure += caption
            section += figure
            found.append(section)
        return found


# -- the strategy explorer ---------------------------------------------------------------------
def refresh_source_pages(app: Sphinx) -> None:
    """Drop viewcode's pages after a configuration change: it rewrites a page only when its module's
    source is newer, so a new theme option or asset would otherwise miss those pages."""
    from sphinx.environment import CONFIG_OK

    if app.env.config_status != CONFIG_OK:
        shutil.rmtree(Path(app.outdir) / "_modules", ignore_errors=True)


def build_explorer(app: Sphinx) -> None:
    explorer = load_script("explorer")
    app.env.explorer_dir = explorer.build_cached(BUILD / "explorer", log=logger.info)


def copy_explorer(app: Sphinx, error) -> None:
    if error is not None or app.builder.format != "html":
        return
    source = BUILD / "explorer"
    target = Path(app.outdir) / "explorer"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("stamp.json"))


def _source_digest() -> str:
    """This file's sha256: a config value, so that editing the extension makes Sphinx read every page again."""
    import hashlib
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def setup(app: Sphinx) -> dict:
    # MathJax on every page, not only on pages with maths of their own: a lesson's title with maths
    # shows in every page's navigation
    app.set_html_assets_policy("always")
    app.add_config_value("course_extension_digest", _source_digest(), "env")
    app.connect("config-inited", sync_sources)
    app.connect("builder-inited", refresh_source_pages)
    app.connect("builder-inited", build_explorer)
    app.connect("build-finished", copy_explorer)
    app.add_directive("gallery", Gallery)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
