"""The assignments next to this file: where each one's files are and which tasks it has.

An assignment is a folder ``a<N>_<slug>/`` (N its number) holding

    README.md                  goals, tasks, grading, points (released as it is)
    <module>.py                the one file a student edits, here as the reference solution
                               with its solution regions marked (see ``regions``)
    tests/public/test_*.py     tests the student gets
    tests/hidden/test_*.py     tests only the grader runs
    tests/helpers.py           optional: code the public and hidden tests share (the student
                               gets it with the public tests, so it holds no hidden test)
    tests/probes.py            what runs next to the student's code: the probes the tests
                               call, and which engine functions each task switches off

Nothing else is declared anywhere: the task list comes from the solution
regions, the points from the tests' markers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .regions import sort_tasks, task_ids

ROOT = Path(__file__).resolve().parent
FOLDER = re.compile(r"^a(?P<number>\d+)_[a-z0-9_]+$")
TEST_KINDS = ("public", "hidden")
STUB = re.compile(r'raise NotImplementedError\("(task\d+_\d+)"\)')
SUPPORT_MODULES = ("conftest.py", "checks.py")  # what ``workspace`` writes next to the student module
HELPERS = "helpers.py"  # in tests/, importable from both kinds of tests as `helpers` (pytest.ini puts tests/ on the path)
PROBES = "probes.py"  # in tests/: runs next to the student's code (the grader's worker, or the student's pytest)


class AssignmentError(ValueError):
    """An assignment does not exist, or its folder does not follow the layout above."""


@dataclass(frozen=True)
class Assignment:
    """One assignment folder (see the module docstring for its layout)."""

    number: int
    folder: Path

    @property
    def name(self) -> str:
        """The folder name, e.g. ``a1_backward``: also the name of the released folder."""
        return self.folder.name

    @property
    def student_file(self) -> Path:
        """The one module at the top of the folder: the file a student edits and hands in."""
        modules = sorted(p for p in self.folder.glob("*.py") if p.name not in SUPPORT_MODULES)
        if len(modules) != 1:
            found = ", ".join(p.name for p in modules) or "none"
            raise AssignmentError(
                f"{self.name}: expected exactly one student module (*.py) at the top of the folder, found {found}"
            )
        return modules[0]

    @property
    def student_module(self) -> str:
        """The student module's import name (the file name without .py)."""
        return self.student_file.stem

    @property
    def tasks(self) -> list[str]:
        """The task ids of the solution regions, in order (task1_1, task1_2, ...).

        A folder that holds the released starter instead of the solution (a
        Gradescope bundle) has no regions: its ``raise NotImplementedError("task1_2")``
        stubs name the tasks instead.
        """
        text = self.student_file.read_text(encoding="utf-8")
        tasks = task_ids(text, str(self.student_file)) or sort_tasks(set(STUB.findall(text)))
        wrong = [t for t in tasks if not t.startswith(f"task{self.number}_")]
        if wrong:
            raise AssignmentError(
                f"{self.student_file}: regions of assignment {self.number} must be named task{self.number}_<k>, "
                f"got {', '.join(wrong)}"
            )
        return tasks

    @property
    def readme(self) -> Path:
        return self.folder / "README.md"

    @property
    def title(self) -> str:
        """The README's first heading, without its '#'."""
        for line in self.readme.read_text(encoding="utf-8").splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip()
        return self.name

    @property
    def test_helpers(self) -> Path | None:
        """``tests/helpers.py``, the code the public and hidden tests share, or None if there is none."""
        path = self.folder / "tests" / HELPERS
        return path if path.is_file() else None

    @property
    def probes(self) -> Path:
        """``tests/probes.py``: the code that runs next to the student's (see the module docstring)."""
        path = self.folder / "tests" / PROBES
        if not path.is_file():
            raise AssignmentError(f"{self.name}: tests/{PROBES} is missing (it says what runs next to the student's code)")
        return path

    def test_files(self, kind: str) -> list[Path]:
        """The test modules of one kind ("public" or "hidden"), sorted by name."""
        if kind not in TEST_KINDS:
            raise ValueError(f"kind must be one of {TEST_KINDS}, got {kind!r}")
        return sorted((self.folder / "tests" / kind).glob("test_*.py"))


def grader_modules(root: Path = ROOT) -> list[str]:
    """The grader's own modules (paths relative to ``root``): its top-level *.py and sandbox/*.py, sorted.

    A grading imports its grader from a copy of these (``grade.Pristine``), and
    a Gradescope zip ships them; assignment folders are not among them.
    """
    return sorted([p.name for p in root.glob("*.py")] + [f"sandbox/{p.name}" for p in root.glob("sandbox/*.py")])


def all_assignments(root: Path = ROOT) -> list[Assignment]:
    """Every assignment folder under ``root``, by number."""
    found = []
    for folder in root.iterdir():
        match = FOLDER.match(folder.name)
        if match and folder.is_dir():
            found.append(Assignment(int(match.group("number")), folder))
    return sorted(found, key=lambda a: a.number)


def get(number: int, root: Path = ROOT) -> Assignment:
    """The assignment with this number, or AssignmentError listing the ones there are."""
    assignments = all_assignments(root)
    for assignment in assignments:
        if assignment.number == number:
            return assignment
    available = ", ".join(f"{a.number} ({a.name})" for a in assignments)
    raise AssignmentError(f"there is no assignment {number}; the assignments are {available}")


def select(numbers=None, root: Path = ROOT) -> list[Assignment]:
    """The assignments with these numbers (all of them when ``numbers`` is empty or None)."""
    if not numbers:
        return all_assignments(root)
    return [get(n, root) for n in sorted(set(numbers))]
