"""The runtime: the read-only tree a sandboxed worker runs from (an interpreter, NumPy, numba, the engine).

The worker must import NumPy and the engine, and nothing of the grader's
repository (solutions, hidden tests, the grader).  So the grader assembles,
once per engine version, a tree of its own in a cache folder (``cache_root``):

    python        a copy of this interpreter's stdlib and executable, at the same
                  absolute paths inside the tree (as root)
    system libs   the shared libraries they load (found with ldd), as root
    site/         numpy, numba, llvmlite (and their bundled libraries)
    engine/       minigrad and rnn, unpacked from the engine's wheel (``wheel``)
    numba/        numba's cache of the engine's kernels, compiled by ``warmup``
    jobs/         one folder per worker, made by ``launch``

Files are hard links where the file system allows (cheap), copies otherwise;
the tree is owned by the grader and read-only to everyone else.  Its name
holds a hash of everything it was built from, so an edit to the engine makes
a new one (the last few are kept).

Three modes, chosen by what the grader may do:

* ``chroot`` (root, and chroot is permitted): the worker's root directory is
  the tree, so the rest of the machine (the repository first of all) does
  not exist for it; it runs as an unprivileged user (``launch``).
* ``uid`` (root, chroot refused): unprivileged user, no chroot; the tree is
  still what it imports, but it can read whatever that user may read.
* ``user`` (not root): the worker runs as the grader's own user, with this
  interpreter; it imports from the tree but can read and write what the
  grader can.
"""

from __future__ import annotations

import compileall
import contextlib
import fcntl
import functools
import hashlib
import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..wheel import build_wheel, engine_files

RUNTIME_VERSION = "1"
DEPENDENCIES = ("numpy", "numba", "llvmlite")
STDLIB_SKIP = {"site-packages", "dist-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip",
               "lib2to3", "__phello__"}
KEEP = 3  # runtimes kept in the cache folder (the newest)
HERE = Path(__file__).resolve().parent


class RuntimeBuildError(RuntimeError):
    """The runtime could not be built (a missing tool, a cache folder others could write to, a failed warm-up)."""


@dataclass(frozen=True)
class Runtime:
    """A built runtime (see the module docstring); paths as the worker sees them are ``inner``."""

    root: Path
    mode: str  # "chroot", "uid" or "user"
    python: str  # the interpreter, as the worker sees it
    site: str
    engine: str
    library_path: str  # LD_LIBRARY_PATH for the worker, "" when none is needed
    network_namespace: bool  # the worker can be cut off the network (a namespace of its own)

    @property
    def chroot(self) -> bool:
        return self.mode == "chroot"

    @property
    def numba(self) -> Path:
        return self.root / "numba"

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    def inner(self, host: Path) -> str:
        """``host`` (a path inside the tree) as the worker sees it."""
        return "/" + Path(host).relative_to(self.root).as_posix() if self.chroot else str(host)


@functools.cache
def default_mode() -> str:
    if os.geteuid() != 0:
        return "user"
    return "chroot" if _chroot_permitted() and shutil.which("ldd") else "uid"


def cache_root() -> Path:
    """Where runtimes are kept: $MINIGRAD_GRADER_CACHE, else /var/cache/minigrad-grader as root, else
    ~/.cache/minigrad-grader.  As root, the folder must belong to root and be writable by root alone."""
    given = os.environ.get("MINIGRAD_GRADER_CACHE")
    if given:
        root = Path(given)
    elif os.geteuid() == 0:
        root = Path("/var/cache/minigrad-grader")
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "minigrad-grader"
    root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        info = root.stat()
        if info.st_uid != 0 or info.st_mode & 0o022:
            raise RuntimeBuildError(f"the grader's cache folder {root} must belong to root and be writable by root "
                                "alone (others could plant files the sandbox runs)")
        os.chmod(root, 0o755)
    return root


def ensure(mode: str | None = None, wheel: Path | None = None) -> Runtime:
    """The runtime for the engine (built and warmed up if it does not exist yet).

    The engine is ``wheel``, else $MINIGRAD_ENGINE_WHEEL (a grader shipped
    without the engine's sources, as in a Gradescope bundle), else the wheel
    of this repository's engine as it is now.
    """
    mode = mode or default_mode()
    root_dir = cache_root()
    given = wheel or os.environ.get("MINIGRAD_ENGINE_WHEEL")
    signature = (mode, str(root_dir), _files_signature([Path(given)] if given else _engine_sources()))
    known = _known.get(signature)
    if known is not None and (known.root / "READY").is_file():
        return known
    key = _key(Path(given).read_bytes() if given else _sources_digest(), mode)
    target = root_dir / f"runtime-{key[:20]}"
    with _locked(root_dir / ".lock"):
        runtime = _describe(target, mode)
        if not (target / "READY").is_file():
            if target.exists():
                _remove(target)
            with tempfile_dir(root_dir) as scratch:
                _build(runtime, Path(given) if given else build_wheel(scratch))
            (target / "READY").write_text(key + "\n")
            _collect_old(root_dir, keep=target)
    _known[signature] = runtime
    return runtime


_known = {}  # (mode, cache, signature of the engine's files) -> Runtime: an unchanged engine is not packed again


def _engine_sources() -> list:
    from ..wheel import REPO

    return [REPO / "pyproject.toml"] + [path for _, path in engine_files()]


def _files_signature(paths) -> tuple:
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)


@contextlib.contextmanager
def tempfile_dir(parent: Path):
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="scratch-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _key(engine: bytes, mode: str) -> str:
    """What a runtime is built from: the engine (a wheel's bytes, or the digest of its sources), this
    interpreter, the dependencies (where they are, which versions), the warm-up, the mode."""
    digest = hashlib.sha256()
    for part in (RUNTIME_VERSION, mode, sys.version, _base_executable(), (HERE / "warmup.py").read_text()):
        digest.update(part.encode() + b"\0")
    digest.update(hashlib.sha256(engine).digest())
    for name in DEPENDENCIES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise RuntimeBuildError(f"the grader needs {name} installed (the worker imports it)")
        site = Path(spec.origin).parent.parent
        versions = sorted(p.name for p in site.glob(f"{name}-*.dist-info"))
        digest.update(f"{name}={spec.origin}:{versions}".encode())
    return digest.hexdigest()


def _sources_digest() -> bytes:
    """The engine's sources as the wheel would hold them (names and bytes), and pyproject.toml."""
    from ..wheel import REPO

    digest = hashlib.sha256((REPO / "pyproject.toml").read_bytes())
    for arcname, path in engine_files():
        digest.update(arcname.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.digest()


def _base_executable() -> str:
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def _describe(root: Path, mode: str) -> Runtime:
    executable = _base_executable()
    chroot = mode == "chroot"
    python = executable if mode == "user" else (executable if chroot else str(root) + executable)
    library_path = ""
    if mode == "uid":  # the copied interpreter's libpython, whose original may sit in a folder others cannot enter
        library_path = ":".join(str(root) + d for d in _library_dirs(executable))
    inner = (lambda p: "/" + p) if chroot else (lambda p: str(root / p))
    return Runtime(root, mode, python, inner("site"), inner("engine"), library_path,
                   network_namespace=mode != "user" and _netns_permitted_here())


def _library_dirs(executable: str) -> list[str]:
    return sorted({str(Path(p).parent) for p in _ldd([executable]) if "libpython" in Path(p).name})


# -- building ----------------------------------------------------------------------------------------

def _build(runtime: Runtime, wheel: Path) -> None:
    root = runtime.root
    _mkdir(root)
    _mkdir(root / "jobs", 0o711)  # workers reach their own folder, and list nobody's
    site = root / "site"
    _mkdir(site)
    for name, origin in _engine_dependencies():
        origin = Path(origin)
        top = origin.parent if origin.name == "__init__.py" else origin
        for entry in sorted(top.parent.iterdir()):
            if entry == top or entry.name == f"{name}.libs" or (
                    entry.name.lower().startswith(f"{name.lower()}-") and entry.name.endswith(".dist-info")):
                _place_tree(entry, site / entry.name)
    engine = root / "engine"
    _mkdir(engine)
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            target = engine / member.filename
            _mkdir_parents(target.parent, engine)
            target.write_bytes(archive.read(member))
            os.chmod(target, 0o644)
    compileall.compile_dir(str(engine), ddir=runtime.inner(engine), quiet=1)
    if runtime.mode != "user":
        _place_interpreter(root, with_libraries=runtime.chroot)
    if runtime.chroot:
        _device_nodes(root)
    _mkdir(root / "numba")
    _warm_up(runtime)
    _fix_modes(root / "numba")
    _fix_modes(engine)


def _engine_dependencies() -> list:
    """(name, origin) of every module outside the stdlib that importing the engine loads (numpy, numba, ...),
    found by importing it in a fresh process of this environment."""
    probe = (
        "import json, sys; before = set(sys.modules); import minigrad, rnn; "
        "names = sorted({m.split('.')[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names)); "
        "print(json.dumps([(n, getattr(sys.modules[n], '__file__', None)) for n in names "
        "if n not in ('minigrad', 'rnn') and getattr(sys.modules[n], '__file__', None)]))"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False,
                         cwd="/", timeout=300)
    if run.returncode != 0:
        raise RuntimeBuildError(f"the engine does not import in the grader's environment:\n{run.stderr[-2000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def _place_interpreter(root: Path, with_libraries: bool) -> None:
    """The executable and the stdlib at their own absolute paths inside ``root`` (and, for a chroot, the
    shared libraries everything there loads)."""
    executable = _base_executable()
    _place_file(Path(executable), root / executable.lstrip("/"))
    stdlib = Path(os.path.realpath(os.path.dirname(os.__file__)))
    _place_tree(stdlib, root / str(stdlib).lstrip("/"), skip=STDLIB_SKIP)
    objects = [executable] + [str(p) for p in (root / "site").rglob("*.so*") if p.is_file()]
    objects += [str(p) for p in stdlib.joinpath("lib-dynload").glob("*.so")]
    for library in _ldd(objects):
        if os.path.realpath(library).startswith(str(root) + os.sep):
            continue  # bundled with a package of site/ (numpy.libs, ...): found there through $ORIGIN
        if with_libraries or "libpython" in Path(library).name:
            _place_file(Path(os.path.realpath(library)), root / library.lstrip("/"))


def _ldd(objects: list[str]) -> list[str]:
    """The absolute paths of the shared libraries (and the loader) that ``objects`` load."""
    found = set()
    for start in range(0, len(objects), 60):
        run = subprocess.run(["ldd", *objects[start:start + 60]], capture_output=True, text=True, check=False)
        for line in run.stdout.splitlines():
            line = line.strip()
            if "=>" in line:
                path = line.split("=>", 1)[1].strip().split(" ")[0]
            else:
                path = line.split(" ")[0]
            if path.startswith("/") and not path.endswith(":"):
                found.add(path)
    return sorted(found)


def _device_nodes(root: Path) -> None:
    """/dev/null, zero, random and urandom inside a chroot (if the grader may make device nodes)."""
    _mkdir(root / "dev")
    for name, minor in (("null", 3), ("zero", 5), ("random", 8), ("urandom", 9)):
        with contextlib.suppress(OSError):
            os.mknod(root / "dev" / name, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
            os.chmod(root / "dev" / name, 0o666)


def _warm_up(runtime: Runtime) -> None:
    """Run warmup.py in the runtime, as the grader, so that numba's cache holds the engine's kernels."""
    root = runtime.root
    folder = root / "warmup"
    _mkdir(folder)
    shutil.copyfile(HERE / "warmup.py", folder / "warmup.py")
    _mkdir(folder / "tmp", 0o700)
    paths = [runtime.site, runtime.engine]
    bootstrap = (f"import sys, runpy; sys.path[:0] = {paths!r}; "
                 f"runpy.run_path({runtime.inner(folder / 'warmup.py')!r}, run_name='__main__')")
    env = worker_environment(runtime, home=runtime.inner(folder), numba_cache=runtime.inner(root / "numba"))
    chroot = str(root) if runtime.chroot else None

    def enter():
        if chroot:
            os.chroot(chroot)
        os.chdir("/" if chroot else str(folder))

    run = subprocess.run([runtime.python, "-I", "-S", "-B", "-c", bootstrap], env=env, preexec_fn=enter,
                         capture_output=True, text=True, timeout=900, check=False)
    if run.returncode != 0:
        raise RuntimeBuildError(f"the runtime's warm-up failed (exit code {run.returncode}):\n{run.stderr[-3000:]}")


def worker_environment(runtime: Runtime, home: str, numba_cache: str) -> dict:
    """The whole environment of a worker: nothing of the grader's is passed on."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home + "/tmp", "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8", "NUMBA_CACHE_DIR": numba_cache, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1",
    }
    if runtime.library_path:
        env["LD_LIBRARY_PATH"] = runtime.library_path
    elif runtime.chroot:
        env["LD_LIBRARY_PATH"] = "/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib:/usr/lib"
    return env


# -- files -------------------------------------------------------------------------------------------

def _mkdir(path: Path, mode: int = 0o755) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)


def _mkdir_parents(path: Path, top: Path) -> None:
    missing = []
    while not path.exists() and path != top:
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        _mkdir(folder)


def _place_file(source: Path, target: Path) -> None:
    """``target`` becomes ``source``: a hard link when it is readable by all, else a copy readable by all."""
    if target.exists() or target.is_symlink():
        return
    _mkdir_parents(target.parent, Path("/"))
    info = source.stat()
    if info.st_mode & 0o004 and (os.geteuid() != 0 or info.st_uid == 0):
        with contextlib.suppress(OSError):
            os.link(source, target)
            return
    shutil.copy2(source, target)
    os.chmod(target, 0o755 if info.st_mode & 0o111 else 0o644)


def _place_tree(source: Path, target: Path, skip=frozenset()) -> None:
    if source.is_file():
        _place_file(source, target)
        return
    _mkdir_parents(target, Path("/"))
    _mkdir(target)
    for folder, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if not (Path(folder) == source and d in skip))
        here = target / Path(folder).relative_to(source)
        _mkdir(here)
        for name in files:
            path = Path(folder) / name
            if path.is_symlink():
                link = here / name
                if not link.exists():
                    os.symlink(os.readlink(path), link)
            else:
                _place_file(path, here / name)
        for name in list(dirs):
            if (Path(folder) / name).is_symlink():
                dirs.remove(name)
                if not (here / name).is_symlink():
                    os.symlink(os.readlink(Path(folder) / name), here / name)


def _fix_modes(top: Path) -> None:
    for folder, dirs, files in os.walk(top):
        os.chmod(folder, 0o755)
        for name in files:
            path = Path(folder) / name
            if path.stat().st_nlink == 1:  # never chmod a hard link's original
                os.chmod(path, 0o644)


def _collect_old(root_dir: Path, keep: Path) -> None:
    runtimes = sorted((p for p in root_dir.glob("runtime-*") if p != keep), key=lambda p: p.stat().st_mtime)
    for old in runtimes[:max(len(runtimes) - (KEEP - 1), 0)]:
        jobs = old / "jobs"
        if not (jobs.is_dir() and any(_alive(job) for job in jobs.iterdir())):  # one in use stays
            _remove(old)


def _alive(job: Path) -> bool:
    """Whether the grader process that made a job folder ("<uid>-<pid>-<n>", "zygote-<pid>-<n>") still runs."""
    try:
        pid = int(job.name.split("-")[1])
    except (IndexError, ValueError):
        return True
    return Path(f"/proc/{pid}").exists()


def _remove(path: Path) -> None:
    def fix(function, failed, info):
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(failed), 0o700)
            os.chmod(failed, 0o700)
            function(failed)

    shutil.rmtree(path, onerror=fix)


# -- what the machine permits ------------------------------------------------------------------------

def _in_child(action) -> bool:
    """Whether ``action()`` succeeds in a forked child (so that it changes nothing here)."""
    pid = os.fork()
    if pid == 0:
        try:
            action()
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _chroot_permitted() -> bool:
    return _in_child(lambda: os.chroot("/"))


def _netns_permitted() -> bool:
    from . import launch

    return _in_child(launch.new_network_namespace)


@functools.cache
def _netns_permitted_here() -> bool:
    """Asked once per process and remembered in the cache folder (making a namespace takes a while)."""
    record = cache_root() / f"netns-{os.uname().release}"
    if record.is_file():
        return record.read_text().strip() == "yes"
    permitted = _netns_permitted()
    record.write_text("yes\n" if permitted else "no\n")
    return permitted


def protections(runtime: Runtime) -> list[str]:
    """What the sandbox does on this machine, in words (``python -m assignments prepare`` prints it)."""
    lines = ["the grader never imports the student's file: a worker process does, and answers with data",
             "the worker imports NumPy and the engine from this runtime, never from the repository",
             "rlimits: address space, CPU seconds, file size, processes, open files; stdout and stderr capped"]
    if runtime.mode == "chroot":
        lines.append("root: each worker runs as a sandbox user of its own, in a chroot of this runtime "
                     "(the repository, the grader's files and other jobs do not exist for it)")
    elif runtime.mode == "uid":
        lines.append("root, but chroot is refused: each worker runs as a sandbox user of its own; it can read what "
                     "any user may read, so keep the solutions and hidden tests readable by their owner only")
    else:
        lines.append("NOT ROOT: the worker runs as you, so it can read and write what you can (solutions, hidden "
                     "tests, this runtime, the grader) and signal your processes; grade as root (or on "
                     "Gradescope) when that matters")
    lines.append("no network for the worker" if runtime.network_namespace
                 else "the worker can reach the network (no network namespace permitted here)")
    return lines


def describe(runtime: Runtime) -> dict:
    """What a report may say about the runtime (for the instructor, never shown to a student)."""
    return {"root": str(runtime.root), "mode": runtime.mode, "network_namespace": runtime.network_namespace,
            "built": time.ctime((runtime.root / "READY").stat().st_mtime) if (runtime.root / "READY").exists()
            else None}


if __name__ == "__main__":  # python -m assignments.sandbox.runtime: build the runtime now, print where it is
    print(json.dumps(describe(ensure()), indent=2))
