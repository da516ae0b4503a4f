"""Release: starters without any solution line, hints kept, deterministic, and runnable with `pytest -m <task>`."""

import filecmp
import os
import shutil
import subprocess
import sys

import pytest

from assignments import catalog
from assignments.regions import find_regions
from assignments.release import ReleaseError, release

ASSIGNMENTS = catalog.all_assignments()


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("released")
    release(ASSIGNMENTS, out)
    return out


def test_there_are_five_assignments_with_tasks_and_distinct_student_files():
    assert [a.number for a in ASSIGNMENTS] == [1, 2, 3, 4, 5]
    for assignment in ASSIGNMENTS:
        assert assignment.tasks, f"{assignment.name} has no solution region"
        assert assignment.test_files("public") and assignment.test_files("hidden"), assignment.name
    names = [a.student_file.name for a in ASSIGNMENTS]
    assert len(set(names)) == len(names), f"a flat submission needs distinct file names, got {names}"


def test_release_writes_the_starter_the_public_tests_and_the_support_files_only(released):
    for assignment in ASSIGNMENTS:
        publics = [f"tests/public/{p.name}" for p in assignment.test_files("public")]
        expected = sorted(["README.md", "conftest.py", "pytest.ini", assignment.student_file.name, *publics])
        assert files_under(released / assignment.name) == expected


def test_release_is_deterministic(released, tmp_path):
    release(ASSIGNMENTS, tmp_path)
    for assignment in ASSIGNMENTS:
        first, second = released / assignment.name, tmp_path / assignment.name
        names = files_under(first)
        assert names == files_under(second)
        _, mismatch, errors = filecmp.cmpfiles(first, second, names, shallow=False)
        assert (mismatch, errors) == ([], []), f"{assignment.name}: these files differ between two releases"


def test_no_solution_line_survives_release(released):
    everything = "\n".join(p.read_text() for p in released.rglob("*") if p.is_file())
    assert "BEGIN SOLUTION" not in everything and "END SOLUTION" not in everything
    for assignment in ASSIGNMENTS:
        source = assignment.student_file.read_text()
        regions = find_regions(source)
        inside = {n for r in regions for n in range(r.begin, r.end + 1)}
        outside = {line.strip() for n, line in enumerate(source.splitlines(), 1) if n not in inside}
        solution = {line.strip() for r in regions for line in r.body if line.strip()} - outside
        assert len(solution) >= len(regions), f"{assignment.name}: too few distinctive solution lines to check"
        starter = (released / assignment.name / assignment.student_file.name).read_text()
        survivors = sorted(solution & {line.strip() for line in starter.splitlines()})
        assert not survivors, f"{assignment.name}: solution lines in the released starter: {survivors}"
        for hidden in assignment.test_files("hidden"):
            assert not list(released.rglob(hidden.name)), f"the hidden test {hidden.name} was released"


def test_each_task_becomes_a_not_implemented_error_under_its_hint(released):
    for assignment in ASSIGNMENTS:
        source = assignment.student_file.read_text().splitlines()
        starter = (released / assignment.name / assignment.student_file.name).read_text()
        compile(starter, assignment.student_file.name, "exec")
        starter_lines = starter.splitlines()
        for region in find_regions("\n".join(source)):
            assert f'{region.indent}raise NotImplementedError("{region.task}")' in starter_lines
            above = source[region.begin - 2]
            if above.strip().startswith("#"):
                stub_at = starter_lines.index(region.stub(), starter_lines.index(above))
                assert starter_lines[stub_at - 1] == above, f"{assignment.name}: the hint above {region.task} is lost"


def test_release_refuses_to_overwrite_without_force_and_never_targets_the_solutions(released, tmp_path):
    with pytest.raises(ReleaseError, match="already exists; pass --force"):
        release(ASSIGNMENTS[:1], released)
    copy = tmp_path / ASSIGNMENTS[0].name
    shutil.copytree(ASSIGNMENTS[0].folder, copy)
    with pytest.raises(ReleaseError, match="is the solution folder itself"):
        release([catalog.Assignment(1, copy)], tmp_path, force=True)
    assert (copy / ASSIGNMENTS[0].student_file.name).read_text() == ASSIGNMENTS[0].student_file.read_text()


def test_a_student_runs_one_task_with_strict_markers_and_sees_their_own_line(released):
    folder = released / "a1_backward"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    run = subprocess.run([sys.executable, "-m", "pytest", "-m", "task1_1", "-p", "no:cacheprovider"],
                         cwd=folder, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 1, run.stdout + run.stderr  # tests failed; 2 or 4 would be a usage or marker error
    assert "--strict-markers" in (folder / "pytest.ini").read_text()
    assert "2 failed, 8 deselected" in run.stdout
    assert "NotImplementedError: task1_1  (backward.py:" in run.stdout
    assert "raise NotImplementedError(\"task1_1\")" in run.stdout
    assert "minigrad" not in run.stdout.split("FAILURES")[1].split("short test summary")[0]
