"""Batch grading: a folder of submissions, one sub-folder per student, graded into one CSV.

    submissions/
        alice/a1_backward/backward.py ...    (a released tree handed back)
        bob/backward.py ...                  (or the files alone)

Each sub-folder is graded like ``python -m assignments grade`` grades one
submission, from a fresh copy of the grader's files (``grade.Pristine``), so
that one submission cannot change the next one's grade; the CSV has a row
per sub-folder (sorted by name) and a column per assignment plus the total.
Grading runs in subprocesses, each with a sandbox user of its own, so
``jobs`` submissions can be graded side by side.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .grade import DEFAULT_LIMITS, Limits, grade
from .report import write_csv, write_json


def submissions_in(folder: Path) -> list[Path]:
    """The submission folders in ``folder``: its sub-folders, sorted, hidden ones (.git, ...) left out."""
    return sorted(p for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def grade_batch(folder: Path, assignments: list, csv_path: Path, limits: Limits = DEFAULT_LIMITS, jobs: int = 1,
                reports: Path | None = None, on_graded=None) -> dict:
    """Grade every submission in ``folder``; write the CSV (and one results.json per submission into ``reports``).

    ``on_graded(name, results)`` is called as each submission is done.
    Returns {submission name: [AssignmentResult, ...]}.
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    submissions = submissions_in(folder)
    if reports is not None:
        Path(reports).mkdir(parents=True, exist_ok=True)

    def one(submission: Path):
        results = grade(submission, assignments, limits)
        if reports is not None:
            write_json(Path(reports) / f"{submission.name}.json", results)
        if on_graded is not None:
            on_graded(submission.name, results)
        return results

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        graded = dict(zip((s.name for s in submissions), pool.map(one, submissions)))
    write_csv(csv_path, graded, [a.name for a in assignments])
    return graded
