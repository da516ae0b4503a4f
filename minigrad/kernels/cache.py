"""Keep numba's on-disk cache of these kernels from going stale across files.

``@njit(cache=True)`` stamps each cached kernel with a hash of the one file
that defines it.  But the kernels of ``rnn.py`` and ``gates.py`` inline
helpers of ``activations.py`` (``activate``, ``derivative_from_output``), so
after an edit to ``activations.py`` numba would keep loading their cached
machine code, with the old helper compiled in: silently wrong numbers.

So this package keeps a stamp of its own: a hash of the source of every
module in this directory, in a file next to numba's cache of them.  When the
stamp differs from the sources, ``clear_stale_cache`` deletes every cached
kernel of this directory (its ``*.nbi`` index and ``*.nbc`` data files, and
nothing else) and writes the new stamp; numba then compiles each kernel
afresh on its first call.  ``minigrad/kernels/__init__.py`` runs it before it
imports any kernel module.

Where the cache lives is numba's decision (``__pycache__`` beside the
modules when it is writable, a directory under ``NUMBA_CACHE_DIR`` when that
is set, else the user's cache directory); ``cache_dir`` asks numba's own
locator, with a plain function of this directory as the probe.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
STAMP_NAME = "minigrad-kernels.stamp"
CACHE_SUFFIXES = (".nbi", ".nbc")


def modules(directory: Path = HERE) -> list[Path]:
    """Every Python module of ``directory`` (this one by default), in a fixed order."""
    return sorted(directory.glob("*.py"))


def source_stamp(directory: Path = HERE) -> str:
    """A SHA-256 of the names and sources of every module of ``directory`` (this one by default):
    it changes with any edit to any of them."""
    digest = hashlib.sha256()
    for path in modules(directory):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _probe():
    """Never called: numba's cache locator is asked where it would cache a kernel of this directory."""


def cache_dir() -> Path | None:
    """The directory numba caches the kernels of this directory in, or None if it has none
    (then numba caches nothing, and nothing can be stale)."""
    from numba.core.caching import FunctionCache

    try:
        return Path(FunctionCache(_probe).cache_path)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return None


def cached_kernel_files(directory: Path) -> list[Path]:
    """numba's index and data files for the kernels of this directory's modules in ``directory``.

    numba names them ``<module>.<function>-<line>.py<version>[.<n>].nb[ic]``."""
    stems = {path.stem for path in modules()}
    return [f for f in directory.iterdir()
            if f.suffix in CACHE_SUFFIXES and f.name.split(".", 1)[0] in stems]


def clear_stale_cache() -> bool:
    """Delete the cached kernels of this directory if any module here changed since they were
    cached; return whether it did.  Safe when several processes start at once: each deletes
    (a file already gone is fine) and writes the same stamp by an atomic rename."""
    directory = cache_dir()
    if directory is None:
        return False
    stamp = source_stamp()
    stamp_file = directory / STAMP_NAME
    try:
        if stamp_file.read_text() == stamp:
            return False
    except OSError:
        pass  # no stamp yet: whatever is cached may predate it
    try:
        for f in cached_kernel_files(directory):
            f.unlink(missing_ok=True)
        partial = directory / f"{STAMP_NAME}.{os.getpid()}.tmp"
        partial.write_text(stamp)
        os.replace(partial, stamp_file)
    except OSError as error:
        warnings.warn(f"minigrad.kernels: could not clear the stale numba cache in {directory} ({error}); "
                      "kernels compiled from older sources may run: delete that directory's *.nbi and *.nbc files",
                      RuntimeWarning, stacklevel=2)
    return True
