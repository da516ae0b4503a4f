"""Grading results and the three ways they are written: a table, Gradescope's results.json, a CSV.

A test is worth the points of its ``points`` marker, all or nothing.  The
Gradescope report follows the autograder's results.json format
(https://gradescope-autograders.readthedocs.io/en/latest/specs/): a top-level
``score``, ``execution_time``, ``output`` and a ``tests`` list whose entries
have ``name``, ``number``, ``score``, ``max_score``, ``status``
("passed"/"failed"), ``output``, ``tags`` and ``visibility``; hidden tests
are "after_published", so students see them once the grades are published.
Each test's output is cut to OUTPUT_LIMIT characters (Gradescope shows it as
it is; a flood of text helps nobody).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from .regions import sort_tasks

REASON_WIDTH = 90
OUTPUT_LIMIT = 4000  # characters of one test's output in results.json


@dataclass
class GradedTest:
    """One test of one assignment, graded."""

    nodeid: str  # as pytest names it: tests/public/test_a1_public.py::test_unbroadcast[...]
    task: str
    max_points: float
    passed: bool
    output: str = ""  # the failure text (cut to the student's lines); empty when passed
    seconds: float = 0.0  # how long the student's code ran in this test

    @property
    def points(self) -> float:
        return self.max_points if self.passed else 0.0

    @property
    def hidden(self) -> bool:
        return self.nodeid.startswith("tests/hidden/")

    @property
    def name(self) -> str:
        """The test function (with its parameters), marked "(hidden)" for a hidden test."""
        short = self.nodeid.split("::")[-1]
        return f"{short} (hidden)" if self.hidden else short

    @property
    def reason(self) -> str:
        """The first line of the failure text; empty when the test passed."""
        lines = self.output.strip().splitlines()
        return lines[0].strip() if lines and not self.passed else ""


@dataclass
class AssignmentResult:
    """Every test of one assignment for one submission, plus what the grader itself has to say."""

    number: int
    name: str
    tests: list = field(default_factory=list)
    message: str = ""  # a problem of the run as a whole (time limit, missing file); empty if none
    execution_time: float = 0.0

    @property
    def score(self) -> float:
        return sum(t.points for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_points for t in self.tests)

    def sorted_tests(self) -> list:
        """Tests by task, then in the order they ran (public before hidden)."""
        order = {task: i for i, task in enumerate(sort_tasks({t.task for t in self.tests}))}
        return sorted(self.tests, key=lambda t: (order[t.task], t.hidden))


def _number(x: float) -> str:
    return f"{x:g}"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def format_table(results: list, details: bool = False) -> str:
    """The grader's printout: one table per assignment (task, test, points, passed, reason), then the total.

    With ``details``, each failed test's full feedback follows its table.
    """
    blocks = []
    for result in results:
        rows = [("task", "test", "points", "passed", "reason")]
        for t in result.sorted_tests():
            rows.append((t.task, t.name, f"{_number(t.points)}/{_number(t.max_points)}",
                         "yes" if t.passed else "no", _shorten(t.reason, REASON_WIDTH)))
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = [f"Assignment {result.number} ({result.name}): {_number(result.score)} / {_number(result.max_score)}"]
        if result.message:
            lines.append(f"  note: {result.message}")
        for row in rows:
            lines.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4])
        if details:
            for t in result.sorted_tests():
                if not t.passed:
                    lines.append(f"\n  -- {t.task} {t.name}\n" + _indent(t.output.strip(), "     "))
        blocks.append("\n".join(line.rstrip() for line in lines))
    total = sum(r.score for r in results)
    maximum = sum(r.max_score for r in results)
    blocks.append(f"Total: {_number(total)} / {_number(maximum)}")
    return "\n\n".join(blocks) + "\n"


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def gradescope_results(results: list) -> dict:
    """The results in the shape of Gradescope's results.json."""
    tests = []
    for result in results:
        for t in result.sorted_tests():
            tests.append({
                "name": f"A{result.number} {t.task}: {t.name}",
                "number": t.task[4:].replace("_", "."),
                "score": t.points,
                "max_score": t.max_points,
                "status": "passed" if t.passed else "failed",
                "output": cap(t.output.strip()),
                "tags": [result.name, t.task],
                "visibility": "after_published" if t.hidden else "visible",
            })
    summary = [f"Assignment {r.number} ({r.name}): {_number(r.score)} / {_number(r.max_score)}"
               + (f"  ({r.message})" if r.message else "") for r in results]
    return {
        "score": sum(r.score for r in results),
        "execution_time": round(sum(r.execution_time for r in results), 3),
        "output": cap("\n".join(summary)),
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def cap(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """``text``, cut to ``limit`` characters with a note saying how much was cut."""
    if len(text) <= limit:
        return text
    note = f"\n... ({len(text) - limit:,} more characters cut)"
    return text[:limit - len(note)] + note


def write_json(path: Path, results: list) -> None:
    """Write the Gradescope results.json of ``results`` to ``path``."""
    Path(path).write_text(json.dumps(gradescope_results(results), indent=2) + "\n", encoding="utf-8")


def write_csv(path: Path, graded: dict, assignment_names: list) -> None:
    """One row per submission (in the order given): its score in each assignment, and the total.

    ``graded`` maps a submission's name to its list of AssignmentResult.
    """
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", *assignment_names, "total"])
        for submission, results in graded.items():
            by_name = {r.name: r.score for r in results}
            scores = [by_name.get(name, 0.0) for name in assignment_names]
            writer.writerow([submission, *(_number(s) for s in scores), _number(sum(scores))])
