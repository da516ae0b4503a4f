"""numba's on-disk cache cannot go stale across kernel files (``minigrad.kernels.cache``).

``rnn_step_delta`` (kernels/rnn.py) inlines ``derivative_from_output`` from
kernels/activations.py.  numba's ``cache=True`` checks only the file that
defines a kernel, so after an edit to activations.py it would keep loading the
machine code compiled with the old helper.  The test copies the package to a
temporary directory and runs the kernel in fresh processes: compiled and
cached, loaded from the cache, then after an edit of the inlined helper, which
must show.  A control run proves the hazard is real: with the package's stamp
forged to match the edited sources (as if there were no stamp), numba serves
the stale kernel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import json, numpy as np, minigrad
from minigrad import kernels
h, grad, out = np.array([0.5, 0.25]), np.ones(2), np.empty(2)
kernels.rnn_step_delta(h, grad, np.zeros(2), kernels.SIGMOID, out)  # out = grad * f'(.) through h
stats = kernels.rnn_step_delta.stats
print(json.dumps({"file": minigrad.__file__, "out": out.tolist(), "cache": stats.cache_path,
                  "hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values())}))
"""

SLOPE = "    if code == SIGMOID:\n        return {}y * (1.0 - y)\n"  # the sigmoid branch of derivative_from_output


def run_child(tree: Path, cache_dir: Path | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env["PYTHONPATH"] = str(tree)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    proc = subprocess.run([sys.executable, "-c", CHILD], cwd=tree, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, f"child failed:\n{proc.stdout}\n{proc.stderr}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(result["file"]).resolve().is_relative_to(tree.resolve()), result["file"]  # the copy ran
    return result


def edit_slope(tree: Path, old: str, new: str) -> None:
    """In the copy, change the sigmoid slope of derivative_from_output from old y (1 - y) to new y (1 - y)."""
    path = tree / "minigrad" / "kernels" / "activations.py"
    source = path.read_text()
    assert source.count(SLOPE.format(old)) == 1, "the sigmoid branch of derivative_from_output moved: update the test"
    path.write_text(source.replace(SLOPE.format(old), SLOPE.format(new)))


@pytest.mark.parametrize("where", ["beside the modules", "NUMBA_CACHE_DIR"])
def test_an_edit_of_an_inlined_helper_is_seen_through_the_cache(tmp_path, where):
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "minigrad", tree / "minigrad", ignore=shutil.ignore_patterns("__pycache__"))
    numba_dir = tmp_path / "numba-cache" if where == "NUMBA_CACHE_DIR" else None

    first = run_child(tree, numba_dir)
    assert first["out"] == [0.25, 0.1875]  # y (1 - y)
    assert first["misses"] == 1 and first["hits"] == 0  # compiled ...
    cache = Path(first["cache"])
    assert cache.resolve().is_relative_to((numba_dir or tree).resolve())
    unrelated = cache / "unrelated.kernel-1.py311.nbi"  # not a module of minigrad/kernels: never deleted
    unrelated.write_bytes(b"")
    second = run_child(tree, numba_dir)
    assert second["out"] == first["out"] and second["hits"] == 1 and second["misses"] == 0  # ... and cached

    edit_slope(tree, "", "2.0 * ")
    third = run_child(tree, numba_dir)
    assert third["out"] == [0.5, 0.375]  # the edited helper runs
    assert third["misses"] == 1 and third["hits"] == 0
    assert unrelated.exists() and any(cache.glob("rnn.rnn_step_delta-*.nbi"))

    # The control: forge the stamp so that the package believes its cache is fresh, edit
    # again, and numba by itself serves the kernel compiled with the previous helper.
    from minigrad.kernels.cache import STAMP_NAME, source_stamp

    edit_slope(tree, "2.0 * ", "3.0 * ")
    (cache / STAMP_NAME).write_text(source_stamp(tree / "minigrad" / "kernels"))
    stale = run_child(tree, numba_dir)
    assert stale["hits"] == 1 and stale["out"] == third["out"], "numba noticed the edit by itself"
