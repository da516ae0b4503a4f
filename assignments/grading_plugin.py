"""The pytest plugin the grader loads into each test run (``-p assignments.grading_plugin``).

* Markers: every test must carry exactly one task marker (``task<N>_<k>``)
  and one ``points(n)`` marker with n > 0.  A test without them is a mistake
  in the assignment, reported before any test runs.
* Time limits: a test's setup and its call each get ``--grading-test-timeout``
  seconds (SIGALRM).  A test that runs past it fails with TimeLimitExceeded
  and the run goes on with the next test, so one infinite loop costs only
  the tests that run into it.
* Results: the list of tests, then each test's outcome as soon as it is known,
  are appended as JSON lines to ``--grading-results``; a run the grader has
  to kill still leaves everything that finished.

The failure text recorded is the report's text, which the assignment's
conftest.py has already cut to the student's own lines; its first line is the
one-line reason shown in the grader's table.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal

import pytest

TASK_MARKER = re.compile(r"^task\d+_\d+$")


class TimeLimitExceeded(BaseException):
    """A test ran past its time limit.

    A BaseException, not an Exception, so that a student's ``except Exception``
    inside the loop cannot swallow it.
    """


def pytest_addoption(parser):
    group = parser.getgroup("grading", "assignment grading")
    group.addoption("--grading-results", metavar="PATH", help="append the tests and their outcomes here, as JSON lines")
    group.addoption("--grading-test-timeout", metavar="SECONDS", type=float, default=None,
                    help="time limit for each test's setup and for its call")


def pytest_configure(config):
    config.pluginmanager.register(GradingSession(config), "grading-session")


class GradingSession:
    """The hooks of one graded run: marker checks, time limits, and the results file."""

    def __init__(self, config):
        self.path = config.getoption("grading_results")
        self.test_timeout = config.getoption("grading_test_timeout")
        self.failures = {}  # nodeid -> the text of the first phase that did not pass

    def write(self, record: dict) -> None:
        """Append one JSON line, closing the file at once so that a killed run loses nothing written."""
        if self.path:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    def pytest_collection_modifyitems(self, config, items):
        tests, problems = [], []
        for item in items:
            tasks = [m.name for m in item.iter_markers() if TASK_MARKER.match(m.name)]
            points = list(item.iter_markers("points"))
            if len(tasks) != 1:
                problems.append(f"{item.nodeid}: needs exactly one task marker such as @pytest.mark.task1_2, has {tasks}")
            elif len(points) != 1 or not _valid_points(points[0]):
                problems.append(f"{item.nodeid}: needs exactly one @pytest.mark.points(n) with a number n > 0")
            else:
                tests.append({"nodeid": item.nodeid, "task": tasks[0], "points": float(points[0].args[0])})
        if problems:
            raise pytest.UsageError("the assignment's tests are not all marked:\n  " + "\n  ".join(problems))
        self.write({"event": "collected", "tests": tests})

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item):
        with _time_limit(self.test_timeout):
            return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        with _time_limit(self.test_timeout):
            return (yield)

    def pytest_runtest_logreport(self, report):
        if report.nodeid in self.failures:
            return
        if report.failed:
            self.failures[report.nodeid] = report.longreprtext
        elif report.skipped:
            self.failures[report.nodeid] = f"skipped: {_skip_reason(report)}"

    def pytest_runtest_logfinish(self, nodeid, location):
        output = self.failures.pop(nodeid, None)
        self.write({"event": "result", "nodeid": nodeid, "passed": output is None, "output": output or ""})


def _valid_points(marker) -> bool:
    args = marker.args
    return (len(args) == 1 and not marker.kwargs and isinstance(args[0], (int, float))
            and not isinstance(args[0], bool) and args[0] > 0)


def _skip_reason(report) -> str:
    if isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    return report.longreprtext


@contextlib.contextmanager
def _time_limit(seconds: float | None):
    """Raise TimeLimitExceeded in the main thread if the block runs longer than ``seconds``."""
    if not seconds or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise TimeLimitExceeded(
            f"the test did not finish within its time limit of {seconds:g} s (an infinite loop?) and was stopped"
        )

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
