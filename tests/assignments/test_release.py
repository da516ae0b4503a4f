"""Release: starters without any solution line, hints kept, deterministic, and runnable with `pytest -m <task>`."""

import ast
import json
import filecmp
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from assignments import catalog
from assignments.regions import find_regions
from assignments.release import ReleaseError, release
from assignments.wheel import wheel_name

ASSIGNMENTS = catalog.all_assignments()


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def defined_tests(path):
    """The names of the test functions a test module defines."""
    tree = ast.parse(path.read_text())
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]


def run_pytest(folder, *args):
    """Run pytest in a released folder as a student would (no PYTEST_* variables from this run)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=300, check=False)


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
        helpers = ["tests/helpers.py"] if assignment.test_helpers is not None else []
        expected = sorted(["README.md", "checks.py", "conftest.py", "harness.py", "pytest.ini",
                           assignment.student_file.name, *publics, *helpers, "tests/probes.py"])
        assert files_under(released / assignment.name) == expected
    assert sorted(p.name for p in released.iterdir() if p.is_file()) == [wheel_name()]


def test_every_assignment_shares_its_test_helpers_and_every_folder_gets_the_same_checks(released):
    for assignment in ASSIGNMENTS:
        assert assignment.test_helpers is not None, f"{assignment.name}: its tests share no tests/helpers.py"
        folder = released / assignment.name
        assert (folder / "tests" / "helpers.py").read_text() == assignment.test_helpers.read_text()
        assert (folder / "checks.py").read_text() == (catalog.ROOT / "shared_checks.py").read_text()


def test_release_is_deterministic(released, tmp_path):
    release(ASSIGNMENTS, tmp_path)
    assert (tmp_path / wheel_name()).read_bytes() == (released / wheel_name()).read_bytes()
    for assignment in ASSIGNMENTS:
        first, second = released / assignment.name, tmp_path / assignment.name
        names = files_under(first)
        assert names == files_under(second)
        _, mismatch, errors = filecmp.cmpfiles(first, second, names, shallow=False)
        assert (mismatch, errors) == ([], []), f"{assignment.name}: these files differ between two releases"


def test_no_solution_line_survives_release(released):
    everything = "\n".join(p.read_text() for p in released.rglob("*") if p.is_file() and p.suffix != ".whl")
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
            leaked = [name for name in defined_tests(hidden) if name in everything]
            assert not leaked, f"{assignment.name}: hidden tests named in the released files: {leaked}"


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


def test_pytest_in_each_released_folder_collects_exactly_its_public_tests(released):
    # checks.py and tests/helpers.py import there, and helpers.py is not collected as a test module
    for assignment in ASSIGNMENTS:
        run = run_pytest(released / assignment.name, "--collect-only", "-q")
        assert run.returncode == 0, f"{assignment.name}:\n{run.stdout}{run.stderr}"
        collected = {line for line in run.stdout.splitlines() if "::" in line}
        public = {f"tests/public/{path.name}::{name}" for path in assignment.test_files("public")
                  for name in defined_tests(path)}
        assert collected == public, assignment.name


def test_a_student_runs_one_task_with_strict_markers_and_sees_their_own_line(released):
    folder = released / "a1_backward"
    run = run_pytest(folder, "-m", "task1_1")
    assert run.returncode == 1, run.stdout + run.stderr  # tests failed; 2 or 4 would be a usage or marker error
    assert "--strict-markers" in (folder / "pytest.ini").read_text()
    assert "2 failed, 8 deselected" in run.stdout
    assert "NotImplementedError: task1_1  (backward.py:" in run.stdout
    assert "raise NotImplementedError(\"task1_1\")" in run.stdout
    assert "minigrad" not in run.stdout.split("FAILURES")[1].split("short test summary")[0]


def test_the_wheel_holds_the_engine_and_nothing_of_the_assignments(released):
    with zipfile.ZipFile(released / wheel_name()) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"minigrad", "rnn", wheel_name().split("-py3")[0] + ".dist-info"}
    assert "minigrad/__init__.py" in names and "rnn/__init__.py" in names
    assert not any("assignments" in n or "__pycache__" in n or n.endswith((".pyc", ".nbi", ".nbc")) for n in names)
    assert "Name: minigrad" in metadata and "Requires-Dist: numpy" in metadata


def test_the_wheel_installs_with_pip_and_imports_without_the_repository(released, tmp_path):
    target = tmp_path / "site"
    run = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                          "--target", str(target), str(released / wheel_name())],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    probe = ("import sys; sys.path[:0] = [sys.argv[1]]; import minigrad, rnn; "
             "print(minigrad.__file__); print(rnn.ElmanRNN(2, 3, 1).A.shape)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-I", "-c", probe, str(target)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0].startswith(str(target)), run.stdout
    assert run.stdout.splitlines()[1] == "(3, 3)"


def test_the_handouts_install_the_wheel_and_say_what_may_be_used():
    for assignment in ASSIGNMENTS:
        readme = assignment.readme.read_text()
        assert f"pip install {wheel_name()} pytest" in readme, assignment.name
        assert "pip install -e" not in readme, assignment.name
        assert "## What you may use" in readme, assignment.name


def test_a_gradescope_bundle_holds_no_solution_and_grades_as_gradescope_would(tmp_path):
    from assignments.gradescope import bundle

    assignment = catalog.get(2)
    path = bundle(assignment, tmp_path / "out")
    assert bundle(assignment, tmp_path / "again").read_bytes() == path.read_bytes()
    root = tmp_path / "autograder"
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        archive.extractall(root / "source")
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    base = "grader/assignments/a2_bptt"
    assert {"setup.sh", "run_autograder", wheel_name(), f"{base}/bptt.py", f"{base}/tests/probes.py"} <= names
    assert {f"{base}/tests/hidden/{p.name}" for p in assignment.test_files("hidden")} <= names
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    starter = (root / "source" / base / "bptt.py").read_text()
    source = assignment.student_file.read_text()
    regions = find_regions(source)
    inside = {n for r in regions for n in range(r.begin, r.end + 1)}
    outside = {line.strip() for n, line in enumerate(source.splitlines(), 1) if n not in inside}
    solution = {line.strip() for r in regions for line in r.body if line.strip()} - outside
    assert solution and "BEGIN SOLUTION" not in starter and not solution & {line.strip() for line in starter.splitlines()}
    setup = (root / "source" / "setup.sh").read_text()
    assert "chmod -R go-rwx" in setup and "-m assignments prepare" in setup and "pip install -e" not in setup
    (root / "submission").mkdir()
    shutil.copyfile(assignment.student_file, root / "submission" / "bptt.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST_"))}
    env.update(AUTOGRADER_ROOT=str(root), MINIGRAD_GRADER_PYTHON=sys.executable)
    run = subprocess.run(["bash", str(root / "source" / "run_autograder")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 20 and len(results["tests"]) == 10
    assert {t["visibility"] for t in results["tests"] if "(hidden)" in t["name"]} == {"after_published"}
