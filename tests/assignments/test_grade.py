"""The grader on real submissions: reference solutions, released starters, a wrong solution,
an infinite loop, a syntax error, a missing file, a batch, the command line.

Every grading runs a test runner and sandboxed workers in subprocesses, so
these tests share what they can through module-scoped fixtures.
"""

import csv
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from assignments import catalog
from assignments.__main__ import main
from assignments.batch import grade_batch
from assignments.grade import Limits, expected_tests, grade_assignment, read_results, sign
from assignments.release import release

ASSIGNMENTS = catalog.all_assignments()
A1, A2 = catalog.get(1), catalog.get(2)
REPO = catalog.ROOT.parent


def failing(result):
    return {t.nodeid for t in result.tests if not t.passed}


def of_task(result, task):
    return {t.nodeid for t in result.tests if t.task == task}


def with_change(assignment, tmp_path, old, new, name="submission"):
    """A flat submission holding the reference file with ``old`` replaced by ``new``."""
    source = assignment.student_file.read_text()
    assert old in source, f"the reference solution no longer contains {old!r}"
    folder = tmp_path / name
    folder.mkdir(parents=True)
    (folder / assignment.student_file.name).write_text(source.replace(old, new))
    return folder


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("released")
    release(ASSIGNMENTS, out)
    return out


@pytest.fixture(scope="module")
def graded(released, tmp_path_factory):
    """Every reference solution and every released starter, graded side by side (one batch, two at a time)."""
    folder = tmp_path_factory.mktemp("class")
    shutil.copytree(catalog.ROOT, folder / "reference", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(released, folder / "starter")
    return grade_batch(folder, ASSIGNMENTS, folder / "scores.csv", jobs=2)


def test_the_reference_solutions_score_full_marks(graded):
    for result in graded["reference"]:
        assert result.max_score > 0 and not result.message, f"{result.name}: {result.message}"
        assert failing(result) == set(), f"{result.name}: failing on the reference solution: " + "; ".join(
            f"{t.name}: {t.reason}" for t in result.tests if not t.passed)
        assert result.score == result.max_score == 20


def test_every_task_has_public_and_hidden_tests_and_public_ones_run_first(graded):
    for assignment, result in zip(ASSIGNMENTS, graded["reference"]):
        for task in assignment.tasks:
            kinds = [t.hidden for t in result.tests if t.task == task]
            assert set(kinds) == {False, True}, f"{assignment.name}: {task} needs public and hidden tests"
            assert kinds == sorted(kinds), f"{assignment.name}: {task}'s hidden tests ran before its public ones"


def test_the_readmes_state_the_points_the_tests_award(graded):
    for assignment, result in zip(ASSIGNMENTS, graded["reference"]):
        readme = assignment.readme.read_text()
        table = dict(re.findall(r"^\| (task\d+_\d+) \|.*\| (\d+) \|$", readme, flags=re.MULTILINE))
        awarded = {task: sum(t.max_points for t in result.tests if t.task == task) for task in assignment.tasks}
        assert {task: float(points) for task, points in table.items()} == awarded, assignment.name
        assert f"({result.max_score:g} points)" in readme.splitlines()[0], assignment.name


def test_the_released_starters_score_zero_and_each_test_fails_on_its_own_task(graded):
    for result, full in zip(graded["starter"], graded["reference"]):
        assert result.score == 0 and result.max_score == full.max_score, result.name
        assert {t.nodeid for t in result.tests} == {t.nodeid for t in full.tests}
        for t in result.tests:
            assert t.reason.startswith(f"NotImplementedError: {t.task}  ("), (
                f"{result.name}: {t.name} should fail on its own task {t.task} only, but: {t.reason}"
            )


def test_a_missing_transpose_loses_exactly_the_matmul_points(graded, tmp_path, capsys):
    submission = with_change(A1, tmp_path, "return grad @ b.T, a.T @ grad", "return grad @ b, a.T @ grad")
    report = tmp_path / "results.json"
    assert main(["grade", str(submission), "--assignment", "1", "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    full = graded["reference"][0]
    lost = sum(t.max_points for t in full.tests if t.task == "task1_4")
    assert f"Assignment 1 (a1_backward): {full.max_score - lost:g} / {full.max_score:g}" in printed
    results = json.loads(report.read_text())
    failed = {t["name"] for t in results["tests"] if t["status"] == "failed"}
    assert failed == {f"A1 task1_4: {t.name}" for t in full.tests if t.task == "task1_4"}
    assert results["score"] == full.max_score - lost == sum(t["score"] for t in results["tests"])
    for t in results["tests"]:
        if t["status"] == "failed":
            assert "(backward.py:" in t["output"] and "return grad @ b, a.T @ grad" in t["output"], t["output"]
            assert "minigrad" not in t["output"], "the feedback should not show the engine's frames"


def test_a_syntax_error_a_missing_file_and_a_starter_in_one_batch(tmp_path, released, capsys):
    submissions = tmp_path / "submissions"
    good = submissions / "good"
    good.mkdir(parents=True)
    shutil.copyfile(A2.student_file, good / "bptt.py")
    shutil.copytree(released / "a2_bptt", submissions / "starter" / "a2_bptt")
    with_change(A2, submissions, "    return dA, dB\n", "    return dA, dB)\n", name="broken")
    (submissions / "empty").mkdir()
    scores, reports = tmp_path / "scores.csv", tmp_path / "reports"
    code = main(["batch", str(submissions), "--csv", str(scores), "-a", "2", "--jobs", "2",
                 "--reports", str(reports)])
    assert code == 0
    assert list(csv.reader(scores.open())) == [
        ["submission", "a2_bptt", "total"],
        ["broken", "0", "0"], ["empty", "0", "0"], ["good", "20", "20"], ["starter", "0", "0"],
    ]
    assert "graded 4 submissions" in capsys.readouterr().out
    line = A2.student_file.read_text().splitlines().index("    return dA, dB") + 1
    syntax = json.loads((reports / "broken.json").read_text())
    for t in syntax["tests"]:
        assert t["output"].startswith(
            f"your bptt.py could not be imported: SyntaxError: unmatched ')'  (bptt.py:{line})"), t["output"]
        assert "return dA, dB)" in t["output"]
    missing = json.loads((reports / "empty.json").read_text())
    assert "bptt.py is missing: looked in" in missing["output"]
    assert len(missing["tests"]) == len(syntax["tests"]) > 0
    for t in missing["tests"]:
        assert t["score"] == 0 and t["output"].startswith("bptt.py is missing")


def test_the_grader_collects_the_tests_from_the_source_when_a_run_collected_nothing(graded):
    expected = {(e["nodeid"], e["task"], e["points"]) for e in expected_tests(A1)}
    assert expected == {(t.nodeid, t.task, t.max_points) for t in graded["reference"][0].tests}


def test_tests_without_task_or_points_markers_are_reported_not_crashed_on(tmp_path):
    folder = tmp_path / "a9_broken"
    (folder / "tests" / "public").mkdir(parents=True)
    (folder / "tests" / "hidden").mkdir()
    (folder / "README.md").write_text("# Assignment 9\n")
    (folder / "mine.py").write_text("def f():\n    # BEGIN SOLUTION task9_1\n    return 1\n    # END SOLUTION\n")
    (folder / "tests" / "probes.py").write_text("NEEDS_ENGINE = False\n")
    (folder / "tests" / "public" / "test_mine.py").write_text(
        "import pytest\n\n\n@pytest.mark.task9_1\ndef test_f(student):\n    assert student.f() == 1\n"
    )
    result = grade_assignment(folder, catalog.Assignment(9, folder), Limits(test_timeout=10))
    assert result.tests == [] and result.score == 0
    assert "not all marked" in result.message and "needs exactly one @pytest.mark.points(n)" in result.message


def test_the_command_line_explains_itself_and_rejects_bad_input(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert all(word in out for word in ("release", "grade", "batch", "gradescope", "a1_backward"))
    with pytest.raises(SystemExit) as exit_info:
        main(["grade", str(tmp_path / "nowhere")])
    assert exit_info.value.code == 2
    assert "is not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["grade", str(tmp_path), "--assignment", "42"])
    assert exit_info.value.code == 2
    assert "there is no assignment 42; the assignments are 1 (a1_backward)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["grade", str(tmp_path), "--task-timeout", "0"])
    assert "task_timeout must be a positive number" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["grade", str(tmp_path), "--memory", "lots"])
    assert exit_info.value.code == 2 and "not a size: 'LOTS'" in capsys.readouterr().err


def test_python_m_assignments_works_from_any_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-m", "assignments", "--help"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert "gradescope" in run.stdout


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


def test_a_record_without_the_runners_signature_is_not_believed(tmp_path):
    key = "0123456789abcdef" * 4
    real = {"event": "result", "nodeid": "t::a", "passed": False, "output": "AssertionError: off"}
    tests = {"event": "collected", "tests": [{"nodeid": "t::a", "task": "task1_1", "points": 2}]}
    forged_tests = {"event": "collected", "tests": [{"nodeid": "t::x", "task": "task1_1", "points": 1000}]}
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in [
        dict(tests, mac=sign(tests, key)), dict(real, mac=sign(real, key)), forged_tests,
        dict(real, passed=True), dict(real, passed=True, mac=sign(real, key)), dict(real, passed=True, mac="0" * 64),
    ]) + "\n")
    collected, results = read_results(path, key)
    assert collected == tests["tests"]
    assert results["t::a"]["passed"] is False


def test_the_runner_imports_the_grader_from_its_pristine_copy_only(tmp_path):
    """Every module the runner imports is in the copy: none falls back on this repository."""
    from assignments.grade import PRISTINE

    PRISTINE.write(tmp_path, A2)
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import assignments.runner_plugin, assignments.sandbox.worker; "
             "print('\\n'.join(m.__file__ for n, m in sorted(sys.modules.items()) if n.split('.')[0] == 'assignments'))")
    run = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "_grader")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    files = run.stdout.split()
    assert len(files) > 5 and all(f.startswith(str(tmp_path / "_grader")) for f in files), files
