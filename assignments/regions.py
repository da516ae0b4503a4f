"""Solution regions: the marked lines of a reference solution that a student must write.

A region is a block of lines between two marker comments, indented like the
code it holds, and names the task it belongs to:

    def unbroadcast(grad, shape):
        # Hint: sum over the axes broadcasting added.      <- a hint: kept
        # BEGIN SOLUTION task1_1
        ...the reference code...                            <- removed on release
        # END SOLUTION

Releasing replaces each region (markers included) by one line at the BEGIN
marker's indentation, ``raise NotImplementedError("task1_1")``, so the starter
still imports and every unfinished task fails with its own id.  Comments
above a region are outside it and survive: that is where hints go.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION\b(?P<rest>.*)$")
END = re.compile(r"^[ \t]*# END SOLUTION\b(?P<rest>.*)$")
TASK_ID = re.compile(r"^task(?P<assignment>\d+)_(?P<task>\d+)$")


class RegionError(ValueError):
    """A solution file's region markers are malformed (unclosed, nested, stray or without a task id)."""


@dataclass(frozen=True)
class Region:
    """Lines ``begin`` .. ``end`` (1-based, both markers included) of a file, solving ``task``."""

    task: str
    begin: int
    end: int
    indent: str
    body: tuple  # the lines strictly between the markers

    def stub(self) -> str:
        """The line that replaces the region in the released starter."""
        return f'{self.indent}raise NotImplementedError("{self.task}")'


def find_regions(text: str, filename: str = "<text>") -> list[Region]:
    """Every solution region of ``text``, in order; RegionError (naming file and line) if the markers are malformed."""
    regions, open_at, indent, task, body = [], None, "", "", []
    for number, line in enumerate(text.splitlines(), start=1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if open_at is not None:
                raise RegionError(
                    f"{filename}:{number}: '# BEGIN SOLUTION' inside the region opened at line {open_at}; "
                    "close that one with '# END SOLUTION' first (regions do not nest)"
                )
            task = begin.group("rest").strip()
            if not TASK_ID.match(task):
                raise RegionError(
                    f"{filename}:{number}: '# BEGIN SOLUTION' must name its task, as in "
                    f"'# BEGIN SOLUTION task1_2', got {task!r}"
                )
            open_at, indent, body = number, begin.group("indent"), []
        elif end:
            if open_at is None:
                raise RegionError(f"{filename}:{number}: '# END SOLUTION' without a '# BEGIN SOLUTION' before it")
            if end.group("rest").strip():
                raise RegionError(f"{filename}:{number}: nothing may follow '# END SOLUTION' on its line")
            regions.append(Region(task, open_at, number, indent, tuple(body)))
            open_at = None
        elif open_at is not None:
            body.append(line)
    if open_at is not None:
        raise RegionError(f"{filename}:{open_at}: '# BEGIN SOLUTION' is never closed by '# END SOLUTION'")
    return regions


def strip_solutions(text: str, filename: str = "<text>") -> str:
    """``text`` with every region replaced by its ``raise NotImplementedError(task)`` line."""
    regions = find_regions(text, filename)
    lines = text.splitlines()
    out, start = [], 0
    for region in regions:
        out.extend(lines[start:region.begin - 1])
        out.append(region.stub())
        start = region.end
    out.extend(lines[start:])
    return "\n".join(out) + "\n"


def task_ids(text: str, filename: str = "<text>") -> list[str]:
    """The distinct task ids of the regions in ``text``, sorted by assignment and task number."""
    return sort_tasks({region.task for region in find_regions(text, filename)})


def sort_tasks(tasks) -> list[str]:
    """Task ids in their natural order: task1_2 before task1_10."""
    def key(task):
        match = TASK_ID.match(task)
        return (int(match.group("assignment")), int(match.group("task"))) if match else (10**9, 0)
    return sorted(tasks, key=lambda t: (key(t), t))
