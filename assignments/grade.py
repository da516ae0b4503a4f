"""Grade a submission: run an assignment's public and hidden tests on the student's file, with time limits.

For each assignment the grader builds a fresh temporary folder with

    <module>.py             the student's file, from the submission
    tests/public, hidden    the tests, from the assignment's source (never the submission's:
                            a student cannot edit the tests that grade them)
    pytest.ini, conftest.py see ``workspace``

and runs ``python -m pytest`` there in a subprocess with the grading plugin
(``grading_plugin``): each test has its own time limit, the run as a whole
another, and the results come back through a JSON-lines file.  Whatever
happens (a failing test, an infinite loop, a syntax error, a missing file, a
run that has to be killed) the grader returns an AssignmentResult for every
test and never raises.

A submission is a folder.  The student's file is looked for in
``SUBMISSION/<assignment folder>/`` (a whole released tree handed back) and
then in ``SUBMISSION/`` itself (a flat upload, as on Gradescope).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .catalog import ROOT, Assignment
from .report import AssignmentResult, GradedTest
from .workspace import copy_tests, install_support

DEFAULT_TIMEOUT = 120.0  # seconds for the whole test run of one assignment
DEFAULT_TEST_TIMEOUT = 30.0  # seconds for one test's setup, and again for its call
RESULTS_FILE = "grading-results.jsonl"
LOG_FILE = "pytest-output.txt"
LOG_TAIL = 2000  # characters of pytest's own output kept for a message


@dataclass(frozen=True)
class Limits:
    """Time limits in seconds: ``timeout`` for an assignment's whole run, ``test_timeout`` per test."""

    timeout: float = DEFAULT_TIMEOUT
    test_timeout: float = DEFAULT_TEST_TIMEOUT

    def __post_init__(self):
        for name in ("timeout", "test_timeout"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")


DEFAULT_LIMITS = Limits()


@dataclass
class _Run:
    """What one pytest subprocess left behind."""

    collected: list  # [{"nodeid", "task", "points"}] or [] if collection never finished
    results: dict  # nodeid -> {"passed", "output"}
    killed: bool  # the run hit the assignment's time limit
    log: str  # the tail of pytest's own output


def find_student_file(submission: Path, assignment: Assignment) -> Path | None:
    """The student's file in the submission (see the module docstring), or None."""
    name = assignment.student_file.name
    for folder in (submission / assignment.name, submission):
        if (folder / name).is_file():
            return folder / name
    return None


def grade(submission: Path, assignments: list, limits: Limits = DEFAULT_LIMITS) -> list:
    """Grade one submission folder on each assignment; one AssignmentResult each, in order."""
    return [grade_assignment(Path(submission), a, limits) for a in assignments]


def grade_assignment(submission: Path, assignment: Assignment, limits: Limits = DEFAULT_LIMITS) -> AssignmentResult:
    """Run the assignment's tests on the submission's file; every test gets a result, whatever happens."""
    start = time.monotonic()
    result = AssignmentResult(assignment.number, assignment.name)
    found = find_student_file(submission, assignment)
    if found is None:
        result.message = (f"{assignment.student_file.name} is missing: looked in "
                          f"{submission / assignment.name} and {submission}")
    try:
        with tempfile.TemporaryDirectory(prefix=f"grade-{assignment.name}-", ignore_cleanup_errors=True) as tmp:
            run = _run_pytest(_prepare(Path(tmp), assignment, found), limits)
    except OSError as error:
        run = _Run([], {}, False, f"the grader could not prepare the test run: {error}")
    result.tests, message = _test_results(assignment, run, limits)
    result.message = "; ".join(m for m in (result.message, message) if m)
    result.execution_time = time.monotonic() - start
    return result


def _prepare(workspace: Path, assignment: Assignment, student_file: Path | None) -> Path:
    """Fill ``workspace`` with the student's file (if any), the tests and the support files."""
    if student_file is not None:
        shutil.copyfile(student_file, workspace / assignment.student_file.name)
    copy_tests(workspace, assignment)
    install_support(workspace, assignment)
    return workspace


def _run_pytest(workspace: Path, limits: Limits, extra: tuple = ()) -> _Run:
    """Run pytest in ``workspace`` with the grading plugin; kill it at the time limit."""
    results_path = workspace / RESULTS_FILE
    command = [
        sys.executable, "-m", "pytest", "-q", "--color=no", "-p", "no:cacheprovider",
        "-p", "assignments.grading_plugin",
        f"--grading-results={results_path}",
        f"--grading-test-timeout={min(limits.test_timeout, limits.timeout):g}",
        *extra,
    ]
    env = dict(os.environ)
    for variable in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS"):
        env.pop(variable, None)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT.parent), env.get("PYTHONPATH")) if p)
    killed = False
    with open(workspace / LOG_FILE, "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=workspace, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            process.wait(timeout=limits.timeout)
        except subprocess.TimeoutExpired:
            killed = True
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    collected, results = read_results(results_path)
    tail = (workspace / LOG_FILE).read_text(encoding="utf-8", errors="replace")[-LOG_TAIL:]
    return _Run(collected, results, killed, tail)


def read_results(path: Path):
    """The collected tests and the results per nodeid from the plugin's JSON lines.

    A line that is not a well-formed record (a torn last line of a killed run,
    say) is skipped.
    """
    collected, results = [], {}
    if not path.exists():
        return collected, results
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(record, dict):
            continue
        if record.get("event") == "collected" and _is_test_list(record.get("tests")):
            collected = record["tests"]
        elif record.get("event") == "result" and _is_result(record):
            results[record["nodeid"]] = record
    return collected, results


def _is_test_list(tests) -> bool:
    return isinstance(tests, list) and all(
        isinstance(t, dict) and isinstance(t.get("nodeid"), str) and isinstance(t.get("task"), str)
        and isinstance(t.get("points"), (int, float)) for t in tests
    )


def _is_result(record: dict) -> bool:
    return (isinstance(record.get("nodeid"), str) and isinstance(record.get("passed"), bool)
            and isinstance(record.get("output"), str))


def _test_results(assignment: Assignment, run: _Run, limits: Limits):
    """(GradedTest per test, a message about the run as a whole) from what the run left behind."""
    collected = run.collected
    message = ""
    if run.killed:
        message = f"the test run was stopped at the assignment's time limit of {limits.timeout:g} s"
    if not collected:
        collected = expected_tests(assignment)
        if not run.killed:
            message = "the tests could not be run: " + _last_lines(run.log)
    if run.killed:
        missing = f"not finished: the test run was stopped at the time limit of {limits.timeout:g} s"
    else:
        missing = "not run: pytest stopped before this test (" + _last_lines(run.log) + ")"
    tests = []
    for entry in collected:
        record = run.results.get(entry["nodeid"])
        if record is None:
            tests.append(GradedTest(entry["nodeid"], entry["task"], entry["points"], False, missing))
        else:
            tests.append(GradedTest(entry["nodeid"], entry["task"], entry["points"], record["passed"],
                                    record["output"]))
    return tests, message


def _last_lines(log: str, n: int = 3) -> str:
    lines = [line.strip() for line in log.strip().splitlines() if line.strip()]
    return " / ".join(lines[-n:]) if lines else "no output"


def expected_tests(assignment: Assignment) -> list:
    """The tests and points of an assignment, as collected from its source.

    Needed only when a run ended before pytest finished collecting (killed at
    the time limit, say): the points a submission failed to earn still count
    in its maximum.  Collected once per assignment and process.
    """
    return [dict(entry) for entry in _reference_tests(assignment)]


@functools.cache
def _reference_tests(assignment: Assignment) -> tuple:
    with tempfile.TemporaryDirectory(prefix=f"collect-{assignment.name}-", ignore_cleanup_errors=True) as tmp:
        run = _run_pytest(_prepare(Path(tmp), assignment, None), DEFAULT_LIMITS, extra=("--collect-only",))
    return tuple(run.collected)
