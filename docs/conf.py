"""Sphinx configuration of the course site: ``./run docs`` builds it into docs/_build/html.

What the site holds and where it comes from (nothing is fetched from the network,
at build time or when a page is read):

* Lessons: ``tutorials/NN_*.py`` (jupytext percent format), copied into
  ``docs/lessons/`` and executed by myst-nb with its jupyter-cache, so a rebuild
  re-runs only the lessons whose code changed.  ``TUTORIAL_FAST=1`` in the
  environment builds the shrunk lessons, with a cache of their own.
* The strategy explorer: ``scripts/explorer.py`` computes every drawing and
  number with the engine at build time (``explorer.html`` only switches files).
* The gallery (``docs/gallery/``), the assignments' handouts
  (``assignments/a*/README.md``, the student's view) and the benchmark results
  (``benchmarks/*.md``).
* The API reference: autodoc over every module of ``minigrad`` and ``rnn`` (docs/_ext/course.py
  writes one stub per module; docs/_ext/docstrings.py reads their plain-text docstrings).

Maths is rendered by the MathJax copy that the sphinx-mathjax-offline package
bundles (copied into ``_static/mathjax``).  The build runs with ``-W -n``: a
warning, a broken reference among them, fails it.  docs/_ext/course.py does the
copying and the explorer; see its docstring.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(ROOT))

FAST = os.environ.get("TUTORIAL_FAST") == "1"

project = "minigrad"
author = "the minigrad authors"
copyright = "the minigrad authors, MIT licence"  # noqa: A001 (Sphinx's name)
release = version = "0.1.0"

extensions = [
    "myst_nb",  # MyST markdown and notebooks (it loads myst_parser itself)
    "sphinx.ext.autodoc",
    "docstrings",  # docs/_ext/docstrings.py: the project's plain-text docstrings read as written
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx-mathjax-offline",  # the package's module name has dashes; it bundles MathJax 3
    "course",  # docs/_ext/course.py: lessons, handouts, results, gallery, explorer
]

# -- sources --------------------------------------------------------------------------
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".py": "myst-nb"}
exclude_patterns = ["_build", "_ext", "conf.py", "**/.ipynb_checkpoints", "gallery", "tutorials",
                    "README.md"]
root_doc = "index"

# -- MyST and the lessons ---------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
nb_execution_mode = "cache"
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache" / ("fast" if FAST else "full"))
nb_execution_timeout = 600  # seconds per cell, as generous as tests/tutorials' 300 s on a busy machine
nb_execution_raise_on_error = True  # a lesson that fails fails the build
nb_execution_show_tb = True
nb_render_markdown_format = "myst"  # the lessons print Markdown with $maths$ (their say() helper)
nb_merge_streams = True

# -- the API reference -------------------------------------------------------------------
autodoc_default_options = {
    "members": True,
    "ignore-module-all": True,  # a module documents what it defines; re-exports are linked, not repeated
    "show-inheritance": True,
    "member-order": "bysource",
}
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autoclass_content = "both"

# -- broken references are errors -----------------------------------------------------------
nitpicky = True
# Third-party names in type hints: no intersphinx inventory can be fetched offline, so these
# stay unlinked on purpose.  Anything of minigrad's or rnn's that does not resolve still fails.
nitpick_ignore_regex = [
    (r"py:.*", r"(np|numpy|graphviz|numba|nbformat|pathlib|typing|collections|argparse|dataclasses|"
               r"contextlib|threading|types|abc|concurrent|subprocess|enum|io|os)\..*"),
    (r"py:class", r"inspect\._empty"),
    (r"py:class", r"string"),  # argparse's error(message: string), inherited by rnn.cli.common.OneLineParser
    (r"py:class", r".*\._[A-Za-z]\w*"),  # private base classes named by show-inheritance: undocumented on purpose
    (r"py:class", r"(Path|ndarray|Generator|Iterator|Iterable|Callable|Sequence|Mapping|Any|TypeVar|"
                  r"Protocol|NamedTuple|ArrayLike|DTypeLike|Digraph)"),
]

# -- HTML -----------------------------------------------------------------------------------
html_theme = "furo"
html_title = "minigrad course"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_last_updated_fmt = None
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": True,
}
html_favicon = "_static/favicon.svg"
