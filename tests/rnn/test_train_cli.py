"""rnn.train and rnn.compare end to end, in a subprocess, on tiny settings."""

import json
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from rnn import registry, runfiles, training
from rnn.training import Config

TINY = ["--task", "echo", "--delay", "2", "--seq-len", "10", "--batch", "4", "--hidden", "8", "--steps", "40"]


def checkpoint_step(folder):
    """The step recorded inside a run folder's checkpoint."""
    with zipfile.ZipFile(folder / "checkpoint.npz") as archive:
        return json.loads(archive.read("meta.json"))["step"]


def cli(module, *args, cwd):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny finished run, then resumed to 60 steps."""
    root = tmp_path_factory.mktemp("train")
    done = cli("rnn.train", *TINY, "--strategy", "tbptt", "--k1", "2", "--k2", "4", "--out", "run", cwd=root)
    return root / "run", done


def test_train_writes_the_run_folder(trained):
    folder, done = trained
    assert done.returncode == 0, done.stderr
    for name in ("config.json", "metrics.csv", "curve.png", "model.npz", "checkpoint.npz"):
        assert (folder / name).is_file(), name
    assert "accuracy" in done.stdout and "peak" in done.stdout and "checkpoints in" in done.stdout
    assert json.loads((folder / "config.json").read_text())["strategy"] == "tbptt:2,4"
    assert runfiles.read_csv(folder / "metrics.csv")[-1]["step"] == 40
    assert checkpoint_step(folder) == 40
    assert not list(folder.glob(".*.tmp*")) and not (folder / "lock").exists()


def test_checkpoint_reloads_to_identical_predictions(trained):
    folder, _ = trained
    config = Config.from_dict(json.loads((folder / "config.json").read_text()))
    original = training.build(config)
    reloaded = training.build(config)
    original.model.load(folder / "model.npz")
    reloaded.model.load(folder / "model.npz")
    fresh = training.build(config).model
    xs = original.source.evaluation.xs
    np.testing.assert_array_equal(training.predict(original.model, xs), training.predict(reloaded.model, xs))
    assert not np.allclose(training.predict(original.model, xs), training.predict(fresh, xs))  # the weights were trained


def test_resume_continues_the_step_count(trained):
    folder, _ = trained
    done = cli("rnn.train", "--resume", str(folder), "--steps", "60", cwd=folder.parent)
    assert done.returncode == 0, done.stderr
    steps = [row["step"] for row in runfiles.read_csv(folder / "metrics.csv")]
    assert steps[-1] == 60 and steps == sorted(steps) and 40 in steps
    assert checkpoint_step(folder) == 60
    assert json.loads((folder / "config.json").read_text())["steps"] == 60


def test_compare_writes_table_and_plot(tmp_path):
    done = cli("rnn.compare", *TINY, "--strategies", "full", "chunked:2", "tbptt:2,4", "artbp:0.2",
               "randomized:0.5", "checkpointed:3", "--out", "cmp", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = runfiles.read_csv(tmp_path / "cmp" / "table.csv")
    assert [row["strategy"] for row in rows] == ["full", "chunked:2", "tbptt:2,4", "artbp:0.2",
                                                "randomized:0.5", "checkpointed:3"]
    assert (tmp_path / "cmp" / "curves.png").stat().st_size > 0
    assert "peak tape" in done.stdout


def test_help_explains_each_strategy(tmp_path):
    done = cli("rnn.train", "--help", cwd=tmp_path)
    assert done.returncode == 0
    for entry in registry.STRATEGIES.values():
        assert f"  {entry.form} " in done.stdout and entry.summary in done.stdout
    for flag in ("--task", "--file", "--delay", "--cell", "--k1", "--k2", "--clip", "--resume", "--force"):
        assert flag in done.stdout


BAD = {
    "unknown task": (["--task", "nope"], "unknown task 'nope'"),
    "unknown cell": (["--cell", "nope"], "unknown cell 'nope'"),
    "unknown strategy": (["--strategy", "nope"], "unknown strategy 'nope'"),
    "k2 < k1": (["--strategy", "tbptt", "--k1", "5", "--k2", "3"], "k2 >= k1"),
    "zero hidden": (["--hidden", "0"], "--hidden"),
    "negative steps": (["--steps", "-4"], "--steps"),
    "missing text file": (["--task", "text", "--file", "absent.txt"], "no such file"),
    "empty text file": (["--task", "text", "--file", "empty.txt"], "empty"),
    "binary text file": (["--task", "text", "--file", "binary.bin"], "binary"),
    "existing out": (["--out", "taken"], "already exists"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_exits_2_and_writes_nothing(case, tmp_path):
    args, message = BAD[case]
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "binary.bin").write_bytes(b"\x00\x01\x02abc")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    out = [] if "--out" in args else ["--out", "run"]
    done = cli("rnn.train", *TINY, *args, *out, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_compare_bad_strategy_spec_exits_2(tmp_path):
    done = cli("rnn.compare", *TINY, "--strategies", "full", "tbptt:4", "--out", "cmp", cwd=tmp_path)
    assert done.returncode == 2 and "tbptt:K1,K2" in done.stderr
    assert not (tmp_path / "cmp").exists()


def test_ctrl_c_leaves_a_loadable_checkpoint(tmp_path):
    """SIGINT mid-run: exit code 130, a message naming the step, and the checkpoint loads and resumes."""
    args = [*TINY[:-1], "100000", "--out", "run"]
    process = subprocess.Popen([sys.executable, "-m", "rnn.train", *args], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoint = tmp_path / "run" / "checkpoint.npz"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "--resume" in stderr and "finishing the current piece" in stderr
    step = checkpoint_step(tmp_path / "run")
    assert 0 < step < 100000 and f"interrupted at step {step}:" in stderr
    config = Config.from_dict(json.loads((tmp_path / "run" / "config.json").read_text()))
    run, progress = training.load_checkpoint(checkpoint, config)
    assert progress.step == step
    done = cli("rnn.train", "--resume", "run", "--steps", str(step + 20), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert checkpoint_step(tmp_path / "run") == step + 20
