"""Hostile submissions: each one's dishonest part scores nothing, its honest tasks keep their points,
the grader survives, and nothing hidden reaches the student.

Most cases are assignment 2 (plain NumPy, quick to grade): the reference
bptt.py with task 2.1 (8 points) replaced by the attack, so that tasks 2.2
and 2.3 (12 points) show what an honest part keeps.  They are graded in one
batch, two at a time, with short limits; the last submission of the batch is
the reference itself, which must still score 20 whatever ran before it.  The
delegation cases use the engine's assignments (1, 3, 4, 5).

As root (CI), the worker runs as a sandbox user in a chroot of the runtime:
the repository, the grader's private folder and the other jobs do not exist
for it.  As a normal user those protections are reduced (see the README); the
assertions that need them are marked ``as_root``.
"""

import hashlib
import json
import os
import re
import time

import pytest

from assignments import catalog
from assignments.batch import grade_batch
from assignments.grade import Limits, grade
from assignments.sandbox import launch, runtime

A2 = catalog.get(2)
REPO = catalog.ROOT.parent
HIDDEN_TEST = A2.test_files("hidden")[0]
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox user and the chroot need root")
ZEROS = "    return np.zeros(dq.shape[:-1] + (A.shape[0],))\n"
LIMITS = Limits(test_timeout=2, task_timeout=4, memory=1024 ** 3)
ROOMY = Limits(test_timeout=30, task_timeout=60)  # for honest tasks of the engine's assignments, on a busy machine


def bptt(body=ZEROS, prelude=""):
    """The reference bptt.py with task 2.1's region replaced by ``body`` and ``prelude`` after the imports."""
    source = A2.student_file.read_text()
    source = re.sub(r"(# BEGIN SOLUTION task2_1\n).*?(\n    # END SOLUTION)", lambda m: m.group(1) + body.rstrip("\n")
                    + m.group(2), source, count=1, flags=re.DOTALL)
    return source.replace("import numpy as np\n", "import numpy as np\n" + prelude, 1)


def cases(reports):
    target = reports / "detached.json"
    return {
        "numpy_patched": bptt(prelude="np.allclose = lambda *a, **k: True\n"
                                      "np.testing.assert_allclose = lambda *a, **k: None\n"),
        "hooks_the_grader": bptt(prelude=(  # the checks, pytest's hooks, the session's failure record
            "import gc as _gc, sys as _sys\n"
            "def _pass(*a, **k):\n    return None\n"
            "for _m in list(_sys.modules.values()):\n"
            "    for _n in ('check_close', 'check_updates', 'assert_allclose'):\n"
            "        if hasattr(_m, _n):\n"
            "            try:\n                setattr(_m, _n, _pass)\n            except Exception:\n                pass\n"
            "_found = set()\n"
            "for _o in _gc.get_objects():\n"
            "    if getattr(_o, '__name__', None) == 'check_close' and hasattr(_o, '__code__'):\n"
            "        _o.__code__ = _pass.__code__\n"
            "    _t = type(_o).__name__\n"
            "    if _t in ('PytestPluginManager', 'Config', 'GradingSession', 'TestReport', 'Session'):\n"
            "        _found.add(_t)\n"
            "        if _t == 'GradingSession':\n            _o.failures = type('_D', (dict,), {'__setitem__': lambda *a: None})()\n"
            "        if _t == 'TestReport':\n            _o.outcome = 'passed'\n"),
            body="    if len(h) == 7:  # the public tests (T = 6)\n        raise RuntimeError(f'found {sorted(_found)}')\n" + ZEROS),
        "forged_results": bptt(body=(
            "    import glob, json, os\n"
            "    forged = 'tests/public/test_forged.py::test_forged'\n"
            "    record = (json.dumps({'event': 'collected', 'tests': [{'nodeid': forged, 'task': 'task2_1', 'points': 1000}]})\n"
            "              + '\\n' + json.dumps({'event': 'result', 'nodeid': forged, 'passed': True, 'output': ''}) + '\\n')\n"
            "    for path in ['grading-results.jsonl', *glob.glob('/tmp/grade-*/grading-results.jsonl'),\n"
            "                 *glob.glob('/tmp/*/grading-results.jsonl')]:\n"
            "        try:\n            with open(path, 'a') as f:\n                f.write(record)\n"
            "        except OSError:\n            pass\n"
            "    os._exit(0)\n")),
        "detached_child": bptt(body=(
            "    import os, time\n"
            "    if os.fork() == 0:\n"
            "        os.setsid()\n"
            "        if os.fork() == 0:\n"
            "            for _ in range(100):\n"
            "                time.sleep(0.05)\n"
            "                try:\n"
            f"                    with open({str(target)!r}, 'w') as f:\n"
            "                        f.write('{\"score\": 1000}')\n"
            "                except OSError:\n                    pass\n"
            "        os._exit(0)\n" + ZEROS)),
        "reads_hidden_files": bptt(body=(
            "    import glob, os\n"
            "    seen = {}\n"
            f"    for path in [{str(HIDDEN_TEST)!r}, {str(A2.student_file)!r}, *glob.glob('/tmp/grade-*/tests/hidden/*'),\n"
            "                 *glob.glob('/jobs/*/code/*'), *glob.glob('/var/cache/minigrad-grader/*/jobs/*/code/*')]:\n"
            "        try:\n            with open(path) as f:\n                seen[path] = f.read(400)\n"
            "        except OSError as error:\n            seen[path] = type(error).__name__\n"
            "    raise RuntimeError(f'read {seen!r}; / holds {sorted(os.listdir(\"/\"))}')\n")),
        "imports_the_reference": bptt(body=(
            f"    import sys\n    sys.path.insert(0, {str(REPO)!r})\n"
            "    from assignments.a2_bptt.bptt import hidden_grads as reference\n"
            "    return reference(A, C, h, dq, f)\n")),
        "delegates_to_the_engine": bptt(body=(
            "    import rnn\n    return rnn.manual.elman_bptt\n")),
        "crashes": bptt(body=(  # public tests (T = 6): exits; hidden tests: a segmentation fault
            "    import os, signal\n    if len(h) == 7:\n        os._exit(0)\n    os.kill(os.getpid(), signal.SIGSEGV)\n")),
        "memory_bomb": bptt(body="    blocks = []\n    while True:\n        blocks.append(np.empty(2 ** 26))\n"),
        "floods": bptt(body=(  # public tests: 33 MB of output; hidden tests: a 20 MB exception message
            "    import sys\n    if len(h) != 7:\n        raise ValueError('z' * 20_000_000)\n"
            "    sys.stdout.write('x' * 30_000_000)\n    sys.stdout.flush()\n"
            "    sys.stderr.write('y' * 3_000_000)\n" + ZEROS)),
        "fork_bomb": bptt(body=(
            "    import os, time\n"
            "    for _ in range(1000):\n"
            "        try:\n"
            "            if os.fork() == 0:\n"
            "                while True:\n"
            "                    try:\n                        os.fork()\n"
            "                    except OSError:\n                        time.sleep(0.02)\n"
            "        except OSError:\n            break\n" + ZEROS)),
        "edits_the_grader": bptt(body=(
            "    import glob, os\n    changed = []\n"
            f"    for path in [{str(HIDDEN_TEST)!r}, {str(A2.test_helpers)!r}, '/engine/rnn/__init__.py',\n"
            "                 '/site/numpy/__init__.py', *glob.glob('/tmp/grade-*/tests/*/*.py'),\n"
            "                 *glob.glob('/var/cache/minigrad-grader/*/engine/rnn/__init__.py')]:\n"
            "        try:\n            with open(path, 'a') as f:\n                f.write('\\nraise SystemExit(0)\\n')\n"
            "            changed.append(path)\n"
            "        except OSError:\n            pass\n" + ZEROS)),
        "loops": bptt(body="    while True:\n        pass\n"),
        "exits_at_import": bptt(prelude="import sys\n\nsys.exit(3)\n"),
        "zz_honest_after_all_of_them": A2.student_file.read_text(),
    }


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """{case: (its AssignmentResult for assignment 2, its results.json, seconds)} from one batch."""
    folder = tmp_path_factory.mktemp("hostile")
    submissions, reports = folder / "submissions", folder / "reports"
    reports.mkdir()
    for name, source in cases(reports).items():
        (submissions / name).mkdir(parents=True)
        (submissions / name / "bptt.py").write_text(source)
    engine = runtime.ensure().root / "engine"  # (the runtime of the engine as it is now: the batch uses it)
    before = fingerprint(catalog.ROOT), fingerprint(engine)
    graded = grade_batch(submissions, [A2], folder / "scores.csv", LIMITS, jobs=2, reports=reports)
    time.sleep(1.5)  # what a detached child would need to do its harm
    after = fingerprint(catalog.ROOT), fingerprint(engine)
    return {name: (results[0], json.loads((reports / f"{name}.json").read_text()), results[0].execution_time)
            for name, results in graded.items()} | {"_unchanged": before == after}


def fingerprint(folder):
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def honest_part_kept(result):
    """Task 2.1 scored nothing, tasks 2.2 and 2.3 kept their 12 points, every test was graded."""
    assert len(result.tests) == 10 and result.max_score == 20
    assert sum(t.points for t in result.tests if t.task == "task2_1") == 0
    assert result.score == 12, [(t.name, t.reason) for t in result.tests if not t.passed]


def reasons(result, task="task2_1"):
    return [t.reason for t in result.tests if t.task == task]


@pytest.mark.parametrize("case", ["loops", "numpy_patched", "hooks_the_grader", "forged_results", "detached_child",
                                  "imports_the_reference", "delegates_to_the_engine", "crashes", "memory_bomb",
                                  "floods", "fork_bomb", "edits_the_grader", "reads_hidden_files"])
def test_the_dishonest_task_scores_nothing_and_the_honest_ones_keep_their_points(hostile, case):
    result, report, _ = hostile[case]
    if case in ("imports_the_reference", "reads_hidden_files") and os.geteuid() != 0:
        pytest.skip("as a normal user the worker can read what the grader can (see the README)")
    honest_part_kept(result)
    assert report["score"] == 12 == sum(t["score"] for t in report["tests"])
    assert sum(t["max_score"] for t in report["tests"]) == 20


def test_an_honest_submission_graded_after_all_of_them_scores_full_marks(hostile):
    result, report, _ = hostile["zz_honest_after_all_of_them"]
    assert result.score == 20 and report["score"] == 20
    assert hostile["_unchanged"], "a submission changed the grader's files or the runtime's engine"


def test_an_infinite_loop_costs_its_own_task_and_says_which_limit_stopped_it(hostile):
    result, _, seconds = hostile["loops"]
    assert result.message == "" and seconds < 40
    first, *rest = [t for t in result.tests if t.task == "task2_1"]
    assert first.reason.startswith("TimeLimitExceeded: your code ran past the test's time limit of 2 s and was "
                                   "stopped after 2."), first.reason
    assert rest[0].reason.startswith("TimeLimitExceeded: your code used up task2_1's time budget of 4 s (all its "
                                     "tests together) and was stopped after 2."), rest[0].reason
    for t in rest[1:]:
        assert t.reason.startswith("not run: task2_1's time budget of 4 s (all its tests together) was used up"), t.reason


def test_an_exit_at_import_is_named_in_every_test(hostile):
    result, _, _ = hostile["exits_at_import"]
    assert result.score == 0 and len(result.tests) == 10
    for t in result.tests:
        assert t.reason.startswith("your bptt.py could not be imported: SystemExit: 3  (bptt.py:"), t.reason


def test_the_grader_believes_no_forged_record(hostile):
    result, report, _ = hostile["forged_results"]
    assert not any("forged" in t["name"] for t in report["tests"])
    for reason in reasons(result):
        assert reason.startswith("the process running your code exited with code 0 in the middle of the test")


def test_patching_numpy_or_the_checks_in_the_worker_changes_only_the_workers_answers(hostile):
    for reason in reasons(hostile["numpy_patched"][0]):
        assert reason.startswith("AssertionError: dL/dh_"), reason
    for t in hostile["hooks_the_grader"][0].tests:
        if t.task == "task2_1" and t.hidden:
            assert t.reason.startswith("AssertionError: dL/dh_"), t.reason


def test_the_workers_cannot_reach_pytest_or_the_grading_session(hostile):
    for t in hostile["hooks_the_grader"][0].tests:
        if t.task == "task2_1" and not t.hidden:
            assert t.reason.startswith("RuntimeError: found []  (bptt.py:"), t.reason


def test_a_detached_child_does_not_outlive_grading(hostile, tmp_path):
    result, report, _ = hostile["detached_child"]
    assert report["score"] == 12, "the results file was rewritten after grading"
    if os.geteuid() == 0:
        left = {uid: launch.processes_of(uid) for uid in range(launch.UID_BASE, launch.UID_BASE + 4)}
        assert not any(left.values()), f"processes of the sandbox users outlived grading: {left}"


@as_root
def test_hidden_tests_solutions_and_other_jobs_cannot_be_read(hostile):
    result, report, _ = hostile["reads_hidden_files"]
    hidden_source, solution = HIDDEN_TEST.read_text(), A2.student_file.read_text()
    (public,) = [t for t in report["tests"] if t["visibility"] == "visible" and t["number"] == "2.1"
                 and "match_the_engine" in t["name"]]
    assert public["output"].startswith("RuntimeError: read {"), public["output"]
    read = re.search(r"read (\{.*?\}); / holds", public["output"]).group(1)
    assert re.fullmatch(r"\{('[^']*': '(FileNotFoundError|PermissionError)'(, )?)*\}", read), read
    for t in report["tests"]:
        assert "CONFIGS = [" not in t["output"] and "def test_hidden_grads" not in t["output"]
        assert "dh[T - 1] = dq[T - 1] @ C" not in t["output"]
    assert "CONFIGS = [" in hidden_source and "dh[T - 1] = dq[T - 1] @ C" in solution  # the probes above mean something


@as_root
def test_the_reference_cannot_be_imported_from_the_sandbox(hostile):
    for reason in reasons(hostile["imports_the_reference"][0]):
        assert reason.startswith("ModuleNotFoundError: No module named 'assignments'"), reason


def test_delegating_to_the_engine_in_plain_numpy_fails_with_the_rule(hostile):
    for reason in reasons(hostile["delegates_to_the_engine"][0]):
        assert reason.startswith("ImportError: rnn is not available here: assignment 2 is plain NumPy"), reason


def test_a_crash_is_named_exit_code_or_signal(hostile):
    for t in hostile["crashes"][0].tests:
        if t.task == "task2_1" and not t.hidden:
            assert t.reason.startswith("the process running your code exited with code 0 in the middle of the test")
        elif t.task == "task2_1":
            assert t.reason.startswith("the process running your code was killed by signal 11 (SIGSEGV)"), t.reason


def test_a_memory_bomb_meets_the_memory_limit(hostile):
    result, report, _ = hostile["memory_bomb"]
    for t in result.tests:
        if t.task == "task2_1":
            assert t.reason.startswith("MemoryError") and "(bptt.py:" in t.reason, t.reason
            assert "memory limit" in t.output


def test_output_is_capped_and_said_to_be(hostile, tmp_path):
    result, report, _ = hostile["floods"]
    (public, *_) = [t for t in result.tests if t.task == "task2_1"]
    assert "Your code printed 33,000,000 bytes (output truncated: the first " in public.output
    assert public.reason.startswith("AssertionError: dL/dh_t"), public.reason
    hidden = [t for t in result.tests if t.task == "task2_1" and t.hidden][0]
    assert hidden.reason.startswith("ValueError: zzzz") and "more characters cut" in hidden.output
    assert all(len(t["output"]) <= 4000 for t in report["tests"]) and len(json.dumps(report)) < 60_000


def test_a_fork_bomb_is_bounded_and_cleaned_up(hostile):
    result, _, seconds = hostile["fork_bomb"]
    assert seconds < 60, f"grading the fork bomb took {seconds:.0f} s"
    if os.geteuid() == 0:
        left = [launch.processes_of(uid) for uid in range(launch.UID_BASE, launch.UID_BASE + 4)]
        assert not any(left), left


def test_grading_times_stay_bounded(hostile):
    for name, value in hostile.items():
        if not name.startswith("_"):
            assert value[2] < 90, f"{name} took {value[2]:.0f} s to grade"


# -- delegation in the engine's assignments ------------------------------------------------------------

DELEGATION = {
    1: ({"task1_1": "from minigrad.ops import unbroadcast as _engine\n    return _engine(grad, shape)",
         "task1_4": "import minigrad as mg\n        x, y = mg.tensor(a, requires_grad=True), mg.tensor(b, requires_grad=True)\n"
                    "        (x @ y).backward(grad)\n        return x.grad, y.grad"}, 13),
    3: ({"task3_1": "import rnn\n        return rnn.Chunked(self.k).plan(T)",
         "task3_2": "import rnn\n        return rnn.TBPTT(self.k1, self.k2).plan(T)",
         "task3_3": "import rnn\n    return rnn.gradients(model, xs, ys, rnn.TBPTT(k1, k2))"}, 0),
    4: ({"task4_1": "if not hasattr(self, '_engine'):\n            self._engine = rnn.Randomized(self.p, self.seed)\n"
                    "        return self._engine.plan(T)",
         "task4_2": "return {name: (values.mean(axis=0), rnn.analysis.total_variance(values)) for name, values in samples.items()}"},
        5),
    5: ({"task5_1": "from rnn.gated import lstm_backward\n    dpre, dc = np.empty_like(gates), np.empty_like(c)\n"
                    "    h = gates[:, 3 * c.shape[1]:] * np.tanh(c)\n"
                    "    lstm_backward(np.concatenate([grad_h, grad_c], 1), gates, np.concatenate([h, c], 1), "
                    "np.ascontiguousarray(c_prev), dpre, dc)\n    return dpre, dc",
         "task5_2": "from rnn.gated import LSTMStep\n        return LSTMStep.backward(ctx, grad)"}, 0),
}


def delegating(number):
    """The reference file of assignment ``number`` with the regions of DELEGATION replaced by a call to the engine."""
    assignment = catalog.get(number)
    source = assignment.student_file.read_text()
    for task, code in DELEGATION[number][0].items():
        def replace(match, code=code):
            indent = match.group(1)
            return f"{indent}# BEGIN SOLUTION {task}\n{indent}{code}\n{indent}# END SOLUTION"
        source, count = re.subn(rf"( *)# BEGIN SOLUTION {task}\n.*?\n *# END SOLUTION", replace, source, flags=re.DOTALL)
        assert count >= 1, task
    return source


@pytest.fixture(scope="module")
def delegations(tmp_path_factory):
    folder = tmp_path_factory.mktemp("delegation")
    for number in DELEGATION:
        assignment = catalog.get(number)
        (folder / "submissions" / "all" / assignment.name).mkdir(parents=True, exist_ok=True)
        (folder / "submissions" / "all" / assignment.name / assignment.student_file.name).write_text(delegating(number))
    assignments = [catalog.get(n) for n in (1, 3, 4, 5)]
    graded = grade_batch(folder / "submissions", assignments, folder / "scores.csv", ROOMY, jobs=2)
    # the op-level engine, run inside the student's backward: its gradient is the tape's, not theirs
    nested = catalog.get(5).student_file.read_text().replace(
        "        rows = grad.reshape(-1, 2 * n)\n",
        "        probe = mg.tensor(xs, requires_grad=True)\n"
        "        with mg.Tape():\n"
        "            mg.tanh(probe).sum().backward()\n"
        "        rows = grad.reshape(-1, 2 * n)\n", 1)
    (folder / "nested").mkdir()
    (folder / "nested" / "lstm.py").write_text(nested)
    graded["nested"] = grade(folder / "nested", [catalog.get(5)], ROOMY)
    # not hostile: plans built from lists instead of tuples (their values are right)
    lists = catalog.get(3).student_file.read_text()
    for old, new in (("Plan(T, tuple(edges), tuple(updates))", "Plan(T, list(edges), list(updates))"),
                     ("Plan(T, (PASS,) * (T + 1), tuple(updates))", "Plan(T, [PASS] * (T + 1), updates)")):
        assert old in lists, old
        lists = lists.replace(old, new)
    (folder / "lists").mkdir()
    (folder / "lists" / "truncation.py").write_text(lists)
    graded["lists"] = grade(folder / "lists", [catalog.get(3)], ROOMY)
    return graded


def test_delegating_to_the_engine_scores_nothing_for_the_delegated_tasks(delegations):
    for result in delegations["all"]:
        delegated, expected = DELEGATION[result.number]
        assert result.score == expected, (result.name, [(t.name, t.reason) for t in result.tests if not t.passed])
        for t in result.tests:
            assert t.passed == (t.task not in delegated), (result.name, t.name, t.reason)
            if t.task in delegated:
                assert "SwitchedOff" in t.reason and "is the engine's own answer to" in t.output, t.output


def test_a_backward_inside_the_students_backward_is_switched_off(delegations):
    result = {r.number: r for r in delegations["nested"]}[5]
    assert result.score == 7
    for t in result.tests:
        if t.task == "task5_2":
            assert t.reason.startswith("SwitchedOff: a backward inside a backward"), t.reason


def test_plans_built_from_lists_score_full_marks(delegations):
    (result,) = delegations["lists"]
    assert result.score == 20, [(t.name, t.reason) for t in result.tests if not t.passed]
