"""Grade a submission: the tests run in the grader, the student's code in a sandboxed worker.

For each assignment the grader

1. writes a private folder (readable by the grader alone) with the
   assignment's tests, their helpers and probes, and a copy of the grader's
   own modules, all from bytes read once when grading began (``Pristine``):
   whatever an earlier submission did, the next one is graded by the same files;
2. makes sure the runtime exists (``sandbox.runtime``: an interpreter, NumPy
   and the engine, built from the engine's wheel, never from this repository)
   and, as root, takes a sandbox user of its own (``sandbox.launch.Identity``);
3. runs the tests with pytest in a subprocess, the test runner
   (``runner_plugin``), which starts the workers that import the student's
   file and answer the tests' calls; the runner writes each test's outcome;
4. kills whatever is left of the sandbox user and turns the outcomes into an
   AssignmentResult, one GradedTest per test, whatever happened.

A submission is a folder.  The student's file is looked for in
``SUBMISSION/<assignment folder>/`` (a whole released tree handed back) and
then in ``SUBMISSION/`` itself (a flat upload, as on Gradescope).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .catalog import ROOT, Assignment, grader_modules
from .report import AssignmentResult, GradedTest
from .workspace import runner_pytest_ini

DEFAULT_TEST_TIMEOUT = 30.0  # seconds of the student's code per test
DEFAULT_TASK_TIMEOUT = 90.0  # seconds of the student's code per task, all its tests together
DEFAULT_MEMORY = 2 * 1024 ** 3  # bytes of address space of a worker
STARTUP_TIMEOUT = 60.0  # seconds for a worker to start (the interpreter, NumPy, the engine), not charged
RESULTS_FILE = "grading-results.jsonl"
LOG_FILE = "runner-output.txt"
LOG_TAIL = 2000


@dataclass(frozen=True)
class Limits:
    """Time in seconds (per test, per task, and a safety net for one assignment's whole run) and memory in bytes."""

    test_timeout: float = DEFAULT_TEST_TIMEOUT
    task_timeout: float = DEFAULT_TASK_TIMEOUT
    memory: int = DEFAULT_MEMORY
    timeout: float | None = None  # None: enough for every task's budget, plus start-up

    def __post_init__(self):
        for name in ("test_timeout", "task_timeout", "memory"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {self.timeout!r}")

    def overall(self, tasks: int) -> float:
        """The whole run's time limit: ``timeout``, or every task's budget and start-up, plus a margin."""
        if self.timeout is not None:
            return self.timeout
        return tasks * (self.task_timeout + STARTUP_TIMEOUT) + 300.0


DEFAULT_LIMITS = Limits()


@dataclass
class _Run:
    """What one runner left behind."""

    collected: list
    results: dict
    killed: bool
    log: str


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
    found = find_student_file(Path(submission), assignment)
    missing = None
    if found is None:
        missing = (f"{assignment.student_file.name} is missing: looked in "
                   f"{Path(submission) / assignment.name} and {submission}")
        result.message = missing
    try:
        run = _run(assignment, found, missing, limits)
    except Exception as error:  # noqa: BLE001 - whatever broke, every test still gets a result
        run = _Run([], {}, False, f"the grader could not run the tests: {type(error).__name__}: {error}")
    result.tests, message = _test_results(assignment, run, limits)
    result.message = "; ".join(m for m in (result.message, message) if m)
    result.execution_time = time.monotonic() - start
    return result


def _run(assignment: Assignment, student: Path | None, missing: str | None, limits: Limits,
         collect_only: bool = False) -> _Run:
    from .sandbox import launch, runtime as runtimes

    runtime = runtimes.ensure()
    identity = launch.Identity.acquire(runtimes.cache_root() / "slots")
    folder = Path(tempfile.mkdtemp(prefix=f"grade-{assignment.name}-"))
    try:
        PRISTINE.write(folder, assignment)
        settings = {
            "results": str(folder / RESULTS_FILE), "runtime": _runtime_settings(runtime),
            "uid": identity.uid if identity else None, "limits": asdict(launch.SandboxLimits(memory=limits.memory)),
            "test_timeout": limits.test_timeout, "task_timeout": limits.task_timeout,
            "startup_timeout": STARTUP_TIMEOUT, "student_file": assignment.student_file.name,
            "module": assignment.student_module, "harness": str(folder / "harness.py"),
            "probes": str(folder / "tests" / "probes.py"), "student": None, "missing": missing,
        }
        if student is not None:
            copy = folder / "submission" / assignment.student_file.name
            copy.parent.mkdir()
            shutil.copyfile(student, copy)
            settings["student"] = str(copy)
        (folder / "config.json").write_text(json.dumps(settings))
        return _run_runner(folder, limits.overall(len(assignment.tasks)), collect_only)
    finally:
        if identity is not None:
            identity.release()
        shutil.rmtree(folder, ignore_errors=True)


def _runtime_settings(runtime) -> dict:
    return {"root": str(runtime.root), "mode": runtime.mode, "python": runtime.python, "site": runtime.site,
            "engine": runtime.engine, "library_path": runtime.library_path,
            "network_namespace": runtime.network_namespace}


def _run_runner(folder: Path, timeout: float, collect_only: bool) -> _Run:
    command = [sys.executable, "-B", "-m", "pytest", "-q", "--color=no", "-p", "no:cacheprovider", "--assert=plain",
               "-p", "assignments.runner_plugin", f"--grading-config={folder / 'config.json'}"]
    if collect_only:
        command.append("--collect-only")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON"))}
    env.update(PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=str(folder / "_grader"))
    killed = False
    key = secrets.token_hex(32)  # the runner signs its records with it: a worker cannot forge one
    key_read, key_write = os.pipe()  # handed over on a pipe of its own: nowhere a worker could look
    os.write(key_write, key.encode())
    os.close(key_write)
    command.append(f"--grading-key-fd={key_read}")
    with open(folder / LOG_FILE, "w", encoding="utf-8") as log:
        try:
            process = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True, pass_fds=(key_read,))
        finally:
            os.close(key_read)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            killed = True
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    collected, results = read_results(folder / RESULTS_FILE, key)
    tail = (folder / LOG_FILE).read_text(encoding="utf-8", errors="replace")[-LOG_TAIL:]
    return _Run(collected, results, killed, tail)


def read_results(path: Path, key: str | None = None):
    """The collected tests and the results per nodeid from the runner's JSON lines.

    A line that is not a well-formed record (a torn last line of a killed run,
    say) is skipped, and so is, with ``key``, a record whose signature is not
    the runner's (``sign``): where the worker could reach the results file (a
    grader that is not root), it still cannot add a record the grader believes.
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
        if key is not None:
            mac = record.pop("mac", None)
            if not (isinstance(mac, str) and hmac.compare_digest(mac, sign(record, key))):
                continue
        if record.get("event") == "collected" and _is_test_list(record.get("tests")):
            collected = record["tests"]
        elif record.get("event") == "result" and _is_result(record):
            results[record["nodeid"]] = record
    return collected, results


def sign(record: dict, key: str) -> str:
    """The HMAC-SHA256 of a record (without its "mac"), with the run's key."""
    return hmac.new(key.encode(), json.dumps(record, sort_keys=True).encode(), hashlib.sha256).hexdigest()


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
    overall = limits.overall(len(assignment.tasks))
    if run.killed:
        message = f"the test run was stopped at the assignment's time limit of {overall:g} s"
    if not collected:
        try:
            collected = expected_tests(assignment)
        except Exception as error:  # noqa: BLE001 - the grader still prints and writes what it has
            collected, run.log = [], f"{run.log}\n(the tests could not be collected either: {error})"
        if not run.killed:
            message = "the tests could not be run: " + _last_lines(run.log)
    if run.killed:
        missing = f"not finished: the test run was stopped at the time limit of {overall:g} s"
    else:
        missing = "not run: the test runner stopped before this test (" + _last_lines(run.log) + ")"
    tests = []
    for entry in collected:
        record = run.results.get(entry["nodeid"])
        if record is None:
            tests.append(GradedTest(entry["nodeid"], entry["task"], entry["points"], False, missing))
        else:
            tests.append(GradedTest(entry["nodeid"], entry["task"], entry["points"], record["passed"],
                                    record["output"], float(record.get("seconds", 0.0) or 0.0)))
    return tests, message


def _last_lines(log: str, n: int = 3) -> str:
    lines = [line.strip() for line in log.strip().splitlines() if line.strip()]
    return " / ".join(lines[-n:]) if lines else "no output"


def expected_tests(assignment: Assignment) -> list:
    """The tests and points of an assignment, as collected from its source.

    Needed only when a run ended before collection finished (killed at the
    time limit, say): the points a submission failed to earn still count in
    its maximum.  Collected once per assignment and process.
    """
    return [dict(entry) for entry in _reference_tests(assignment)]


@functools.cache
def _reference_tests(assignment: Assignment) -> tuple:
    run = _run(assignment, None, "collecting only", DEFAULT_LIMITS, collect_only=True)
    return tuple(run.collected)


class Pristine:
    """The grader's files, read once: every grading writes its private folder from these bytes.

    A submission cannot change the tests that grade the next one, even where
    the sandbox is weaker (a grader that is not root): the runner imports the
    grader's modules from this copy, not from the repository.
    """

    def __init__(self):
        self._files = {}
        self._lock = threading.Lock()

    def files(self, assignment: Assignment) -> dict:
        """{path in the private folder: bytes} for one assignment."""
        with self._lock:
            if assignment.folder not in self._files:
                self._files[assignment.folder] = self._read(assignment)
            return self._files[assignment.folder]

    @staticmethod
    def _read(assignment: Assignment) -> dict:
        files = {}
        for kind in ("public", "hidden"):
            for path in assignment.test_files(kind):
                files[f"tests/{kind}/{path.name}"] = path.read_bytes()
        for name in ("helpers.py", "probes.py"):
            path = assignment.folder / "tests" / name
            if path.is_file():
                files[f"tests/{name}"] = path.read_bytes()
        files["checks.py"] = (ROOT / "shared_checks.py").read_bytes()
        files["harness.py"] = (ROOT / "harness.py").read_bytes()
        files["pytest.ini"] = runner_pytest_ini(assignment).encode()
        for name in grader_modules():
            files[f"_grader/assignments/{name}"] = (ROOT / name).read_bytes()
        return files

    def write(self, folder: Path, assignment: Assignment) -> None:
        for name, data in self.files(assignment).items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            os.chmod(path, 0o444)


PRISTINE = Pristine()
