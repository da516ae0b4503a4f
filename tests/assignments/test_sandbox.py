"""The sandbox itself: the runtime's files, what a worker is and can do, the data it exchanges, its end.

These tests drive ``sandbox.launch`` directly with a tiny student module and
probes, so that each property is checked on its own.  As root (CI) the
worker is a sandbox user in a chroot of the runtime; ``uid`` mode (root
without chroot) and the non-root path (no identity) are exercised on the same
runtime with a plain-NumPy module, which needs no compiled kernel.
"""

import os
import stat
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from assignments import catalog, harness
from assignments.grade import PRISTINE
from assignments.sandbox import launch, runtime as runtimes

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox user and the chroot need root")

STUDENT = textwrap.dedent('''
    import os, resource, socket, time

    def whoami():
        limits = {name: resource.getrlimit(getattr(resource, name))[0]
                  for name in ("RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_CPU")}
        try:
            socket.create_connection(("127.0.0.1", 9), timeout=1).close()
            network = "connected"
        except OSError as error:
            network = type(error).__name__ + ": " + str(error)
        return {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "cwd": os.getcwd(),
                "root": sorted(os.listdir("/")), "limits": limits, "network": network,
                "environ": dict(os.environ), "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
                if os.path.isdir("/proc/self/fd") else None}

    def write(path):
        with open(path, "a") as f:
            f.write("x")
        return path

    def double(x):
        return x * 2

    def detach(seconds):
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(seconds)
            os._exit(0)
        return os.getpid()

    def big_file(n):
        with open("big", "wb") as f:
            f.write(b"x" * n)
        return n

    def sleep(seconds):
        time.sleep(seconds)
''')
PROBES = "NEEDS_ENGINE = False\n\ndef twice(module, x):\n    return [module.double(x), module.double(x)]\n"


@pytest.fixture(scope="module")
def runtime():
    return runtimes.ensure()


@pytest.fixture
def files(tmp_path):
    (tmp_path / "mine.py").write_text(STUDENT)
    (tmp_path / "probes.py").write_text(PROBES)
    return {"mine.py": tmp_path / "mine.py", "harness.py": catalog.ROOT / "harness.py",
            "probes.py": tmp_path / "probes.py"}


class Sandbox:
    """A zygote, an identity and workers, stopped at the end."""

    def __init__(self, runtime, files, root=True, limits=None):
        self.identity = launch.Identity.acquire(runtimes.cache_root() / "slots") if root else None
        self.zygote = launch.Zygote(runtime, False, catalog.ROOT / "harness.py")
        self.files, self.limits, self.workers = files, limits or launch.SandboxLimits(), []

    def worker(self, task="task9_1", cpu=60):
        worker = launch.Worker(self.zygote, self.identity, self.limits, self.files,
                               {"module": "mine", "student_file": "mine.py", "task": task, "engine": False}, cpu)
        self.workers.append(worker)
        assert worker.ready(60)["ready"] is True
        return worker

    def call(self, worker, name, *args, timeout=30, op="call"):
        answer = worker.request(op, name, args, {}, timeout)
        assert answer["ok"], answer
        return harness.decode(answer["value"])

    def close(self):
        for worker in self.workers:
            worker.stop()
        self.zygote.stop()
        if self.identity is not None:
            self.identity.release()


@pytest.fixture
def sandbox(runtime, files):
    box = Sandbox(runtime, files)
    yield box
    box.close()


# -- the runtime's files ---------------------------------------------------------------------------------

@as_root
def test_the_runtime_belongs_to_root_and_no_one_else_may_write_it(runtime):
    for folder, dirs, names in os.walk(runtime.root):
        if Path(folder).is_relative_to(runtime.jobs):
            continue
        for path in [Path(folder)] + [Path(folder) / n for n in names]:
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode) or stat.S_ISCHR(info.st_mode):
                continue
            assert info.st_mode & 0o022 == 0 and info.st_uid in (0, os.geteuid()), (path, oct(info.st_mode))
    assert not (runtime.root / "engine" / "assignments").exists()
    assert {p.name for p in (runtime.root / "engine").iterdir()} >= {"minigrad", "rnn"}
    assert stat.S_IMODE(runtime.jobs.stat().st_mode) == 0o711


def test_the_graders_private_folder_is_its_own_and_read_only(tmp_path):
    folder = tmp_path / "grading"
    folder.mkdir(mode=0o700)
    PRISTINE.write(folder, catalog.get(2))
    assert (folder / "tests" / "hidden").is_dir() and (folder / "tests" / "probes.py").is_file()
    for path in folder.rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o444, path
    assert not (folder / "bptt.py").exists(), "the grader's folder never holds a solution"


# -- what a worker is -------------------------------------------------------------------------------------

@as_root
def test_a_worker_is_an_unprivileged_user_in_a_chroot_without_network(sandbox, runtime):
    me = sandbox.call(sandbox.worker(), "whoami")
    assert me["uid"] == me["gid"] == sandbox.identity.uid >= launch.UID_BASE and me["groups"] == []
    if runtime.chroot:
        assert "work" not in me["root"] and "tmp" not in me["root"] and "etc" not in me["root"]
        assert me["root"] == sorted(p.name for p in runtime.root.iterdir())
    if runtime.network_namespace:
        assert me["network"].startswith("OSError") or "unreachable" in me["network"].lower(), me["network"]
    assert me["limits"]["RLIMIT_AS"] == 2 * 1024 ** 3 and me["limits"]["RLIMIT_FSIZE"] == 64 * 1024 ** 2
    assert me["limits"]["RLIMIT_NPROC"] == 64 and me["limits"]["RLIMIT_CPU"] == 60
    assert set(me["environ"]) <= {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "NUMBA_CACHE_DIR", "LD_LIBRARY_PATH",
                                  "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
                                  "NUMEXPR_NUM_THREADS"}
    assert not any("PYTHONPATH" in k for k in me["environ"])


@as_root
def test_a_worker_can_write_its_home_only(sandbox, runtime):
    worker = sandbox.worker()
    assert sandbox.call(worker, "write", "mine.txt") == "mine.txt"
    for path in ["/engine/minigrad/__init__.py", "/site/numpy/__init__.py", "/numba/x", "/jobs/x",
                 runtime.inner(worker.job / "code" / "mine.py"), str(catalog.ROOT / "harness.py")]:
        answer = worker.request("call", "write", [path], {}, 30)
        assert not answer["ok"] and answer["error"]["kind"] in ("PermissionError", "FileNotFoundError",
                                                                "OSError"), (path, answer)


def test_data_crosses_as_data_and_a_probe_runs_next_to_the_code(sandbox):
    worker = sandbox.worker()
    value = {"a": np.arange(6.0).reshape(2, 3), "t": (1, 2.5, None), "s": np.float32(1.5), "b": np.bool_(True)}
    got = sandbox.call(worker, "double", value["a"].T)  # a transposed view travels as its values
    np.testing.assert_array_equal(got, 2 * value["a"].T)
    assert got.dtype == np.float64 and got.flags.writeable
    assert sandbox.call(worker, "double", [1, (2,)]) == [1, (2,), 1, (2,)]
    assert sandbox.call(worker, "twice", 3, op="probe") == [6, 6]
    assert harness.roundtrip(value)["t"] == (1, 2.5, None) and harness.roundtrip(value)["s"].dtype == np.float32
    with pytest.raises(harness.DataError, match="cannot be passed"):
        harness.encode(object())
    with pytest.raises(harness.DataError, match="dtype object"):
        harness.encode(np.array([object()]))
    for bad in ({"__ndarray__": ["|O", [1], "AAAA"]}, {"__ndarray__": ["<f8", [2], "AAAA"]}, {"__nope__": 1}):
        with pytest.raises(harness.DataError):
            harness.decode(bad)


def test_a_time_limit_kills_the_worker_and_says_how_long(sandbox):
    worker = sandbox.worker()
    started = time.monotonic()
    with pytest.raises(launch.TimeLimit) as stop:
        worker.request("call", "sleep", [30], {}, timeout=1.0)
    assert 1.0 <= stop.value.seconds < 5 and time.monotonic() - started < 8
    if sandbox.identity is not None:
        assert launch.processes_of(sandbox.identity.uid) == []


@as_root
def test_a_detached_grandchild_is_killed_with_the_worker(sandbox):
    worker = sandbox.worker()
    sandbox.call(worker, "detach", 60)
    time.sleep(0.3)
    assert len(launch.processes_of(sandbox.identity.uid)) >= 2
    worker.kill_strays()
    time.sleep(0.2)
    assert launch.processes_of(sandbox.identity.uid) == [worker.pid]
    sandbox.call(worker, "detach", 60)
    worker.stop()
    assert launch.processes_of(sandbox.identity.uid) == []


def test_a_file_larger_than_the_limit_cannot_be_written(runtime, files):
    box = Sandbox(runtime, files, root=os.geteuid() == 0, limits=launch.SandboxLimits(file_size=1024 ** 2))
    try:
        worker = box.worker()
        assert box.call(worker, "big_file", 1000) == 1000
        answer = worker.request("call", "big_file", [2 * 1024 ** 2], {}, 30)
        assert not answer["ok"] and answer["error"]["kind"] == "OSError" and "too large" in answer["error"]["message"]
    finally:
        box.close()


@as_root
def test_uid_mode_root_without_chroot_still_drops_to_the_sandbox_user(runtime, files):
    uid_mode = runtimes._describe(runtime.root, "uid")
    box = Sandbox(uid_mode, files)
    try:
        me = box.call(box.worker(), "whoami")
        assert me["uid"] == box.identity.uid and "work" in me["root"]  # no chroot: the machine is visible
    finally:
        box.close()


def test_without_an_identity_the_worker_runs_as_the_grader_and_its_children_are_still_killed(runtime, files):
    box = Sandbox(runtime, files, root=False)
    try:
        worker = box.worker()
        assert box.call(worker, "whoami")["uid"] == os.getuid()
        launch.become_subreaper()
        box.call(worker, "detach", 60)
        worker.stop()
        left = [c for c in launch.children_of(os.getpid()) if c != box.zygote.pid]
        assert left == [], [Path(f"/proc/{c}/status").read_text().splitlines()[:3] for c in left]
    finally:
        box.close()


def test_every_switched_off_target_exists_in_the_engine():
    """A refactored engine must not silently turn a switch-off into nothing (the worker skips what is gone)."""
    import importlib.util
    import sys

    for assignment in catalog.all_assignments():
        spec = importlib.util.spec_from_file_location(f"probes_{assignment.number}", assignment.probes)
        probes = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(catalog.ROOT))  # probes may import harness
        try:
            spec.loader.exec_module(probes)
        finally:
            sys.path.remove(str(catalog.ROOT))
        for task, targets in getattr(probes, "SWITCHED_OFF", {}).items():
            assert task in assignment.tasks, (assignment.name, task)
            for entry in targets:
                target = entry if isinstance(entry, str) else entry[0]
                harness.resolve(target)  # raises if the engine no longer has it
        for task, names in getattr(probes, "USE_ENGINE", {}).items():
            for name, target in names.items():
                assert name in assignment.student_file.read_text(), (assignment.name, name)


def test_an_old_runtime_is_collected_once_no_running_grader_uses_it(tmp_path):
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    for name, pid in (("old", dead), ("busy", os.getpid())):
        (tmp_path / f"runtime-{name}" / "jobs" / f"64000-{pid}-0").mkdir(parents=True)
        os.utime(tmp_path / f"runtime-{name}", (1, 1))
    for name in ("newer", "newer2", "newest"):  # the newest runtimes are kept (runtimes.KEEP)
        (tmp_path / f"runtime-{name}" / "jobs").mkdir(parents=True)
    runtimes._collect_old(tmp_path, keep=tmp_path / "runtime-newest")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runtime-busy", "runtime-newer", "runtime-newer2",
                                                          "runtime-newest"]
