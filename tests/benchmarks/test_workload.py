"""python -m benchmarks.workload --quick: the report's structure, and minigrad's first losses next to PyTorch's.

No test looks at a wall time: the machine is shared, and the figures mean
something only as ratios inside one run.
"""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import benchmarks
from benchmarks import workload

PROJECT_ROOT = Path(benchmarks.__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("workload") / "WORKLOAD.md"
    done = subprocess.run([sys.executable, "-m", "benchmarks.workload", "--quick", "--out", str(out)],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return out.read_text(), done


def table_rows(text):
    """The rows of the results table: {(library, dtype): cells}."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("|") and cells[0] in ("minigrad", "PyTorch"):
            rows[(cells[0], cells[1])] = cells
    return rows


def test_quick_report_structure(quick_report):
    text, done = quick_report
    assert done.stdout.strip() == text.strip()
    assert text.startswith("# D2L's Time Machine recipe, end to end")
    assert re.findall(r"^## (.+)$", text, flags=re.MULTILINE) == ["Target", "Agreement", "Machine"]
    status = re.search(r"^\| D2L's recipe: minigrad float32 <= 1.0x PyTorch float32 \(median epoch\) \| (.+) \| (.+) \|$",
                       text, flags=re.MULTILINE)
    assert status, text
    assert status.group(2).strip() in (("met", "not met") if workload.torch_available() else ("not measured",))
    assert "python -m benchmarks.workload --quick --out" in text and "Quick smoke run" in text
    rows = table_rows(text)
    libraries = ["minigrad"] + (["PyTorch"] if workload.torch_available() else [])
    assert sorted(rows) == sorted((lib, dtype) for lib in libraries for dtype in ("float32", "float64"))
    for (library, dtype), cells in rows.items():
        seconds, median, ratio, train, validation = cells[2:]
        assert float(seconds) > 0 and float(median) > 0
        assert ratio == ("1.00x" if library == "PyTorch" else ratio) and (ratio.endswith("x") or ratio == "-")
        assert 1 < float(train) < 28 and 1 < float(validation) < 28  # below uniform guessing over 28 tokens
    if not workload.torch_available():
        assert "PyTorch was not run" in text


def test_minigrad_and_torch_start_with_the_same_losses(quick_report):
    if not workload.torch_available():
        pytest.skip("torch is not installed")
    text, _ = quick_report
    match = re.search(r"Largest relative difference: ([0-9.e+-]+)\.", text)
    assert match and float(match.group(1)) < 1e-5, text
    rows = table_rows(text)
    for dtype in ("float32", "float64"):  # same weights, same batches: the same model at the end
        ours, theirs = rows[("minigrad", dtype)], rows[("PyTorch", dtype)]
        np.testing.assert_allclose(float(ours[6]), float(theirs[6]), rtol=1e-3)


def test_the_recipe_data_and_weights():
    data = workload.load_data(workload.QUICK)
    assert data.V == 28 and data.vocab[0] == "<unk>" and data.vocab[1] == " "
    assert data.train_x.shape == (192, 32) and data.val_x.shape == (128, 32)
    np.testing.assert_array_equal(data.train_x[1:, :-1], data.train_x[:-1, 1:])  # overlapping windows
    np.testing.assert_array_equal(data.train_y[:, :-1], data.train_x[:, 1:])  # each target the next character
    assert data.train_x.min() >= 1  # <unk> never occurs
    batches = workload.epoch_batches(workload.FULL, 0)
    assert [len(b) for b in batches] == [1024] * 9 + [784]
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(10_000))
    xs = workload.one_hot(data.train_x[:3], data.V, np.float32)
    assert xs.shape == (32, 3, 28) and xs.dtype == np.float32
    np.testing.assert_array_equal(xs.argmax(-1), data.train_x[:3].T)


def test_bad_command_lines_are_refused(tmp_path):
    for argv in (["--epochs", "0"], ["--dtypes", "float16"], ["--out", str(tmp_path)]):
        done = subprocess.run([sys.executable, "-m", "benchmarks.workload", *argv], cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 2, (argv, done.stderr)
