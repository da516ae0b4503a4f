"""The grader on real submissions: reference solutions, released starters, a wrong solution,
an infinite loop, a run past the time limit, a syntax error, a missing file, a batch.

Every grading runs pytest in a subprocess (one per assignment), so these tests
share what they can through module-scoped fixtures.
"""

import csv
import json
import re
import shutil

import pytest

from assignments import catalog
from assignments.__main__ import main
from assignments.grade import (
    Limits,
    expected_tests,
    grade,
    grade_assignment,
    read_results,
)
from assignments.release import release

ASSIGNMENTS = catalog.all_assignments()
A1 = catalog.get(1)


def failing(result):
    return {t.nodeid for t in result.tests if not t.passed}


def of_task(result, task):
    return {t.nodeid for t in result.tests if t.task == task}


def a1_with(tmp_path, old, new, name="submission"):
    """A flat submission holding the reference backward.py with ``old`` replaced by ``new``."""
    source = A1.student_file.read_text()
    assert old in source, f"the reference solution no longer contains {old!r}"
    folder = tmp_path / name
    folder.mkdir()
    (folder / "backward.py").write_text(source.replace(old, new))
    return folder


@pytest.fixture(scope="module")
def reference():
    """Every assignment graded on its own reference solution (the source folder is a submission)."""
    return grade(catalog.ROOT, ASSIGNMENTS)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("released")
    release(ASSIGNMENTS, out)
    return out


def test_the_reference_solutions_score_full_marks(reference):
    for result in reference:
        assert result.max_score > 0 and not result.message, f"{result.name}: {result.message}"
        assert failing(result) == set(), f"{result.name}: failing on the reference solution: {failing(result)}"
        assert result.score == result.max_score == 20


def test_every_task_has_public_and_hidden_tests(reference):
    for assignment, result in zip(ASSIGNMENTS, reference):
        for task in assignment.tasks:
            kinds = {t.hidden for t in result.tests if t.task == task}
            assert kinds == {False, True}, f"{assignment.name}: {task} needs public and hidden tests, has {kinds}"


def test_the_readmes_state_the_points_the_tests_award(reference):
    for assignment, result in zip(ASSIGNMENTS, reference):
        readme = assignment.readme.read_text()
        table = dict(re.findall(r"^\| (task\d+_\d+) \|.*\| (\d+) \|$", readme, flags=re.MULTILINE))
        awarded = {task: sum(t.max_points for t in result.tests if t.task == task) for task in assignment.tasks}
        assert {task: float(points) for task, points in table.items()} == awarded, assignment.name
        assert f"({result.max_score:g} points)" in readme.splitlines()[0], assignment.name


def test_the_released_starters_score_zero_and_each_test_fails_on_its_own_task(reference, released):
    for result, full in zip(grade(released, ASSIGNMENTS), reference):
        assert result.score == 0 and result.max_score == full.max_score, result.name
        assert {t.nodeid for t in result.tests} == {t.nodeid for t in full.tests}
        for t in result.tests:
            assert t.reason.startswith(f"NotImplementedError: {t.task}  ("), (
                f"{result.name}: {t.name} should fail on its own task {t.task} only, but: {t.reason}"
            )


def test_a_missing_transpose_loses_exactly_the_matmul_points(reference, tmp_path, capsys):
    submission = a1_with(tmp_path, "return grad @ b.T, a.T @ grad", "return grad @ b, a.T @ grad")
    report = tmp_path / "results.json"
    assert main(["grade", str(submission), "--assignment", "1", "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    full = reference[0]
    lost = sum(t.max_points for t in full.tests if t.task == "task1_4")
    assert f"Assignment 1 (a1_backward): {full.max_score - lost:g} / {full.max_score:g}" in printed
    results = json.loads(report.read_text())
    failed = {t["name"] for t in results["tests"] if t["status"] == "failed"}
    assert failed == {f"A1 task1_4: {t.name}" for t in full.tests if t.task == "task1_4"}
    assert results["score"] == full.max_score - lost == sum(t["score"] for t in results["tests"])
    for t in results["tests"]:
        if t["status"] == "failed":
            assert "return grad @ b, a.T @ grad" in t["output"], "the feedback should show the student's line"
            assert "minigrad" not in t["output"], "the feedback should not show the engine's frames"


def test_an_infinite_loop_costs_only_the_test_that_runs_into_it(tmp_path):
    # unbroadcast loops forever for shape (4,), which one public test uses; the other tests of task1_1 pass
    submission = a1_with(tmp_path, "    extra = grad.ndim - len(shape)\n",
                         "    while shape == (4,):\n        pass\n    extra = grad.ndim - len(shape)\n")
    result = grade_assignment(submission, A1, Limits(timeout=120, test_timeout=5))
    looping = "tests/public/test_a1_public.py::test_unbroadcast_sums_the_axes_broadcasting_added"
    assert failing(result) == {looping}
    (t,) = [t for t in result.tests if t.nodeid == looping]
    assert t.reason.startswith("TimeLimitExceeded: the test did not finish within its time limit of 5 s")
    assert "while shape == (4,):" in t.output
    assert result.message == ""
    assert result.score == result.max_score - t.max_points


def test_a_run_past_the_assignment_time_limit_is_stopped_and_every_test_reported(reference, tmp_path):
    submission = a1_with(tmp_path, "    extra = grad.ndim - len(shape)\n",
                         "    import signal\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                         "    while True:\n        pass\n    extra = grad.ndim - len(shape)\n")
    result = grade_assignment(submission, A1, Limits(timeout=4, test_timeout=0.5))
    assert "stopped at the assignment's time limit of 4 s" in result.message
    assert {t.nodeid for t in result.tests} == {t.nodeid for t in reference[0].tests}
    assert of_task(result, "task1_1") <= failing(result)
    for t in result.tests:
        if not t.passed:
            assert t.reason.startswith("not finished: the test run was stopped at the time limit of 4 s"), t.reason


def test_a_batch_with_a_syntax_error_and_a_missing_file_writes_one_csv(tmp_path, released, capsys):
    submissions = tmp_path / "submissions"
    good = submissions / "good"
    good.mkdir(parents=True)
    shutil.copyfile(A1.student_file, good / "backward.py")
    shutil.copytree(released / "a1_backward", submissions / "starter" / "a1_backward")
    a1_with(submissions, "return grad @ b.T, a.T @ grad", "return grad @ b.T, a.T @ grad)", name="broken")
    (submissions / "empty").mkdir()
    scores, reports = tmp_path / "scores.csv", tmp_path / "reports"
    code = main(["batch", str(submissions), "--csv", str(scores), "-a", "1", "--jobs", "2",
                 "--reports", str(reports), "--test-timeout", "60"])
    assert code == 0
    assert list(csv.reader(scores.open())) == [
        ["submission", "a1_backward", "total"],
        ["broken", "0", "0"], ["empty", "0", "0"], ["good", "20", "20"], ["starter", "0", "0"],
    ]
    assert "graded 4 submissions" in capsys.readouterr().out
    line = A1.student_file.read_text().splitlines().index("        return grad @ b.T, a.T @ grad") + 1
    syntax = json.loads((reports / "broken.json").read_text())
    for t in syntax["tests"]:
        assert t["output"].startswith(f"backward.py, line {line}: SyntaxError: unmatched ')'"), t["output"]
        assert "return grad @ b.T, a.T @ grad)" in t["output"]
    missing = json.loads((reports / "empty.json").read_text())
    assert "backward.py is missing: looked in" in missing["output"]
    assert len(missing["tests"]) == len(syntax["tests"]) > 0
    for t in missing["tests"]:
        assert t["score"] == 0 and t["output"].startswith("backward.py is missing")


def test_the_grader_collects_the_tests_from_the_source_when_a_run_collected_nothing(reference):
    expected = {(e["nodeid"], e["task"], e["points"]) for e in expected_tests(A1)}
    assert expected == {(t.nodeid, t.task, t.max_points) for t in reference[0].tests}


def test_tests_without_task_or_points_markers_are_reported_not_crashed_on(tmp_path):
    folder = tmp_path / "a9_broken"
    (folder / "tests" / "public").mkdir(parents=True)
    (folder / "tests" / "hidden").mkdir()
    (folder / "README.md").write_text("# Assignment 9\n")
    (folder / "mine.py").write_text("def f():\n    # BEGIN SOLUTION task9_1\n    return 1\n    # END SOLUTION\n")
    (folder / "tests" / "public" / "test_mine.py").write_text(
        "import pytest\n\n\n@pytest.mark.task9_1\ndef test_f(student):\n    assert student.f() == 1\n"
    )
    result = grade_assignment(folder, catalog.Assignment(9, folder), Limits(timeout=60))
    assert result.tests == [] and result.score == 0
    assert "not all marked" in result.message and "needs exactly one @pytest.mark.points(n)" in result.message


def test_the_command_line_explains_itself_and_rejects_bad_input(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert all(word in out for word in ("release", "grade", "batch", "a1_backward"))
    with pytest.raises(SystemExit) as exit_info:
        main(["grade", str(tmp_path / "nowhere")])
    assert exit_info.value.code == 2
    assert "is not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["grade", str(tmp_path), "--assignment", "42"])
    assert exit_info.value.code == 2
    assert "there is no assignment 42; the assignments are 1 (a1_backward)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["grade", str(tmp_path), "--timeout", "0"])
    assert "timeout must be a positive number of seconds" in capsys.readouterr().err


def test_a_torn_or_tampered_results_file_is_read_without_failing(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text(
        '{"event": "collected", "tests": [{"nodeid": "t::a", "task": "task1_1", "points": 2}]}\n'
        '[1, 2]\n'
        '{"event": "result", "nodeid": "t::a"}\n'
        '{"event": "result", "nodeid": "t::a", "passed": true, "output": ""}\n'
        '{"event": "result", "nodeid": "t::b", "pas'
    )
    collected, results = read_results(path)
    assert collected == [{"nodeid": "t::a", "task": "task1_1", "points": 2}]
    assert list(results) == ["t::a"] and results["t::a"]["passed"] is True
