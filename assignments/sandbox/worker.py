"""The worker: imports a student's file and runs the tests' requests on it (this file runs in the sandbox).

It runs as a *zygote* first.  The grader's test runner starts

    python -I -S -B worker.py zygote CONFIG_JSON

in the runtime (as root: in its chroot, still as root), with one end of a
socket pair.  The zygote imports NumPy and the engine, loads the engine's
compiled kernels (running ``warmup`` against the runtime's cache), and says
{"ready": true}.  It never sees a
student's file.  Then, for each task, the runner sends it a job (JSON) with
four file descriptors (the worker's stdin, stdout, stderr and answer pipes);
the zygote forks, answers {"spawned": pid}, and reports each child's exit
status ({"exited": pid, "status": ...}) when it ends.

The forked child becomes the worker (``child``): a session of its own, its
pipes on fds 0-3 and nothing else open, rlimits, its job's home folder, a
scrubbed environment, and (as root) the job's unprivileged uid/gid.  The
zygote itself moved into network and IPC namespaces of its own when the
kernel permits, so no worker has a network.  Then ``serve``:

1. sys.path holds the job's code folder (the student's file, ``harness.py``,
   the assignment's ``probes.py``), NumPy and the engine; nothing of the
   grader's repository;
2. it imports ``probes`` and switches off the engine's answers to the task
   (``probes.SWITCHED_OFF[task]``, see ``harness.switch_off``);
3. it imports the student's file, and puts the engine's functions in place of
   the student's for other tasks (``probes.USE_ENGINE[task]``);
4. it answers {"ready": true} (or the import error), then one request per
   line on stdin: {"id", "op": "call" | "probe", "name", "args", "kwargs"},
   each with {"id", "ok": true, "value"} or {"id", "ok": false, "error"}.

Everything the student's code does happens in that child and its children;
the grader only reads the answers, as data (``harness.decode``), and trusts
none of them: a worker that lies can only hand in wrong data.
"""

import json
import os
import resource
import selectors
import signal
import socket
import sys
import time
import traceback

ANSWER_FD = 3
MAX_FD = 4096


def zygote(config):
    control = socket.socket(fileno=int(config["control_fd"]))
    if config.get("network_namespace"):
        _unshare_network()  # once, here: every worker forked from now on has no network
    sys.path[:0] = [config["code"], *config["paths"]]
    import harness  # noqa: F401  (imported once, here, for every worker)
    import numpy  # noqa: F401

    if config["engine"]:
        import minigrad  # noqa: F401
        import rnn  # noqa: F401

        if config.get("warmup"):  # load every compiled kernel (and start numba's JIT) once, for all workers
            import runpy

            runpy.run_path(config["warmup"], run_name="warmup")["main"](config.get("warm_up"))
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    control.sendall(json.dumps({"ready": True}).encode())
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ, "control")
    selector.register(wake_read, selectors.EVENT_READ, "wake")
    while True:
        for key, _ in selector.select(1.0):
            if key.data == "wake":
                os.read(wake_read, 4096)
                continue
            message, fds, _, _ = socket.recv_fds(control, 1 << 16, 8)
            if not message:
                return
            job = json.loads(message)
            pid = os.fork()
            if pid == 0:
                child(job, fds, [control.fileno(), wake_read, wake_write])
            for fd in fds:
                os.close(fd)
            control.sendall(json.dumps({"spawned": job["id"], "pid": pid}).encode())
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            control.sendall(json.dumps({"exited": pid, "status": os.waitstatus_to_exitcode(status)}).encode())


def child(job, fds, zygote_fds):
    """The forked worker: its sandbox first, then ``serve``.  Never returns."""
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        for target, fd in enumerate(fds[:4]):
            os.dup2(fd, target)
        os.closerange(4, MAX_FD)
        for which, value in job["limits"]:
            resource.setrlimit(getattr(resource, which), (value, value))
        cpu = int(job["cpu_seconds"])
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        os.chdir(job["home"])
        os.environ.clear()
        os.environ.update(job["env"])
        if job.get("uid") is not None:
            os.setgroups([])
            os.setresgid(job["gid"], job["gid"], job["gid"])
            os.setresuid(job["uid"], job["uid"], job["uid"])
        _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the zygote
        _prctl(38, 1)  # PR_SET_NO_NEW_PRIVS
        _forget_kernel_caches()
        serve(job)
    except BaseException:  # noqa: BLE001
        try:
            traceback.print_exc()
            sys.stderr.flush()
        finally:
            os._exit(70)
    os._exit(0)


def _prctl(option, value):
    import ctypes

    ctypes.CDLL(None).prctl(option, value, 0, 0, 0)


def _unshare_network():
    import ctypes

    ctypes.CDLL(None).unshare(0x40000000 | 0x08000000)  # CLONE_NEWNET | CLONE_NEWIPC; refused: no matter


def _forget_kernel_caches():
    """The kernels the zygote loaded stay compiled in this fork; one compiled here for a new signature stays
    in memory (the runtime's cache is the grader's: nothing is written to it)."""
    if sys.modules.get("numba") is None:
        return
    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in ("minigrad", "rnn"):
            for value in list(vars(module).values()):
                if isinstance(value, Dispatcher):
                    value._cache = NullCache()


def serve(config):
    """Import the student's file for one task and answer requests until stdin closes."""
    code = config["code"]
    sys.path[:] = [code, *config["paths"]] + [p for p in sys.path if p not in config["zygote_paths"]]
    out = os.fdopen(ANSWER_FD, "w", encoding="utf-8", buffering=1)
    import harness

    def send(message):
        out.write(harness.dumps(message) + "\n")
        out.flush()

    if not config["engine"]:
        sys.meta_path.insert(0, harness.EngineBlocker(reason=config.get("engine_reason") or
                                                      "this assignment is written in plain NumPy"))
    import probes

    task = config["task"]
    harness.switch_off(getattr(probes, "SWITCHED_OFF", {}).get(task, ()), task)
    student_path = os.path.join(code, config["student_file"])
    start = time.perf_counter()
    try:
        module = harness.load_student(student_path, config["module"])
    except BaseException as error:  # noqa: BLE001 - SystemExit and KeyboardInterrupt too: they are the student's
        send({"ready": False, "seconds": time.perf_counter() - start,
              "error": harness.StudentError.from_exception(error, student_path).as_data()})
        return
    harness.substitute(module, getattr(probes, "USE_ENGINE", {}).get(task, {}))
    send({"ready": True, "seconds": time.perf_counter() - start})
    for line in sys.stdin:
        send(answer(json.loads(line), module, probes, harness, student_path))


def answer(request, module, probes, harness, student_path):
    """The response to one request: the value the call returned, or the error it raised, as data."""
    ident = request.get("id")
    start = time.perf_counter()
    try:
        args = harness.decode(request["args"])
        kwargs = harness.decode(request["kwargs"])
        name = request["name"]
        if request["op"] == "probe":
            if name.startswith("_"):
                raise AttributeError(f"probes has no public function {name!r}")
            value = getattr(probes, name)(module, *args, **kwargs)
        else:
            value = getattr(module, name)(*args, **kwargs)
        encoded = harness.encode(value)
    except BaseException as error:  # noqa: BLE001 - report everything the student's code raised
        return {"id": ident, "ok": False, "seconds": time.perf_counter() - start,
                "error": harness.StudentError.from_exception(error, student_path).as_data()}
    return {"id": ident, "ok": True, "seconds": time.perf_counter() - start, "value": encoded}


if __name__ == "__main__":
    if sys.argv[1] == "zygote":
        zygote(json.loads(sys.argv[2]))
