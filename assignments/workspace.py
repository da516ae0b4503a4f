"""The files that make a folder a runnable assignment: pytest.ini, conftest.py and checks.py.

Both a released assignment (what a student gets) and a grading workspace
(what the grader runs) are folders with the student module at the top and the
tests under ``tests/``.  This module writes what turns such a folder into one
where ``pytest -m task1_2`` works under ``--strict-markers``:

* pytest.ini names the student module, puts the folder and ``tests/`` on
  ``sys.path`` (so that the tests can ``import checks`` and ``import helpers``)
  and registers ``points`` and one marker per task;
* conftest.py is ``student_conftest.py``: the ``student`` fixture and the
  failure reports cut to the student's own lines;
* checks.py is ``shared_checks.py``: ``check_close``, the comparison that the
  tests of every assignment use.

The assignment's own ``tests/helpers.py`` (see ``catalog``) travels with its
tests instead: ``copy_tests`` here, ``release`` for the student version.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .catalog import ROOT, TEST_KINDS, Assignment

CONFTEST_SOURCE = ROOT / "student_conftest.py"
CHECKS_SOURCE = ROOT / "shared_checks.py"


def pytest_ini(assignment: Assignment) -> str:
    """The pytest.ini of an assignment folder (the same text every time: release is deterministic)."""
    module = assignment.student_module
    markers = "\n".join(
        f"    {task}: task {task[4:].replace('_', '.')} of assignment {assignment.number} ({module}.py)"
        for task in assignment.tasks
    )
    return (
        f"# Written by `python -m assignments` for {assignment.name}; run `pytest` or `pytest -m <task>` here.\n"
        "[pytest]\n"
        "addopts = --strict-markers\n"
        "testpaths = tests\n"
        "pythonpath = . tests\n"
        f"student_module = {module}\n"
        "markers =\n"
        "    points(n): how many points the test is worth\n"
        f"{markers}\n"
    )


def install_support(folder: Path, assignment: Assignment) -> None:
    """Write pytest.ini, conftest.py and checks.py into ``folder``."""
    (folder / "pytest.ini").write_text(pytest_ini(assignment), encoding="utf-8")
    shutil.copyfile(CONFTEST_SOURCE, folder / "conftest.py")
    shutil.copyfile(CHECKS_SOURCE, folder / "checks.py")


def copy_tests(folder: Path, assignment: Assignment) -> None:
    """Copy the assignment's tests into ``folder/tests``: public/, hidden/, and helpers.py if it has one."""
    for kind in TEST_KINDS:
        target = folder / "tests" / kind
        target.mkdir(parents=True, exist_ok=True)
        for path in assignment.test_files(kind):
            shutil.copyfile(path, target / path.name)
    if assignment.test_helpers is not None:
        shutil.copyfile(assignment.test_helpers, folder / "tests" / assignment.test_helpers.name)
