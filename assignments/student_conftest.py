"""Test support for this assignment folder: copied here as conftest.py by ``python -m assignments``.

You do not need to read or edit it.  It does two things:

* the ``student`` fixture imports your module (its name is ``student_module``
  in pytest.ini) inside each test, so a missing file or a syntax error fails
  every test with a clear message instead of stopping the whole run;
* a failure is reported with the traceback cut to the lines of your own file
  (the tests' and the engine's frames are left out), under a first line that
  sums it up.  ``pytest --full-trace`` shows every frame.
"""

from __future__ import annotations

import importlib
import traceback
from pathlib import Path

import pytest


def pytest_addoption(parser):
    """Register the ``student_module`` setting of pytest.ini."""
    parser.addini("student_module", "the module the student edits, without .py (read by the 'student' fixture)")


def _student_path(config) -> Path:
    return Path(config.rootpath) / f"{config.getini('student_module')}.py"


@pytest.fixture
def student(request):
    """The student's module: a clear failure if it is missing or does not parse."""
    path = _student_path(request.config)
    if not path.is_file():
        pytest.fail(f"{path.name} is missing: the tests need your {path.name} next to pytest.ini", pytrace=False)
    try:
        return importlib.import_module(path.stem)
    except SyntaxError as error:
        pytest.fail(_syntax_message(error, path), pytrace=False)


def _syntax_message(error: SyntaxError, path: Path) -> str:
    """'backward.py, line 12: SyntaxError: invalid syntax', then the line and a caret, as Python prints it.

    The file named is the one the error is in: the student's module or a file it imports.
    """
    name = Path(error.filename).name if error.filename else path.name
    lines = [f"{name}, line {error.lineno}: {type(error).__name__}: {error.msg}"]
    if error.text:
        code = error.text.rstrip("\n")
        indent = len(code) - len(code.lstrip())
        lines.append(f"    {code.strip()}")
        if error.offset:
            lines.append("    " + " " * max(error.offset - 1 - indent, 0) + "^")
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Replace a failure's report by ``feedback`` (unless pytest runs with --full-trace)."""
    report = yield
    if report.failed and call.excinfo is not None and not item.config.option.fulltrace:
        report.longrepr = feedback(call.excinfo, _student_path(item.config))
    return report


def feedback(excinfo, student_path: Path) -> str:
    """A failure as the student should see it: a one-line summary, then their own frames, then the full message."""
    error = excinfo.value
    if isinstance(error, pytest.fail.Exception):
        return str(error.msg)
    message = str(error).strip()
    kind = type(error).__name__
    mine = [frame for frame in traceback.extract_tb(excinfo.tb) if _same_file(frame.filename, student_path)]
    first = message.splitlines()[0] if message else ""
    where = f"  ({student_path.name}:{mine[-1].lineno})" if mine else ""
    lines = [f"{kind}: {first}{where}" if first else f"{kind}{where}"]
    if mine:
        lines.append(f"Traceback in {student_path.name} (most recent call last):")
        for frame in mine:
            lines.append(f"  line {frame.lineno}, in {frame.name}")
            if frame.line:
                lines.append(f"    {frame.line}")
    if "\n" in message:
        lines.append(f"{kind}: {message}")
    return "\n".join(lines)


def _same_file(filename: str, path: Path) -> bool:
    try:
        return Path(filename).resolve() == path.resolve()
    except OSError:
        return False
