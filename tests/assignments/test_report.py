"""The grader's three outputs from known results: the table, Gradescope's results.json, the CSV."""

import csv
import json

from assignments.report import (
    AssignmentResult,
    GradedTest,
    format_table,
    write_csv,
    write_json,
)


def sample_results():
    passed = GradedTest("tests/public/test_a.py::test_add", "task1_2", 2.0, True)
    failed = GradedTest("tests/hidden/test_b.py::test_mul[3-4]", "task1_1", 3.0, False,
                        "NotImplementedError: task1_1  (backward.py:40)\nTraceback in backward.py ...\n" + "x" * 200)
    first = AssignmentResult(1, "a1_backward", [passed, failed], execution_time=1.25)
    second = AssignmentResult(2, "a2_bptt", [GradedTest("tests/public/t.py::test_h", "task2_1", 4.0, True)],
                              message="the test run was stopped at the assignment's time limit of 5 s",
                              execution_time=0.5)
    return [first, second]


def test_table_lists_each_test_by_task_with_points_and_a_one_line_reason():
    table = format_table(sample_results())
    lines = table.splitlines()
    assert lines[0] == "Assignment 1 (a1_backward): 2 / 5"
    header = lines[1].split()
    assert header == ["task", "test", "points", "passed", "reason"]
    assert lines[2].split()[:5] == ["task1_1", "test_mul[3-4]", "(hidden)", "0/3", "no"]
    assert lines[2].endswith("NotImplementedError: task1_1  (backward.py:40)")
    assert lines[3].split() == ["task1_2", "test_add", "2/2", "yes"]
    assert "note: the test run was stopped at the assignment's time limit of 5 s" in table
    assert lines[-1] == "Total: 6 / 9"
    assert "Traceback" not in table


def test_table_details_show_the_whole_feedback_of_failed_tests_only():
    table = format_table(sample_results(), details=True)
    assert "-- task1_1 test_mul[3-4] (hidden)" in table
    assert "Traceback in backward.py ..." in table
    assert "-- task1_2" not in table


def test_long_reasons_are_cut_to_one_short_line():
    result = AssignmentResult(3, "a3", [GradedTest("tests/public/t.py::test_x", "task3_1", 1.0, False, "E" * 500)])
    row = format_table([result]).splitlines()[2]
    assert row.endswith("...") and len(row) < 200


def test_gradescope_results_have_the_autograder_fields_and_hide_hidden_tests_until_published(tmp_path):
    path = tmp_path / "results.json"
    write_json(path, sample_results())
    report = json.loads(path.read_text())
    assert report["score"] == 6.0
    assert report["execution_time"] == 1.75
    assert report["output"].splitlines()[0] == "Assignment 1 (a1_backward): 2 / 5"
    tests = report["tests"]
    assert [t["name"] for t in tests] == [
        "A1 task1_1: test_mul[3-4] (hidden)", "A1 task1_2: test_add", "A2 task2_1: test_h",
    ]
    assert [(t["score"], t["max_score"], t["status"]) for t in tests] == [
        (0.0, 3.0, "failed"), (2.0, 2.0, "passed"), (4.0, 4.0, "passed"),
    ]
    assert [t["visibility"] for t in tests] == ["after_published", "visible", "visible"]
    assert [t["number"] for t in tests] == ["1.1", "1.2", "2.1"]
    assert tests[0]["output"].startswith("NotImplementedError: task1_1")
    assert tests[0]["tags"] == ["a1_backward", "task1_1"]
    assert sum(t["score"] for t in tests) == report["score"]


def test_csv_has_one_row_per_submission_a_column_per_assignment_and_the_total(tmp_path):
    path = tmp_path / "scores.csv"
    graded = {"bob": sample_results(), "alice": sample_results()[:1]}
    write_csv(path, graded, ["a1_backward", "a2_bptt"])
    rows = list(csv.reader(path.open()))
    assert rows == [
        ["submission", "a1_backward", "a2_bptt", "total"],
        ["bob", "2", "4", "6"],
        ["alice", "2", "0", "2"],
    ]


def test_each_tests_output_in_results_json_is_capped(tmp_path):
    flood = GradedTest("tests/hidden/t.py::test_x", "task1_1", 1.0, False, "ValueError: " + "z" * 50_000)
    path = tmp_path / "results.json"
    write_json(path, [AssignmentResult(1, "a1_backward", [flood])])
    (entry,) = json.loads(path.read_text())["tests"]
    assert len(entry["output"]) <= 4000
    assert entry["output"].startswith("ValueError: zzz") and entry["output"].endswith("more characters cut)")
