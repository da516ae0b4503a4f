"""Test support for this assignment folder: copied here as conftest.py by ``python -m assignments``.

You do not need to read or edit it.  It does what the grader does, in this process:

* the ``student`` fixture is your module as the tests see it: a test calls
  ``student.hidden_grads(...)`` or runs a probe of ``tests/probes.py`` with
  ``student.probe(...)``; arguments and results are copied as data (arrays,
  numbers, lists, tuples, dicts), exactly as they cross between the grader
  and the process that runs your code when you are graded;
* while a test of task k runs your code, the engine's own answer to task k
  is switched off (calling it raises ``SwitchedOff``), and where a test
  needs another task's function, the engine's takes the place of yours (see
  ``SWITCHED_OFF`` and ``USE_ENGINE`` in ``tests/probes.py``);
* a failure in your code is reported with the traceback cut to the lines of
  your own file, under a first line that sums it up.  ``pytest --full-trace``
  shows every frame.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import harness
import pytest

TASK = re.compile(r"^task\d+_\d+$")
ENGINE = ("minigrad", "rnn")


def pytest_addoption(parser):
    """Register the ``student_module`` setting of pytest.ini."""
    parser.addini("student_module", "the module the student edits, without .py (read by the 'student' fixture)")


def _student_path(config) -> Path:
    return Path(config.rootpath) / f"{config.getini('student_module')}.py"


@pytest.fixture
def student(request):
    """Your module, called as the grader calls it (see this file's docstring)."""
    path = _student_path(request.config)
    if not path.is_file():
        pytest.fail(f"{path.name} is missing: the tests need your {path.name} next to pytest.ini", pytrace=False)
    tasks = [m.name for m in request.node.iter_markers() if TASK.match(m.name)]
    return LocalStudent(path, request.config.getini("student_module"), tasks[0] if tasks else "")


class LocalStudent:
    """The student's module, imported for one task with that task's engine functions switched off."""

    _modules = {}  # (path, task) -> module: one import per task, as in the grader's worker

    def __init__(self, path: Path, name: str, task: str):
        import probes

        self._path, self._name, self._task, self._probes = path, name, task, probes

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args, **kwargs):
            return self._run("call", name, args, kwargs)

        call.__name__ = name
        return call

    def probe(self, name, *args, **kwargs):
        """Run ``probes.<name>(your module, *args, **kwargs)``; its result, as data."""
        return self._run("probe", name, args, kwargs)

    def _run(self, op, name, args, kwargs):
        args, kwargs = harness.roundtrip(list(args)), harness.roundtrip(dict(kwargs))
        undo = self._enter()
        try:
            module = self._module()
            function = getattr(self._probes, name) if op == "probe" else getattr(module, name)
            value = function(module, *args, **kwargs) if op == "probe" else function(*args, **kwargs)
            return harness.roundtrip(value)
        except KeyboardInterrupt:
            raise
        except harness.StudentError:
            raise
        except BaseException as error:  # noqa: BLE001 - SystemExit too: it is your code's
            raise harness.StudentError.from_exception(error, self._path) from error
        finally:
            undo()

    def _enter(self):
        """Switch off this task's engine functions (and hide the engine if the assignment is plain NumPy)."""
        steps = []
        if not getattr(self._probes, "NEEDS_ENGINE", True):
            hidden = {k: sys.modules.pop(k) for k in list(sys.modules) if k.split(".")[0] in ENGINE}
            blocker = harness.EngineBlocker(reason=getattr(self._probes, "WITHOUT_ENGINE", "")
                                            or "this assignment is written in plain NumPy")
            sys.meta_path.insert(0, blocker)

            def restore():
                sys.meta_path.remove(blocker)
                sys.modules.update(hidden)

            steps.append(restore)
        steps.append(harness.switch_off(getattr(self._probes, "SWITCHED_OFF", {}).get(self._task, ()), self._task))

        def undo():
            while steps:
                steps.pop()()

        try:
            module = self._module()
        except BaseException:
            undo()
            raise
        steps.append(harness.substitute(module, getattr(self._probes, "USE_ENGINE", {}).get(self._task, {})))
        return undo

    def _module(self):
        key = (str(self._path), self._task)
        if key not in self._modules:
            try:
                self._modules[key] = harness.load_student(self._path, self._name)
            except KeyboardInterrupt:
                raise
            except BaseException as error:  # noqa: BLE001
                described = harness.StudentError.from_exception(error, self._path).describe()
                pytest.fail(f"your {self._path.name} could not be imported: {described}", pytrace=False)
        return self._modules[key]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failure in your code is shown as ``StudentError.describe`` (unless pytest runs with --full-trace)."""
    report = yield
    if (report.failed and call.excinfo is not None and not item.config.option.fulltrace
            and isinstance(call.excinfo.value, harness.StudentError)):
        report.longrepr = call.excinfo.value.describe()
    return report
