"""A Gradescope autograder for one assignment: ``python -m assignments gradescope OUT -a N``.

Writes ``OUT/autograder-a<N>.zip``, which holds at its root

    setup.sh            run once as root when Gradescope builds the image: Python and a virtual
                        environment outside /autograder/source (/opt/minigrad-grader) with the engine's
                        wheel and pytest; /autograder/source closed to everyone but root; the sandbox's
                        runtime built (``python -m assignments prepare``)
    run_autograder      grades /autograder/submission into /autograder/results/results.json, as root,
                        the student's code running as the sandbox user (``sandbox.launch``)
    minigrad-*.whl      the engine (``wheel``)
    grader/assignments  the grader's modules and the one assignment: its README, the *starter* (the
                        grader needs the module's name and tasks, never the solution), the public and
                        hidden tests, their helpers and probes

No solution goes in: the reference solution stays in this repository.  The
output is the same bytes for the same sources.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from .catalog import ROOT, Assignment, grader_modules
from .regions import strip_solutions
from .wheel import build_wheel, wheel_name

DATE = (1980, 1, 1, 0, 0, 0)
VENV = "/opt/minigrad-grader"

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
fi
python3 -m venv {venv}
{venv}/bin/pip install -q --upgrade pip
{venv}/bin/pip install -q ./{wheel} pytest
chmod -R go-rwx "$(pwd)"          # the grader and the hidden tests: root's alone
PYTHONPATH="$(pwd)/grader" MINIGRAD_ENGINE_WHEEL="$(pwd)/{wheel}" {venv}/bin/python -m assignments prepare
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for each submission, as root: the student's code runs as the sandbox user.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
mkdir -p "$ROOT/results"
export PYTHONPATH="$ROOT/source/grader"
export MINIGRAD_ENGINE_WHEEL="$ROOT/source/{wheel}"
exec "${{MINIGRAD_GRADER_PYTHON:-{venv}/bin/python}}" -m assignments grade "$ROOT/submission" --assignment {number} \\
    --json "$ROOT/results/results.json"
"""


def bundle(assignment: Assignment, out: Path) -> Path:
    """Write the autograder zip of ``assignment`` into the folder ``out``; return its path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    wheel = build_wheel(out / f".wheel-{assignment.number}")
    entries = {
        "setup.sh": (SETUP.format(venv=VENV, wheel=wheel.name).encode(), 0o755),
        "run_autograder": (RUN.format(venv=VENV, wheel=wheel.name, number=assignment.number).encode(), 0o755),
        wheel.name: (wheel.read_bytes(), 0o644),
    }
    wheel.unlink()
    wheel.parent.rmdir()
    for name in grader_modules():
        entries[f"grader/assignments/{name}"] = ((ROOT / name).read_bytes(), 0o644)
    base = f"grader/assignments/{assignment.name}"
    entries[f"{base}/README.md"] = (assignment.readme.read_bytes(), 0o644)
    starter = strip_solutions(assignment.student_file.read_text(encoding="utf-8"), str(assignment.student_file))
    entries[f"{base}/{assignment.student_file.name}"] = (starter.encode(), 0o644)
    for kind in ("public", "hidden"):
        for path in assignment.test_files(kind):
            entries[f"{base}/tests/{kind}/{path.name}"] = (path.read_bytes(), 0o644)
    for path in (assignment.test_helpers, assignment.probes):
        if path is not None:
            entries[f"{base}/tests/{path.name}"] = (path.read_bytes(), 0o644)
    target = out / f"autograder-a{assignment.number}.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            data, mode = entries[name]
            info = zipfile.ZipInfo(name, date_time=DATE)
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return target


__all__ = ["bundle", "wheel_name"]
