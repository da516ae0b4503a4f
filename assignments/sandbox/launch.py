"""Start a worker in its sandbox, talk to it with deadlines, and stop it with everything it started.

A worker is forked by the runner's ``Zygote`` (``worker.py``: NumPy and the
engine imported once) and gets a job folder in the runtime (``runtime``):

    code/   the student's file, harness.py and the assignment's probes.py
            (the grader's, read-only; as root, readable by this job's sandbox user only)
    home/   its working folder, HOME and TMPDIR

and starts with a scrubbed environment, in a session of its own, under
rlimits (address space, CPU seconds, file size, processes, open files, no core
files).  As root it also runs as an unprivileged user of its own
(``Identity``: a numeric uid/gid that no one else uses, one per concurrent
grading), in a chroot of the runtime when the machine permits (so that
nothing else of the file system exists for it), and in network and IPC
namespaces of the zygote's own when the kernel permits (no network).

Requests go to its stdin, answers come back on a pipe of their own (one JSON
line each, at most ``SandboxLimits.message`` bytes), and its stdout and
stderr are read all along: the first ``SandboxLimits.output`` bytes of each
test are kept, the rest only counted.  A request has a deadline; past it
the worker is killed.  ``stop`` kills the worker's session and then, as root,
every process of the sandbox user (as a normal user: every process that was
re-parented to the test runner, which is a child subreaper), so a child that
called setsid() does not outlive its test.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import itertools
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import harness
from .runtime import Runtime, worker_environment

UID_BASE = int(os.environ.get("MINIGRAD_SANDBOX_UID", "64000"))
SLOTS = 64
HERE = Path(__file__).resolve().parent
CLONE_NEWNET, CLONE_NEWIPC = 0x40000000, 0x08000000
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 36, 38
_libc = ctypes.CDLL(None, use_errno=True)
_jobs = itertools.count()


@dataclass(frozen=True)
class SandboxLimits:
    """What one worker may use (bytes unless said otherwise)."""

    memory: int = 2 * 1024 ** 3  # address space (RLIMIT_AS)
    file_size: int = 64 * 1024 ** 2  # largest file it may write (RLIMIT_FSIZE)
    processes: int = 64  # processes and threads of the sandbox user (RLIMIT_NPROC)
    open_files: int = 256  # RLIMIT_NOFILE
    output: int = 64 * 1024  # stdout and stderr kept per test (the rest is counted)
    message: int = 64 * 1024 ** 2  # the largest answer accepted


class WorkerDied(Exception):
    """The worker ended while the grader waited for it; ``reason`` says how, in words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TimeLimit(Exception):
    """A request ran past its deadline; the worker was killed.  ``seconds``: how long it had run."""

    def __init__(self, seconds: float):
        super().__init__(f"stopped after {seconds:.1f} s")
        self.seconds = seconds


class AnswerTooLarge(Exception):
    """The worker's answer was longer than ``SandboxLimits.message``; the worker was killed."""


def new_network_namespace() -> None:
    """Move this process into network and IPC namespaces of its own (OSError if the kernel refuses)."""
    if _libc.unshare(CLONE_NEWNET | CLONE_NEWIPC) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


def become_subreaper() -> None:
    """Orphans among this process's descendants are re-parented to it (so that it can find and kill them)."""
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


# -- the sandbox user ---------------------------------------------------------------------------------

class Identity:
    """A uid/gid of its own for one grading (as root): UID_BASE + slot, held with a lock file."""

    def __init__(self, uid: int, handle):
        self.uid = self.gid = uid
        self._handle = handle

    @classmethod
    def acquire(cls, folder: Path) -> "Identity | None":
        """A free slot's identity, its leftover processes killed; None when the grader is not root."""
        if os.geteuid() != 0:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        for slot in range(SLOTS):
            uid = UID_BASE + slot
            handle = open(folder / f"uid-{uid}.lock", "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            identity = cls(uid, handle)
            identity.sweep()
            return identity
        raise RuntimeError(f"all {SLOTS} sandbox users (uids {UID_BASE}..{UID_BASE + SLOTS - 1}) are in use")

    def release(self) -> None:
        self.sweep()
        with contextlib.suppress(OSError):
            fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()

    def sweep(self) -> None:
        """Kill every process of this uid: kill(-1) sent as the uid itself, until none is left."""
        for _ in range(100):
            pid = os.fork()
            if pid == 0:
                try:
                    os.setgroups([])
                    os.setresgid(self.gid, self.gid, self.gid)
                    os.setresuid(self.uid, self.uid, self.uid)
                    os.kill(-1, signal.SIGKILL)
                    os._exit(0)
                except ProcessLookupError:
                    os._exit(3)
                except BaseException:  # noqa: BLE001
                    os._exit(1)
            os.waitpid(pid, 0)
            if not processes_of(self.uid):
                return
            time.sleep(0.01)


def processes_of(uid: int) -> list[int]:
    """The live (not zombie) processes whose real uid is ``uid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("Uid", "-1").split()[0]) == uid and not fields.get("State", "").strip().startswith("Z"):
            found.append(int(entry))
    return found


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat_line = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat_line.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def reap_orphans() -> None:
    """Collect exited children that no Popen waits for (orphans re-parented to this subreaper).

    Only for the test runner, whose only Popen child (the zygote) is alive: in a process with other
    children (the grader running a batch in threads) it would steal their exit statuses."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_descendants(keep=frozenset()) -> None:
    """Kill every child of this process but ``keep``, again and again until none is left (as a subreaper,
    orphaned grandchildren become children)."""
    quiet = 0
    for _ in range(200):
        children = [c for c in children_of(os.getpid()) if c not in keep]
        if not children:
            quiet += 1
            if quiet == 3:  # three looks in a row: no orphan was on its way to this process
                return
            time.sleep(0.02)
            continue
        quiet = 0
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        time.sleep(0.01)
        reap_orphans()


# -- one worker ----------------------------------------------------------------------------------------

@dataclass
class Output:
    """A worker's stdout and stderr: what each test printed (the first ``keep`` bytes) and how much."""

    keep: int
    kept: bytearray = field(default_factory=bytearray)
    total: int = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.keep - len(self.kept)
        if room > 0:
            self.kept += data[:room]

    def start_test(self) -> None:
        self.kept.clear()
        self.total = 0

    @property
    def text(self) -> str:
        return self.kept.decode("utf-8", errors="replace")

    @property
    def truncated(self) -> bool:
        return self.total > len(self.kept)


class Zygote:
    """The process that forks workers (``worker.zygote``): NumPy and the engine imported and warmed up once.

    It runs in the runtime (as root: chrooted, still root, never running a
    student's code); each worker is a fork of it that drops to the sandbox
    user before it imports the student's file.  The runner talks to it over a
    socket pair: a job and four file descriptors in, the worker's pid and
    later its exit status out.
    """

    def __init__(self, runtime: Runtime, engine: bool, harness_source: Path, warm_up=None):
        self.runtime = runtime
        self.folder = runtime.jobs / f"zygote-{os.getpid()}-{next(_jobs)}"
        code = self.folder / "code"
        code.mkdir(parents=True, mode=0o700)
        os.chmod(self.folder, 0o700)
        shutil.copyfile(HERE / "worker.py", code / "worker.py")
        shutil.copyfile(harness_source, code / "harness.py")
        shutil.copyfile(HERE / "warmup.py", code / "warmup.py")
        self.code = runtime.inner(code)
        self.paths = [runtime.site] + ([runtime.engine] if engine else [])
        self._socket, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        config = {"control_fd": theirs.fileno(), "code": self.code, "paths": self.paths, "engine": engine,
                  "network_namespace": runtime.network_namespace and runtime.mode != "user",
                  "warmup": runtime.inner(code / "warmup.py") if engine else None,
                  "warm_up": list(warm_up) if warm_up else None}
        env = worker_environment(runtime, home=self.code, numba_cache=runtime.inner(runtime.numba))
        chroot = str(runtime.root) if runtime.chroot else None

        def enter():
            if chroot:
                os.chroot(chroot)
            os.chdir("/" if chroot else str(code))
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

        self._log = open(self.folder / "zygote.log", "w+b")
        try:
            self.process = subprocess.Popen(
                [runtime.python, "-I", "-S", "-B", runtime.inner(code / "worker.py"), "zygote", json.dumps(config)],
                env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, pass_fds=(theirs.fileno(),),
                start_new_session=True, preexec_fn=enter)
        finally:
            theirs.close()
        self._ready = False
        self._exits = {}

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float) -> None:
        if not self._ready:
            message = self._read(time.monotonic() + timeout)
            if not (message and message.get("ready")):
                raise OSError(f"the sandbox's zygote did not start: {self.log_tail()}")
            self._ready = True

    def spawn(self, job: dict, fds: list, timeout: float) -> int:
        """Fork a worker for ``job`` with ``fds`` as its stdin, stdout, stderr and answer pipe; its pid."""
        deadline = time.monotonic() + timeout
        self.wait_ready(timeout)
        socket.send_fds(self._socket, [json.dumps(job).encode()], fds)
        while True:
            message = self._read(deadline)
            if message is None:
                raise OSError(f"the sandbox's zygote did not fork a worker: {self.log_tail()}")
            if message.get("spawned") == job["id"]:
                return int(message["pid"])

    def exit_status(self, pid: int, timeout: float):
        """The worker's exit status as Popen's returncode, once the zygote reported it (None if not in time)."""
        deadline = time.monotonic() + timeout
        while pid not in self._exits:
            if self._read(deadline, exits=True) is None:
                return None
        return self._exits[pid]

    def _read(self, deadline: float, exits: bool = False):
        """The next message (exit reports are filed, and returned only with ``exits``), or None at the deadline
        or EOF."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._socket.settimeout(remaining)
            try:
                data = self._socket.recv(1 << 16)
            except (socket.timeout, OSError):
                return None
            if not data:
                return None
            message = json.loads(data)
            if "exited" in message:
                self._exits[int(message["exited"])] = message["status"]
                if not exits:
                    continue
            return message

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self) -> str:
        try:
            self._log.seek(0)
            return self._log.read().decode("utf-8", errors="replace")[-3000:].strip() or "no output"
        except OSError:
            return "no output"

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.close()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        self._log.close()
        remove_tree(self.folder)


class Worker:
    """One worker for one task: forked by the zygote, importing the student's file, answering requests."""

    def __init__(self, zygote: Zygote, identity: Identity | None, limits: SandboxLimits, files: dict,
                 config: dict, cpu_seconds: float, startup_timeout: float = 60.0):
        """``files``: {name in code/: source path} (the student's file, harness.py, probes.py);
        ``config``: what ``worker.serve`` needs besides the paths (module, student_file, task, engine)."""
        runtime = zygote.runtime
        self.zygote, self.runtime, self.identity, self.limits = zygote, runtime, identity, limits
        self.output = Output(limits.output)
        self.pid = None
        self._buffer = bytearray()
        self._pending = bytearray()
        self.job = runtime.jobs / f"{identity.uid if identity else 'user'}-{os.getpid()}-{next(_jobs)}"
        code, home = self.job / "code", self.job / "home"
        try:
            self._make_folders(code, home, files)
            self._spawn(zygote, runtime, identity, limits, config, cpu_seconds, startup_timeout, code, home)
        except BaseException:
            remove_tree(self.job)
            raise

    def _spawn(self, zygote, runtime, identity, limits, config, cpu_seconds, startup_timeout, code, home):
        ends = [os.pipe() for _ in range(4)]  # stdin, stdout, stderr, answers
        theirs = [ends[0][0], ends[1][1], ends[2][1], ends[3][1]]
        self._stdin, self._answers = ends[0][1], ends[3][0]
        nproc = limits.processes if identity else _threads_of(os.getuid()) + limits.processes
        job = dict(config, id=self.job.name, code=runtime.inner(code), home=runtime.inner(home),
                   paths=zygote.paths, zygote_paths=[zygote.code], cpu_seconds=max(int(cpu_seconds), 1),
                   env=worker_environment(runtime, home=runtime.inner(home), numba_cache=runtime.inner(home / "tmp")),
                   limits=[["RLIMIT_AS", limits.memory], ["RLIMIT_FSIZE", limits.file_size],
                           ["RLIMIT_NOFILE", limits.open_files], ["RLIMIT_CORE", 0], ["RLIMIT_NPROC", nproc]],
                   uid=identity.uid if identity else None, gid=identity.gid if identity else None)
        try:
            self.pid = zygote.spawn(job, theirs, startup_timeout)
        except BaseException:
            for fd in (ends[0][1], ends[1][0], ends[2][0], ends[3][0]):
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._answers, selectors.EVENT_READ, "answer")
        for read_end, _ in (ends[1], ends[2]):
            os.set_blocking(read_end, False)
            self._selector.register(read_end, selectors.EVENT_READ, "output")
        self._outputs = [ends[1][0], ends[2][0]]
        os.set_blocking(self._stdin, False)

    def _make_folders(self, code: Path, home: Path, files: dict) -> None:
        identity = self.identity
        self.job.mkdir(mode=0o711)
        os.chmod(self.job, 0o711)
        code.mkdir(mode=0o700)
        for name, source in files.items():
            shutil.copyfile(source, code / name)
            os.chmod(code / name, 0o440 if identity else 0o400)
            if identity:
                os.chown(code / name, 0, identity.gid)
        home.mkdir(mode=0o700)
        (home / "tmp").mkdir(mode=0o700)
        if identity:
            os.chown(code, 0, identity.gid)
            os.chmod(code, 0o750)
            for folder, _, names in os.walk(home):
                os.chown(folder, identity.uid, identity.gid)
                for name in names:
                    os.chown(os.path.join(folder, name), identity.uid, identity.gid)

    # -- talking ----------------------------------------------------------------------------------------

    def ready(self, timeout: float) -> dict:
        """The worker's first message: {"ready": true, "seconds"} or {"ready": false, "error"}."""
        return self._receive(time.monotonic() + timeout)

    def request(self, op: str, name: str, args, kwargs, timeout: float) -> dict:
        """Send one request and wait for its answer ({"ok", "value" or "error", "seconds"}) at most ``timeout`` s."""
        deadline = time.monotonic() + timeout
        self._ident = getattr(self, "_ident", 0) + 1
        line = harness.dumps({"id": self._ident, "op": op, "name": name, "args": harness.encode(list(args)),
                              "kwargs": harness.encode(dict(kwargs))}) + "\n"
        self._pending += line.encode()
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == self._ident:
                return answer

    def _receive(self, deadline: float) -> dict:
        started = time.monotonic()
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[:newline + 1]
                return harness.loads(line)
            if len(self._buffer) > self.limits.message:
                self.kill()
                raise AnswerTooLarge(f"an answer longer than {self.limits.message // 2 ** 20} MiB")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise TimeLimit(time.monotonic() - started)
            if self._pending:
                self._write_some()
            for key, _ in self._selector.select(min(remaining, 0.05 if self._pending else 0.5)):
                try:
                    data = os.read(key.fd, 1 << 16)
                except BlockingIOError:
                    continue
                if key.data == "answer":
                    if not data:
                        raise WorkerDied(self._death())
                    self._buffer += data
                elif data:
                    self.output.add(data)
                else:
                    self._selector.unregister(key.fd)

    def _write_some(self) -> None:
        try:
            written = os.write(self._stdin, self._pending)
        except BlockingIOError:
            return
        except OSError:
            self._pending.clear()
            return
        del self._pending[:written]

    def _death(self) -> str:
        """How the worker ended, in words (it closed its answer pipe)."""
        status = self.zygote.exit_status(self.pid, timeout=3)
        if status is None:
            self.kill()
            return "the process running your code closed the grader's channel and was stopped"
        self._drain()
        return describe_exit(status, self.limits)

    def _drain(self) -> None:
        end = time.monotonic() + 0.5
        while time.monotonic() < end and len(self._selector.get_map()) > 1:
            for key, _ in self._selector.select(0.05):
                if key.data == "answer":
                    continue
                try:
                    data = os.read(key.fd, 1 << 16)
                except BlockingIOError:
                    continue
                if data:
                    self.output.add(data)
                else:
                    self._selector.unregister(key.fd)

    # -- stopping ---------------------------------------------------------------------------------------

    def kill(self) -> None:
        """Kill the worker's session and everything of the sandbox user."""
        if self.pid is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        if self.identity is not None:
            self.identity.sweep()
            reap_orphans()  # this runner is a subreaper: the killed orphans were its children
        else:
            kill_descendants(keep={self.zygote.pid})

    def stray_processes(self) -> list[int]:
        """Processes of the sandbox user other than the worker (as root; [] otherwise)."""
        if self.identity is None or self.pid is None:
            return []
        return [pid for pid in processes_of(self.identity.uid) if pid != self.pid]

    def kill_strays(self) -> None:
        for pid in self.stray_processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        """Kill it all and remove the job folder."""
        self.kill()
        for fd in [self._stdin, self._answers, *self._outputs]:
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(Exception):
            self._selector.close()
        remove_tree(self.job)


def describe_exit(code: int, limits: SandboxLimits) -> str:
    """Why a worker with exit status ``code`` (Popen's returncode) ended, in words."""
    if code is None:
        return "the process running your code stopped answering"
    if code >= 0:
        return (f"the process running your code exited with code {code} in the middle of the test "
                "(sys.exit or os._exit in your code?)")
    number = -code
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    reason = f"the process running your code was killed by signal {number} ({name})"
    if number == signal.SIGXCPU:
        reason += ": it used up its CPU time limit"
    elif number == signal.SIGSEGV:
        reason += (f": a crash in compiled code (out of memory? the limit is "
                   f"{limits.memory / 2 ** 30:g} GiB of address space)")
    elif number == signal.SIGKILL:
        reason += " (from outside: the machine's out-of-memory killer, or your own code)"
    return reason


def _threads_of(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError):
                fields = dict(line.split(":", 1) for line in Path(f"/proc/{entry}/status").read_text().splitlines()
                              if ":" in line)
                if int(fields["Uid"].split()[0]) == uid:
                    count += int(fields.get("Threads", "1"))
    return count


def remove_tree(path: Path) -> None:
    def fix(function, failed, info):
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(failed), 0o700)
            with contextlib.suppress(OSError):
                os.chmod(failed, 0o700)
            function(failed)

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=fix)
