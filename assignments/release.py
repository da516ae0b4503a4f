"""Release: write the student version of assignments from their reference solutions.

For each assignment, ``OUT/<assignment folder>/`` receives

    README.md                the assignment's README
    <module>.py              the solution with every region replaced by
                             raise NotImplementedError("<task>")  (hints kept)
    tests/public/test_*.py   the public tests (hidden tests are left out)
    tests/helpers.py         the code the public and hidden tests share, if the assignment has it
    tests/probes.py          what runs next to the student's code (see ``catalog``)
    pytest.ini, conftest.py, checks.py, harness.py
                             so that `pytest -m <task>` runs there (see ``workspace``)

and ``OUT/`` the engine's wheel (``wheel``), which the handouts tell students
to install: minigrad and rnn, nothing of this folder.

Every Python file goes through the same region stripping, so no solution line
can leave by another route.  The output depends only on the sources: running
release twice writes identical files.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .catalog import Assignment
from .regions import strip_solutions
from .wheel import build_wheel, wheel_name
from .workspace import install_support


class ReleaseError(ValueError):
    """Release would overwrite something it must not (an existing folder, the solutions themselves)."""


def release(assignments: list[Assignment], out: Path, force: bool = False) -> list[Path]:
    """Write the student version of each assignment under ``out``, and the engine's wheel; return what was written.

    An existing target folder (or a different wheel) is replaced only with
    ``force``; the solution folders themselves are never a target.
    """
    out = Path(out)
    targets = [out / a.name for a in assignments]
    wheel = out / wheel_name()
    for assignment, target in zip(assignments, targets):
        if target.resolve() == assignment.folder.resolve():
            raise ReleaseError(f"release: {target} is the solution folder itself; choose another output folder")
        if target.exists() and not force:
            raise ReleaseError(f"release: {target} already exists; pass --force to replace it")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=".wheel-") as scratch:
        built = build_wheel(Path(scratch))
        if wheel.exists() and wheel.read_bytes() != built.read_bytes() and not force:
            raise ReleaseError(f"release: {wheel} already exists (built from another engine); pass --force to replace it")
        built.replace(wheel)
    for assignment, target in zip(assignments, targets):
        if target.exists():
            shutil.rmtree(target)
        release_one(assignment, target)
    return targets + [wheel]


def release_one(assignment: Assignment, target: Path) -> None:
    """Write one assignment's student version into the (new) folder ``target``."""
    (target / "tests" / "public").mkdir(parents=True)
    shutil.copyfile(assignment.readme, target / "README.md")
    _write_stripped(assignment.student_file, target / assignment.student_file.name)
    for test in assignment.test_files("public"):
        _write_stripped(test, target / "tests" / "public" / test.name)
    if assignment.test_helpers is not None:
        _write_stripped(assignment.test_helpers, target / "tests" / assignment.test_helpers.name)
    _write_stripped(assignment.probes, target / "tests" / assignment.probes.name)
    install_support(target, assignment)


def _write_stripped(source: Path, target: Path) -> None:
    text = source.read_text(encoding="utf-8")
    target.write_text(strip_solutions(text, str(source)), encoding="utf-8")
