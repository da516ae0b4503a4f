"""The files that make a folder a runnable assignment: pytest.ini, conftest.py, checks.py and harness.py.

A released assignment (what a student gets) holds the student module at the
top and the public tests under ``tests/``; ``install_support`` writes what
turns it into a folder where ``pytest -m task1_2`` works under
``--strict-markers``:

* pytest.ini names the student module, puts the folder and ``tests/`` on
  ``sys.path`` (so that the tests can ``import checks``, ``helpers`` and
  ``probes``) and registers ``points`` and one marker per task;
* conftest.py is ``student_conftest.py``: the ``student`` fixture (the
  student's module, called in this process the way the grader's worker calls
  it) and the failure reports cut to the student's own lines;
* checks.py is ``shared_checks.py``: ``check_close``, the comparison that the
  tests of every assignment use;
* harness.py is ``harness.py``: data in and out, and the engine functions
  switched off for the task under test, shared with the grader's worker.

The grader's own test runner gets ``runner_pytest_ini`` instead, and no
conftest.py: its ``student`` fixture comes from ``runner_plugin``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .catalog import ROOT, Assignment

CONFTEST_SOURCE = ROOT / "student_conftest.py"
CHECKS_SOURCE = ROOT / "shared_checks.py"
HARNESS_SOURCE = ROOT / "harness.py"


def _markers(assignment: Assignment) -> str:
    module = assignment.student_module
    return "\n".join(
        f"    {task}: task {task[4:].replace('_', '.')} of assignment {assignment.number} ({module}.py)"
        for task in assignment.tasks
    )


def pytest_ini(assignment: Assignment) -> str:
    """The pytest.ini of a released folder (the same text every time: release is deterministic)."""
    return (
        f"# Written by `python -m assignments` for {assignment.name}; run `pytest` or `pytest -m <task>` here.\n"
        "[pytest]\n"
        "addopts = --strict-markers\n"
        "testpaths = tests\n"
        "pythonpath = . tests\n"
        f"student_module = {assignment.student_module}\n"
        "markers =\n"
        "    points(n): how many points the test is worth\n"
        f"{_markers(assignment)}\n"
    )


def runner_pytest_ini(assignment: Assignment) -> str:
    """The pytest.ini of the grader's private folder (its tests, no student module)."""
    return (
        f"# Written by `python -m assignments` to grade {assignment.name}.\n"
        "[pytest]\n"
        "addopts = --strict-markers\n"
        "testpaths = tests\n"
        "pythonpath = . tests\n"
        "markers =\n"
        "    points(n): how many points the test is worth\n"
        f"{_markers(assignment)}\n"
    )


def install_support(folder: Path, assignment: Assignment) -> None:
    """Write pytest.ini, conftest.py, checks.py and harness.py into ``folder``."""
    (folder / "pytest.ini").write_text(pytest_ini(assignment), encoding="utf-8")
    shutil.copyfile(CONFTEST_SOURCE, folder / "conftest.py")
    shutil.copyfile(CHECKS_SOURCE, folder / "checks.py")
    shutil.copyfile(HARNESS_SOURCE, folder / "harness.py")
