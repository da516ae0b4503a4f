"""The checkpoint is one consistent unit: one file, written atomically and flushed, holding everything a
resume needs with the step inside, and refused with one clear line when anything in it does not fit.
Also: the run folder's lock, and the divergence guard of ``rnn.training.train``."""

import json
import os
import re
import stat
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from minigrad.errors import DivergenceError
from rnn import runfiles, training
from rnn.training import ConfigError

TEXT = "the quick brown fox jumps over the lazy dog; " * 30


@pytest.fixture
def text_run(tmp_path):
    """A text run (so it carries a hidden state) under a random strategy, stopped after 3 of 8 pieces."""
    (tmp_path / "text.txt").write_text(TEXT)
    run = training.build(task="text", file=str(tmp_path / "text.txt"), seq_len=10, batch=3, hidden=6, cell="lstm",
                         strategy="randomized:0.5", steps=80, seed=2)
    progress = training.Progress()
    training.train(run, progress, stop=lambda: progress.step >= 30)
    return run, progress


def members(path):
    with zipfile.ZipFile(path) as archive:
        return sorted(archive.namelist()), json.loads(archive.read("meta.json"))


def test_the_checkpoint_is_one_file_holding_everything(text_run, tmp_path):
    run, progress = text_run
    path = training.save_checkpoint(tmp_path / "checkpoint.npz", run, progress)
    names, meta = members(path)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz", "text.txt"]  # no temporary file left
    assert [n for n in names if n.startswith("model/")] == sorted(f"model/{k}.npy" for k in run.model.state_dict())
    assert [n for n in names if n.startswith("optimizer/")] == sorted(f"optimizer/{k}.npy"
                                                                      for k in run.optimizer.state_dict())
    assert [n for n in names if n.startswith("state/")] == ["state/0.npy", "state/1.npy"]  # the LSTM's (h, c)
    assert meta["step"] == progress.step == 30 and meta["updates"] == progress.updates
    assert meta["rows"] == progress.rows and meta["config"] == run.config.as_dict()
    assert meta["generators"] == {"_rng": run.strategy._rng.bit_generator.state}
    assert meta["data"] == training.TaskSource(run.config).fingerprint() and len(meta["data"]) == 64
    with np.load(path, allow_pickle=False) as archive:  # plain .npz: no pickle anywhere
        np.testing.assert_array_equal(archive["state/0"], progress.state[0].data)


def test_a_write_interrupted_midway_leaves_the_previous_checkpoint_and_no_temporary_file(text_run, tmp_path,
                                                                                          monkeypatch):
    run, progress = text_run
    path = training.save_checkpoint(tmp_path / "checkpoint.npz", run, progress)
    before = path.read_bytes()
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # a second Ctrl-C in the middle of the write
        return real(*args, **kwargs)

    real = np.lib.format.write_array
    monkeypatch.setattr(np.lib.format, "write_array", interrupted)
    progress.step += 10
    with pytest.raises(KeyboardInterrupt):
        training.save_checkpoint(path, run, progress)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz", "text.txt"]


def test_the_file_and_its_folder_are_flushed_to_disk(text_run, tmp_path, monkeypatch):
    run, progress = text_run
    flushed = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: flushed.append(stat.S_ISDIR(os.fstat(fd).st_mode)) or real(fd))
    training.save_checkpoint(tmp_path / "checkpoint.npz", run, progress)
    assert flushed == [False, True]  # the file, then the folder holding the rename


def test_a_resumed_run_continues_the_random_stream_and_the_carried_state(text_run, tmp_path):
    run, progress = text_run
    path = training.save_checkpoint(tmp_path / "checkpoint.npz", run, progress)
    again, loaded = training.load_checkpoint(path, run.config)
    assert again.strategy._rng.random() == run.strategy._rng.random()
    for got, want in zip(loaded.state, progress.state):
        np.testing.assert_array_equal(got.data, want.data)
    assert (loaded.step, loaded.updates, loaded.rows) == (progress.step, progress.updates, progress.rows)
    assert loaded.loss_sum == progress.loss_sum and loaded.target_count == progress.target_count


# -- what a damaged or foreign checkpoint says ------------------------------------------------------------
def rewrite(path, meta_change=None, arrays_change=None):
    """Rewrite a checkpoint with its meta and arrays edited (as a bug or a hand edit would leave it)."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files if name != "meta.json"}
    with zipfile.ZipFile(path) as archive:
        meta = json.loads(archive.read("meta.json"))
    if meta_change:
        meta_change(meta)
    if arrays_change:
        arrays_change(arrays)
    runfiles.write_checkpoint(path, arrays, meta)


def set_key(key, value):
    return lambda meta: meta.__setitem__(key, value)


DAMAGE = {
    "step is text": (dict(meta_change=set_key("step", "abc")), r"its step must be a non-negative integer, got 'abc'"),
    "step negative": (dict(meta_change=set_key("step", -100)), r"its step must be a non-negative integer, got -100"),
    "step fractional": (dict(meta_change=set_key("step", 40.5)), r"its step must be a non-negative integer, got 40.5"),
    "step null": (dict(meta_change=set_key("step", None)), r"its step must be a non-negative integer, got None"),
    "step not whole pieces": (dict(meta_change=set_key("step", 25)), r"step 25 is not a whole number of pieces"),
    "step before its rows": (dict(meta_change=set_key("step", 20)), r"a log row lies beyond the checkpoint's step 20"),
    "no step": (dict(meta_change=lambda m: m.pop("step")), r"its step must be a non-negative integer, got None"),
    "other format": (dict(meta_change=set_key("version", 99)), r"not a checkpoint this version can read"),
    "another run's": (dict(meta_change=lambda m: m["config"].__setitem__("lr", 0.5)),
                      r"it belongs to another run: lr 0.5 in the checkpoint, 0.01 in the config"),
    "damaged generator": (dict(meta_change=lambda m: m["generators"]["_rng"].__setitem__("state", "x")),
                          r"the saved state of generator _rng is damaged"),
    "missing generator": (dict(meta_change=set_key("generators", {})), r"it records the random generators \[\]"),
    "NaN weights": (dict(arrays_change=lambda a: a["model/C"].__setitem__((0, 0), np.nan)),
                    r"model/C holds NaN or inf: the run had diverged"),
    "missing array": (dict(arrays_change=lambda a: a.pop("optimizer/0.m")), r"missing optimizer/0.m"),
    "pickled array": (dict(arrays_change=lambda a: a.__setitem__("model/A", np.array([None], dtype=object))),
                      None),  # write_checkpoint refuses to pickle: see below
}


@pytest.mark.parametrize("case", DAMAGE)
def test_a_damaged_checkpoint_is_refused_with_one_line_and_nothing_changes(case, text_run, tmp_path):
    run, progress = text_run
    change, message = DAMAGE[case]
    path = training.save_checkpoint(tmp_path / "checkpoint.npz", run, progress)
    if message is None:
        with pytest.raises(ValueError, match="allow_pickle=False"):  # NumPy's own refusal: never written
            rewrite(path, **change)
        return
    rewrite(path, **change)
    fresh = training.build(run.config)
    before = fresh.model.state_dict()
    with pytest.raises(ConfigError, match=message) as caught:
        fresh_run, _ = training.load_checkpoint(path, run.config)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)
    for name, array in fresh.model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])


@pytest.mark.parametrize("cut", [0, 100, -30])
def test_an_empty_or_truncated_checkpoint_is_refused(cut, text_run, tmp_path):
    run, progress = text_run
    path = training.save_checkpoint(tmp_path / "checkpoint.npz", run, progress)
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(ConfigError, match=r"(is not an .npz file \(it is empty\)|truncated or damaged)"):
        training.load_checkpoint(path, run.config)


def test_a_checkpoint_on_an_edited_text_is_refused(text_run, tmp_path):
    run, progress = text_run
    path = training.save_checkpoint(tmp_path / "checkpoint.npz", run, progress)
    (tmp_path / "text.txt").write_text(TEXT.replace("fox", "cat"))
    with pytest.raises(ConfigError, match=r"text.txt has changed since the checkpoint was written"):
        training.load_checkpoint(path, run.config)


def test_only_steps_may_change_when_loading(text_run, tmp_path):
    run, progress = text_run
    path = training.save_checkpoint(tmp_path / "checkpoint.npz", run, progress)
    with pytest.raises(ConfigError, match=r"only steps may change when a run resumes, not lr"):
        training.load_checkpoint(path, run.config, lr=0.5)


# -- the lock ------------------------------------------------------------------------------------------
def test_a_held_lock_refuses_a_second_holder_naming_the_pid(tmp_path):
    with runfiles.RunLock(tmp_path):
        assert (tmp_path / "lock").read_text() == f"{os.getpid()}\n"
        with pytest.raises(runfiles.LockedError, match=rf"is in use by process {os.getpid()} \(it holds .*lock\)"):
            runfiles.RunLock(tmp_path).acquire()
    assert not (tmp_path / "lock").exists()
    with runfiles.RunLock(tmp_path):  # free again
        pass


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from rnn import runfiles; "
                               "runfiles.RunLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(600)",
                               str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(runfiles.LockedError, match=rf"in use by process {holder.pid} "):
            runfiles.RunLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait(timeout=60)
    assert (tmp_path / "lock").read_text().strip() == str(holder.pid)  # left behind by the dead holder
    with runfiles.RunLock(tmp_path):
        assert (tmp_path / "lock").read_text() == f"{os.getpid()}\n"


# -- divergence ----------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_train_stops_at_the_first_non_finite_loss_naming_the_runs_step():
    run = training.build(task="sine", seq_len=10, batch=4, hidden=8, strategy="chunked:5", steps=200,
                         optimizer="sgd", lr=1e300)
    progress = training.Progress()
    with pytest.raises(DivergenceError, match=r"training diverged at step \d+ \(update \d+\)") as caught:
        training.train(run, progress)
    step, update = map(int, re.search(r"at step (\d+) \(update (\d+)\)", str(caught.value)).groups())
    assert caught.value.step == step and caught.value.last_good_step == progress.step
    assert progress.step < step <= progress.step + 10 and update > progress.updates
    assert all(np.isfinite(row["loss"]) and np.isfinite(row["metric"]) for row in progress.rows)


def test_evaluation_never_reports_an_accuracy_from_non_finite_outputs():
    run = training.build(task="echo", delay=2, seq_len=10, batch=4, hidden=8, steps=10)
    run.model.C.data[...] = np.nan
    assert np.isnan(training.evaluate(run.model, run.source.evaluation))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_a_comparison_keeps_going_when_one_strategy_diverges():
    runs = training.build_runs(["full", "chunked:2"], task="sine", seq_len=10, batch=4, hidden=8, steps=40,
                               optimizer="sgd", lr=0.01)
    runs["chunked:2"].optimizer.lr = 1e300
    comparison = training.train_runs(runs)
    assert list(comparison.diverged) == ["chunked:2"] and "training diverged at step" in comparison.diverged["chunked:2"]
    rows = {row["strategy"]: row for row in comparison.table}
    assert np.isnan(rows["chunked:2"]["loss"]) and np.isnan(rows["chunked:2"]["metric"])
    assert np.isfinite(rows["full"]["loss"]) and np.isfinite(rows["full"]["metric"])


def test_checkpoints_are_spaced_to_cost_at_most_their_share_of_the_time(tmp_path, monkeypatch):
    """rnn.train writes a checkpoint only when the time since the last is 1/CHECKPOINT_SHARE times its cost."""
    from rnn.cli import train as cli

    clock = [100.0]
    monkeypatch.setattr(cli.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(cli.training, "save_checkpoint", lambda *args: clock.__setitem__(0, clock[0] + 0.01))
    monkeypatch.setattr(cli, "write_metrics", lambda *args: None)
    checkpoints = cli.Checkpoints(tmp_path, run=None, step=None)
    progress = training.Progress(step=10)
    saved = 0
    for piece in range(10000):  # pieces of 1 ms: 10 s of training
        clock[0] += 0.001
        if checkpoints.due():
            checkpoints.save(progress)
            saved += 1
    assert saved == checkpoints.count > 10
    assert checkpoints.seconds / (clock[0] - 100.0) <= cli.CHECKPOINT_SHARE + 1e-9
