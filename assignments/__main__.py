"""The command line: ``python -m assignments release|grade|batch|gradescope|prepare ...`` (from any folder).

    python -m assignments release dist/                      # student versions, and the engine's wheel
    python -m assignments grade SUBMISSION --json results.json
    python -m assignments batch submissions/ --csv scores.csv
    python -m assignments gradescope out/ -a 3               # out/autograder-a3.zip
    python -m assignments prepare                            # build the sandbox's runtime now

A bad command prints one line and exits with code 2; grading itself always
prints its table and writes its report, whatever the submission does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import catalog
from .batch import grade_batch
from .grade import DEFAULT_MEMORY, DEFAULT_TASK_TIMEOUT, DEFAULT_TEST_TIMEOUT, Limits, grade
from .regions import RegionError
from .release import ReleaseError, release
from .report import format_table, write_json


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m assignments",
        description="Release graded assignments from their reference solutions, and grade submissions with pytest.",
        epilog="Assignments: " + ", ".join(f"{a.number} ({a.name})" for a in catalog.all_assignments())
        + ". See assignments/README.md for the instructor's guide.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rel = commands.add_parser(
        "release", help="write the student version (starter code, public tests, README)",
        description="Write OUT/<assignment>/ for each assignment: the module with every solution region replaced "
                    "by raise NotImplementedError(\"<task>\"), the README, the public tests and their helpers, "
                    "pytest.ini, conftest.py and checks.py. Hidden tests are left out. The output is the same "
                    "every time.",
    )
    rel.add_argument("out", type=Path, metavar="OUT", help="folder to write the released assignments into")
    rel.add_argument("--assignment", "-a", type=int, action="append", metavar="N",
                     help="release only assignment N (repeatable; default: all)")
    rel.add_argument("--force", action="store_true", help="replace released folders that already exist in OUT")

    gsc = commands.add_parser(
        "gradescope", help="write a Gradescope autograder zip for one assignment",
        description="Write OUT/autograder-a<N>.zip: setup.sh, run_autograder, the engine's wheel, the grader and "
                    "the assignment's public and hidden tests (no solution). Gradescope runs the grader as root; "
                    "the student's code runs as the sandbox's unprivileged user.",
    )
    gsc.add_argument("out", type=Path, metavar="OUT", help="folder to write the zip into")
    gsc.add_argument("--assignment", "-a", type=int, required=True, metavar="N", help="the assignment")

    commands.add_parser(
        "prepare", help="build the sandbox's runtime now (grading builds it when it is missing)",
        description="Build (or find) the runtime the sandboxed workers run from, print where it is and what "
                    "the sandbox can do on this machine.",
    )

    def add_grading_options(sub):
        sub.add_argument("--assignment", "-a", type=int, action="append", metavar="N",
                         help="grade only assignment N (repeatable; default: all)")
        sub.add_argument("--test-timeout", type=float, default=DEFAULT_TEST_TIMEOUT, metavar="SECONDS",
                         help=f"time the student's code may run in one test (default {DEFAULT_TEST_TIMEOUT:g})")
        sub.add_argument("--task-timeout", type=float, default=DEFAULT_TASK_TIMEOUT, metavar="SECONDS",
                         help=f"time the student's code may run in all the tests of one task together "
                              f"(default {DEFAULT_TASK_TIMEOUT:g})")
        sub.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                         help="a safety net for one assignment's whole run (default: every task's budget, plus "
                              "start-up)")
        sub.add_argument("--memory", type=_size, default=DEFAULT_MEMORY, metavar="SIZE",
                         help=f"address space of the process running the student's code, e.g. 2G or 512M "
                              f"(default {DEFAULT_MEMORY // 2 ** 30}G)")

    grd = commands.add_parser(
        "grade", help="grade one submission: print a table, optionally write Gradescope's results.json",
        description="Run the public and hidden tests of each assignment on the submission's files, in a fresh "
                    "folder, with time limits. The student's file is looked for in SUBMISSION/<assignment>/ and "
                    "then in SUBMISSION/.",
    )
    grd.add_argument("submission", type=Path, metavar="SUBMISSION", help="the submission folder")
    add_grading_options(grd)
    grd.add_argument("--json", type=Path, metavar="PATH", help="write the report as Gradescope's results.json here")
    grd.add_argument("--details", action="store_true", help="print each failed test's feedback under the table")

    bat = commands.add_parser(
        "batch", help="grade a folder of submissions (one sub-folder each) into one CSV",
        description="Grade every sub-folder of SUBMISSIONS as a submission and write one CSV row per submission: "
                    "its score in each assignment and the total.",
    )
    bat.add_argument("submissions", type=Path, metavar="SUBMISSIONS", help="folder holding one folder per submission")
    bat.add_argument("--csv", type=Path, required=True, metavar="PATH", help="the CSV of scores to write")
    bat.add_argument("--reports", type=Path, metavar="DIR", help="also write DIR/<submission>.json (Gradescope format)")
    bat.add_argument("--jobs", "-j", type=int, default=1, metavar="N", help="grade N submissions at a time (default 1)")
    add_grading_options(bat)
    return parser


def _size(text: str) -> int:
    """'2G', '512M', '1500000000' -> bytes."""
    units = {"K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (write 2G, 512M or a number of bytes)") from None


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        assignments = catalog.select(getattr(args, "assignment", None))
        if args.command == "release":
            for folder in release(assignments, args.out, force=args.force):
                print(f"released {folder}")
            return 0
        if args.command == "gradescope":
            from .gradescope import bundle

            print(f"wrote {bundle(assignments[0], args.out)}")
            return 0
        if args.command == "prepare":
            return _prepare()
        limits = Limits(args.test_timeout, args.task_timeout, args.memory, args.timeout)
        if args.command == "grade":
            return _grade(args, assignments, limits)
        return _batch(args, assignments, limits)
    except (catalog.AssignmentError, RegionError, ReleaseError, ValueError) as error:
        parser.exit(2, f"{parser.prog} {args.command}: error: {error}\n")


def _prepare() -> int:
    from .sandbox import runtime as runtimes

    runtime = runtimes.ensure()
    print(f"runtime: {runtime.root} (mode {runtime.mode})")
    for line in runtimes.protections(runtime):
        print(f"  {line}")
    return 0


def _grade(args, assignments, limits) -> int:
    if not args.submission.is_dir():
        raise ValueError(f"the submission {args.submission} is not a folder")
    results = grade(args.submission, assignments, limits)
    print(format_table(results, details=args.details), end="")
    if args.json is not None:
        write_json(args.json, results)
        print(f"wrote {args.json}")
    return 0


def _batch(args, assignments, limits) -> int:
    if not args.submissions.is_dir():
        raise ValueError(f"the submissions folder {args.submissions} is not a folder")

    def progress(name, results):
        print(f"{name}: {sum(r.score for r in results):g} / {sum(r.max_score for r in results):g}", flush=True)

    graded = grade_batch(args.submissions, assignments, args.csv, limits, jobs=args.jobs,
                         reports=args.reports, on_graded=progress)
    print(f"graded {len(graded)} submissions; wrote {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
