"""Regenerate the diagrams in docs/gallery/ (the README shows them).

    python scripts/gallery.py

Each diagram is one ``python -m rnn.render`` command line (listed in GALLERY),
so a reader can rerun and vary any of them.  The DOT sources are committed and
a test checks they equal what this script produces now; the SVG and PNG files
are written too when graphviz's ``dot`` program is installed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from minigrad.viz import render_source
from rnn.cli import render

OUT = Path(__file__).resolve().parent.parent / "docs" / "gallery"
COMMON = {"--model": "elman", "--steps": "12", "--hidden": "3", "--seed": "0"}

GALLERY = {
    "full": {"--strategy": "full"},
    "chunked": {"--strategy": "chunked", "--k": "4"},
    "tbptt": {"--strategy": "tbptt", "--k1": "3", "--k2": "5"},
    "randomized": {"--strategy": "randomized", "--p": "0.5"},
    "artbp": {"--strategy": "artbp", "--c": "0.2"},
    "tbptt_run": {"--strategy": "tbptt", "--k1": "3", "--k2": "5", "--view": "run"},
    "chunked_ops": {"--strategy": "chunked", "--k": "4", "--steps": "6", "--view": "ops"},
    "heat_contracting": {"--model": "linear", "--strategy": "full", "--spectral-radius": "0.5", "--view": "heat"},
    "heat_expanding": {"--model": "linear", "--strategy": "full", "--spectral-radius": "1.5", "--view": "heat"},
}


def command(name: str) -> list[str]:
    """The rnn.render flags of one gallery diagram: COMMON, overridden by its own."""
    return [word for flag, value in {**COMMON, **GALLERY[name]}.items() for word in (flag, value)]


def source(name: str) -> str:
    """The DOT source of one gallery diagram, as rnn.render would draw it."""
    p = render.parser()
    args = p.parse_args(command(name))
    render.check(p, args)
    return render.drawing(args).source


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    formats = ("dot", "svg", "png") if shutil.which("dot") else ("dot",)
    for name in GALLERY:
        text = source(name)
        for fmt in formats:
            render_source(text, OUT / f"{name}.{fmt}")
        print(f"{name}: python -m rnn.render {' '.join(command(name))} -> {', '.join(formats)}")
    if len(formats) == 1:
        print("`dot` not found: wrote DOT sources only; install graphviz to render SVG/PNG", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
