"""The pytest plugin of the grader's test runner: the tests run here, the student's code in workers.

The grader (``grade``) runs ``python -m pytest -p assignments.runner_plugin
--grading-config=CONFIG`` in a private folder holding the assignment's tests.
This process never imports the student's file.  Each test's ``student``
fixture is a ``RemoteStudent``: ``student.hidden_grads(A, C, h, dq, "tanh")``
sends the arguments to a worker (``sandbox.launch``), which calls the
student's function and answers with the result as data; ``student.probe(name,
...)`` runs a function of the assignment's ``tests/probes.py`` next to the
student's code instead (for what is not plain data: plans, cells, the tape).
Every comparison, every point and the results file stay here.

* Markers: every test needs exactly one task marker (``task<N>_<k>``) and
  one ``points(n)`` with n > 0, or the run stops before any test (a mistake
  in the assignment, not in a submission).
* Order and workers: tests run task by task, public before hidden; each task
  gets a fresh worker (so the engine functions switched off for it, and
  whatever one task's code did, stay with that task), restarted after a
  crash or a time-out.  Between tests, processes the student's code left
  behind are killed.
* Time: a test's calls into the student's code may take ``test_timeout``
  seconds together, a task's ``task_timeout``; importing the student's file
  counts too.  Past a limit, the worker is killed and the test fails saying
  which limit and after how long; the task's next test gets a new worker, and
  other tasks are not charged.
* Reports: each failure becomes one text (``feedback``): the comparison's
  message, the student's exception with their file and line, the limit that
  stopped it, how the worker died, and what the code printed (kept up to the
  sandbox's cap; shown for public tests only).  A hidden test's code never
  appears in it.
* Results: the collected tests, then each test's outcome, are appended as
  JSON lines to the results file as soon as they are known, each signed with
  a key the grader handed over on a pipe (a worker that finds the file cannot
  add a record the grader believes).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from assignments import harness
from assignments.grade import sign
from assignments.sandbox import launch
from assignments.sandbox.runtime import Runtime

TASK_MARKER = re.compile(r"^task\d+_\d+$")
FEEDBACK_LIMIT = 8000  # characters of one test's feedback kept here (the report cuts it again)
PRINTED_SHOWN = 1500  # characters of printed output shown in a public test's feedback


class GradingFailure(Exception):
    """A test failed for a reason of the sandbox (time, a crash, an import that failed): ``str`` says it in words."""


def pytest_addoption(parser):
    group = parser.getgroup("grading", "assignment grading")
    group.addoption("--grading-config", metavar="PATH", help="the grader's JSON configuration of this run")
    group.addoption("--grading-key-fd", metavar="FD", type=int, default=None,
                    help="a pipe holding the key the results are signed with")


def pytest_configure(config):
    path = config.getoption("grading_config")
    if path:
        fd = config.getoption("grading_key_fd")
        key = ""
        if fd is not None:  # from the grader, on a pipe of its own (read, then closed)
            key = os.read(fd, 256).decode().strip()
            os.close(fd)
        session = GradingSession(json.loads(Path(path).read_text()), key)
        config.pluginmanager.register(session, "grading-session")
        if not config.option.collectonly:
            session.start_zygote()


class GradingSession:
    """The state of one graded run: the worker of the current task, the time used, the results file."""

    def __init__(self, settings: dict, key: str = ""):
        self.settings = settings
        self.key = key
        self.results = settings["results"]
        self.runtime = Runtime(**dict(settings["runtime"], root=Path(settings["runtime"]["root"])))
        uid = settings.get("uid")
        self.identity = launch.Identity(uid, None) if uid is not None else None
        self.limits = launch.SandboxLimits(**settings["limits"])
        self.test_timeout = float(settings["test_timeout"])
        self.task_timeout = float(settings["task_timeout"])
        self.startup_timeout = float(settings["startup_timeout"])
        self.worker = None
        self.worker_task = None
        self.zygote = None
        self.zygote_error = None
        self.task_used = {}
        self.test_used = 0.0
        self.test_outputs = []
        # the text every test gets once the student's file failed to import (or when there is no file)
        self.import_failure = settings.get("missing") if settings.get("student") is None else None
        self.failures = {}
        self._probes = None
        launch.become_subreaper()

    def write(self, record: dict) -> None:
        """Append one record, signed with the grader's key (``grade.sign``)."""
        if self.key:
            record = dict(record, mac=sign(record, self.key))
        with open(self.results, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    # -- collection -------------------------------------------------------------------------------------

    def pytest_collection_modifyitems(self, config, items):
        tests, problems, order = [], [], {}
        for index, item in enumerate(items):
            tasks = [m.name for m in item.iter_markers() if TASK_MARKER.match(m.name)]
            points = list(item.iter_markers("points"))
            if len(tasks) != 1:
                problems.append(f"{item.nodeid}: needs exactly one task marker such as @pytest.mark.task1_2, has {tasks}")
            elif len(points) != 1 or not _valid_points(points[0]):
                problems.append(f"{item.nodeid}: needs exactly one @pytest.mark.points(n) with a number n > 0")
            else:
                item.stash[TASK] = tasks[0]
                order[item.nodeid] = (_task_key(tasks[0]), _hidden(item.nodeid), index)
        if problems:
            raise pytest.UsageError("the assignment's tests are not all marked:\n  " + "\n  ".join(problems))
        items.sort(key=lambda item: order[item.nodeid])
        for item in items:
            points = item.get_closest_marker("points").args[0]
            tests.append({"nodeid": item.nodeid, "task": item.stash[TASK], "points": float(points)})
        self.write({"event": "collected", "tests": tests})

    # -- running ----------------------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item):
        task = item.stash.get(TASK, None)
        if self.worker is not None and task != self.worker_task:
            self.stop_worker()
        self.test_used = 0.0
        self.test_outputs = []
        if self.worker is not None:
            self.worker.output.start_test()
            self.test_outputs.append(self.worker.output)
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item, nextitem):
        try:
            return (yield)
        finally:
            if self.worker is not None:
                self.worker.kill_strays()

    @pytest.fixture
    def student(self, request):
        """The student's module, reached through a worker (see the module docstring)."""
        return RemoteStudent(self, request.node.stash[TASK], _hidden(request.node.nodeid))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if report.failed and call.excinfo is not None:
            report.longrepr = feedback(call.excinfo, item, self.test_outputs)
        return report

    def pytest_runtest_logreport(self, report):
        if report.nodeid in self.failures:
            return
        if report.failed:
            self.failures[report.nodeid] = str(report.longrepr)
        elif report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            self.failures[report.nodeid] = f"skipped: {reason}"

    def pytest_runtest_logfinish(self, nodeid, location):
        output = self.failures.pop(nodeid, None)
        self.write({"event": "result", "nodeid": nodeid, "passed": output is None,
                    "output": (output or "")[:FEEDBACK_LIMIT], "seconds": round(self.test_used, 3)})

    def pytest_sessionfinish(self, session):
        self.stop_worker()
        if self.zygote is not None:
            self.zygote.stop()
        if self.identity is not None:
            self.identity.sweep()
        else:
            launch.kill_descendants()

    # -- workers ----------------------------------------------------------------------------------------

    def start_zygote(self) -> None:
        """Start the process that forks the workers (it imports NumPy and the engine while tests load)."""
        try:
            self.zygote = launch.Zygote(self.runtime, bool(getattr(self.probes, "NEEDS_ENGINE", True)),
                                        Path(self.settings["harness"]), getattr(self.probes, "WARM_UP", None))
        except OSError as error:
            self.zygote_error = f"the grader could not start the sandbox: {error}"

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.worker, self.worker_task = None, None

    @property
    def probes(self):
        if self._probes is None:
            import probes  # the assignment's tests/probes.py: trusted, on this runner's path

            self._probes = probes
        return self._probes

    def call(self, task: str, op: str, name: str, args, kwargs):
        """Run one request in the task's worker, charging the time to the test and the task."""
        if self.import_failure is not None:
            raise GradingFailure(self.import_failure)
        allowed, which = self._allowance(task)
        if allowed <= 0:
            raise GradingFailure(which.used_up(self))
        if self.worker is None:
            self._start_worker(task, allowed)
            allowed, which = self._allowance(task)
            if allowed <= 0:
                raise GradingFailure(which.used_up(self))
        started = time.monotonic()
        try:
            answer = self.worker.request(op, name, args, kwargs, timeout=allowed)
        except launch.TimeLimit as stop:
            self._charge(task, time.monotonic() - started)
            self.stop_worker()
            raise GradingFailure(which.exceeded(self, stop.seconds)) from None
        except launch.WorkerDied as death:
            self._charge(task, time.monotonic() - started)
            self.stop_worker()
            raise GradingFailure(death.reason) from None
        except (launch.AnswerTooLarge, harness.DataError) as error:
            self._charge(task, time.monotonic() - started)
            self.stop_worker()
            raise GradingFailure(f"the process running your code sent the grader something it cannot read: {error}") \
                from None
        self._charge(task, time.monotonic() - started)
        if not answer.get("ok"):
            raise harness.StudentError.from_data(answer.get("error"))
        try:
            return harness.decode(answer.get("value"))
        except harness.DataError as error:
            raise GradingFailure(f"your code's answer could not be read: {error}") from None

    def _allowance(self, task: str):
        test_left = self.test_timeout - self.test_used
        task_left = self.task_timeout - self.task_used.get(task, 0.0)
        if task_left < test_left:
            return task_left, _TaskBudget(task)
        return test_left, _TestLimit()

    def _charge(self, task: str, seconds: float) -> None:
        self.test_used += seconds
        self.task_used[task] = self.task_used.get(task, 0.0) + seconds

    def _start_worker(self, task: str, allowed: float) -> None:
        settings = self.settings
        files = {settings["student_file"]: settings["student"], "harness.py": settings["harness"],
                 "probes.py": settings["probes"]}
        config = {"module": settings["module"], "student_file": settings["student_file"], "task": task,
                  "engine": bool(getattr(self.probes, "NEEDS_ENGINE", True)),
                  "engine_reason": getattr(self.probes, "WITHOUT_ENGINE", "")}
        if self.zygote is not None and not self.zygote.alive():
            self.zygote.stop()
            self.zygote = None
        if self.zygote is None:
            self.start_zygote()
        if self.zygote is None:
            raise GradingFailure(self.zygote_error)
        try:
            worker = launch.Worker(self.zygote, self.identity, self.limits, files, config,
                                   cpu_seconds=self.task_timeout + self.startup_timeout,
                                   startup_timeout=self.startup_timeout)
        except OSError as error:
            raise GradingFailure(f"the grader could not start the sandbox: {error}") from None
        started = time.monotonic()
        self.worker, self.worker_task = worker, task
        worker.output.start_test()
        self.test_outputs.append(worker.output)
        module = settings["student_file"]
        try:
            ready = worker.ready(timeout=self.startup_timeout + allowed)
        except launch.TimeLimit as stop:
            self._charge(task, max(stop.seconds - self.startup_timeout, 0.0))
            self.stop_worker()
            self.import_failure = (f"TimeLimitExceeded: importing {module} did not finish within the time limit "
                                   f"({allowed:g} s for your code) and was stopped after {stop.seconds:.1f} s: an "
                                   "infinite loop at the top level of your file?")
            raise GradingFailure(self.import_failure) from None
        except launch.WorkerDied as death:
            self.stop_worker()
            self.import_failure = f"importing {module} ended the process: {death.reason}"
            printed = "".join(o.text for o in self.test_outputs)[-2000:].strip()
            if printed and "Traceback" in printed:
                self.import_failure += "\n" + printed
            raise GradingFailure(self.import_failure) from None
        except (launch.AnswerTooLarge, harness.DataError) as error:
            self.stop_worker()
            self.import_failure = f"importing {module} garbled the grader's channel: {error}"
            raise GradingFailure(self.import_failure) from None
        seconds = ready.get("seconds")
        spent = time.monotonic() - started
        self._charge(task, min(float(seconds), spent) if isinstance(seconds, (int, float)) else spent)
        if not ready.get("ready"):
            error = harness.StudentError.from_data(ready.get("error"))
            self.stop_worker()
            self.import_failure = f"your {module} could not be imported: " + error.describe()
            raise GradingFailure(self.import_failure)


class _TestLimit:
    def exceeded(self, session, seconds):
        return (f"TimeLimitExceeded: your code ran past the test's time limit of {session.test_timeout:g} s and "
                f"was stopped after {seconds:.1f} s (an infinite loop?)")

    def used_up(self, session):
        return f"TimeLimitExceeded: the test's time limit of {session.test_timeout:g} s is used up"


class _TaskBudget:
    def __init__(self, task):
        self.task = task

    def exceeded(self, session, seconds):
        return (f"TimeLimitExceeded: your code used up {self.task}'s time budget of {session.task_timeout:g} s "
                f"(all its tests together) and was stopped after {seconds:.1f} s in this test")

    def used_up(self, session):
        return (f"not run: {self.task}'s time budget of {session.task_timeout:g} s (all its tests together) was "
                "used up by its earlier tests")


class RemoteStudent:
    """The student's module as the tests see it: functions called with data, answering data."""

    def __init__(self, session: GradingSession, task: str, hidden: bool):
        self._session, self._task, self._hidden = session, task, hidden

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args, **kwargs):
            return self._session.call(self._task, "call", name, args, kwargs)

        call.__name__ = name
        return call

    def probe(self, name, *args, **kwargs):
        """Run ``probes.<name>(module, *args, **kwargs)`` next to the student's code; its result, as data."""
        return self._session.call(self._task, "probe", name, args, kwargs)


TASK = pytest.StashKey[str]()


def _valid_points(marker) -> bool:
    args = marker.args
    return (len(args) == 1 and not marker.kwargs and isinstance(args[0], (int, float))
            and not isinstance(args[0], bool) and args[0] > 0)


def _hidden(nodeid: str) -> bool:
    return nodeid.startswith("tests/hidden/")


def _task_key(task: str):
    number, part = task[4:].split("_")
    return int(number), int(part)


def feedback(excinfo, item, outputs) -> str:
    """A failure as the student should see it: what went wrong, in their terms (see the module docstring)."""
    hidden = _hidden(item.nodeid)
    error = excinfo.value
    if isinstance(error, harness.StudentError):
        text = error.describe()
        if error.kind == "MemoryError":
            text += "\n(the process running your code may use at most its memory limit)"
    elif isinstance(error, GradingFailure):
        text = str(error)
    elif isinstance(error, pytest.fail.Exception):
        text = str(error.msg)
    else:
        message = str(error).strip()
        text = f"{type(error).__name__}: {message}" if message else f"{type(error).__name__}: a check failed"
        if not hidden:
            text += _test_location(excinfo, item)
    printed = [o for o in outputs if o.total]
    if printed:
        total = sum(o.total for o in printed)
        if hidden:
            text += f"\n\nYour code printed {total:,} bytes (not shown for hidden tests)."
        else:
            shown = "".join(o.text for o in printed)
            cut = shown if len(shown) <= PRINTED_SHOWN else shown[:PRINTED_SHOWN] + "\n..."
            kept = sum(len(o.kept) for o in printed)
            note = f" (output truncated: the first {kept:,} bytes were kept)" if kept < total else ""
            text += f"\n\nYour code printed {total:,} bytes{note}:\n{cut.rstrip()}"
    return text[:FEEDBACK_LIMIT]


def _test_location(excinfo, item) -> str:
    path = Path(str(item.fspath))
    for entry in reversed(excinfo.traceback):
        if Path(str(entry.path)) == path:
            try:
                line = str(entry.statement).strip().splitlines()[0]
            except (IndexError, Exception):  # noqa: BLE001
                line = ""
            return f"\n  in {item.name} ({item.nodeid.split('::')[0]}:{entry.lineno + 1}): {line}"
    return ""
