"""Resume is bitwise faithful: a run stopped anywhere and resumed from its checkpoint ends with exactly the
weights and log rows of a run that never stopped.

In process, for every registered strategy (the random ones included), every task (text included) and
every optimizer: train, stop at a random piece, write the checkpoint to disk, build a fresh run from the
config, load the file, finish, compare.  In real subprocesses of ``python -m rnn.train``: SIGKILL (twice in
one run, the first while a second writer is refused), SIGINT and a double SIGINT, each at a random
moment after the first checkpoint, then ``--resume`` to the end and the same comparison.
"""

import json
import random
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from rnn import registry, runfiles, training
from rnn.cli import train as train_cli
from rnn.training import Config

ROOT = Path(__file__).resolve().parents[2]
TIMEMACHINE = ROOT.parent / "shared" / "data" / "timemachine.txt"
TEXT = ("It was the best of times, it was the worst of times, it was the age of wisdom, "
        "it was the age of foolishness, it was the epoch of belief. ") * 40
LOGGED = ("step", "updates", "loss", "metric")  # a log row's "seconds" is wall time, the rest must be equal


def text_file(folder: Path) -> str:
    """A text to train on: the first 20,000 characters of The Time Machine when the data folder is there."""
    path = folder / "text.txt"
    text = TIMEMACHINE.read_text(encoding="utf-8")[:20000] if TIMEMACHINE.is_file() else TEXT
    path.write_text(text, encoding="utf-8")
    return str(path)


def weights(run) -> dict:
    return run.model.state_dict()


def logged(rows) -> list:
    return [{key: row[key] for key in LOGGED} for row in rows]


def assert_same_run(got_weights: dict, got_rows: list, want: training.Run, want_rows: list, label: str):
    reference = weights(want)
    assert got_weights.keys() == reference.keys(), label
    for name, array in reference.items():
        assert np.array_equal(got_weights[name], array), f"{label}: weights {name} differ"  # bitwise, not close
    assert logged(got_rows) == logged(want_rows), f"{label}: log rows differ"


# -- in process: every strategy, task and optimizer ------------------------------------------------
def settings(task: str, strategy: str, optimizer: str = "adam", folder: Path | None = None) -> dict:
    values = {"task": task, "seq_len": 12, "batch": 3, "hidden": 5, "strategy": strategy, "steps": 96,
              "optimizer": optimizer, "lr": 0.01, "clip": 1.0, "seed": 1, "delay": 2}
    if strategy == "uoro":
        values["cell"] = "layernorm"  # a cell with a tangent rule for every op it records
        values["steps"] = 60  # forward mode is slow: five pieces
    if task == "text":
        values["file"] = text_file(folder)
    return values


def interrupted(values: dict, stops: list, folder: Path) -> tuple[training.Run, training.Progress]:
    """Train, stopping after each piece number in ``stops``; at each stop save the checkpoint to a file and
    continue in a freshly built run loaded from that file (as a resumed process does)."""
    run, progress = training.build(**values), training.Progress()
    for stop in stops:
        training.train(run, progress, stop=lambda: progress.step >= stop * values["seq_len"])
        path = folder / "checkpoint.npz"
        training.save_checkpoint(path, run, progress)
        run, progress = training.load_checkpoint(path, run.config)
    training.train(run, progress)
    return run, progress


CASES = [(task, strategy, "adam") for task in training.TASKS for strategy in registry.STRATEGIES]
CASES += [(task, strategy, optimizer) for optimizer in ("sgd", "adagrad")
          for task, strategy in (("text", "artbp:0.3"), ("echo", "randomized:0.5"), ("sine", "tbptt:2,5"),
                                 ("adding", "uoro"))]


@pytest.mark.parametrize("task, strategy, optimizer", CASES, ids=["-".join(case) for case in CASES])
def test_resume_in_process_equals_an_uninterrupted_run(task, strategy, optimizer, tmp_path):
    values = settings(task, strategy, optimizer, tmp_path)
    if task == "reber":
        values["seq_len"] = 12
    pieces = values["steps"] // values["seq_len"]
    rng = random.Random(f"{task}-{strategy}-{optimizer}")
    stops = sorted(rng.sample(range(1, pieces), 2))  # two interruptions at random pieces
    reference = training.build(**values)
    want = training.train(reference)
    run, progress = interrupted(values, stops, tmp_path)
    assert progress.step == want.step and progress.updates == want.updates
    assert_same_run(weights(run), progress.rows, reference, want.rows, f"{task} {strategy} {optimizer} stopped at {stops}")


def test_random_strategies_really_depend_on_their_saved_generator(tmp_path):
    """The comparison above can fail: rebuilding ARTBP from its seed instead of its saved state diverges."""
    values = settings("echo", "artbp:0.3", "adam", tmp_path)
    reference = training.build(**values)
    training.train(reference)
    run, progress = training.build(**values), training.Progress()
    training.train(run, progress, stop=lambda: progress.step >= 36)
    path = tmp_path / "checkpoint.npz"
    training.save_checkpoint(path, run, progress)
    fresh, loaded = training.load_checkpoint(path, run.config)
    fresh.strategy = registry.parse_strategy(values["strategy"], seed=values["seed"])  # the old bug: rebuilt from --seed
    training.train(fresh, loaded)
    assert any(not np.array_equal(a, b) for a, b in zip(weights(fresh).values(), weights(reference).values()))


def test_text_resume_really_depends_on_the_carried_state(tmp_path):
    """... and so does text: dropping the carried hidden state changes the weights."""
    values = settings("text", "tbptt:2,5", "adam", tmp_path)
    reference = training.build(**values)
    training.train(reference)
    run, progress = training.build(**values), training.Progress()
    training.train(run, progress, stop=lambda: progress.step >= 36)
    assert progress.state is not None
    progress.state = None
    training.train(run, progress)
    assert any(not np.array_equal(a, b) for a, b in zip(weights(run).values(), weights(reference).values()))


def test_resume_with_more_steps_gives_the_weights_of_the_longer_run(tmp_path):
    values = settings("text", "randomized:0.5", "adam", tmp_path)
    short = training.build(**values)
    progress = training.train(short)
    path = tmp_path / "checkpoint.npz"
    training.save_checkpoint(path, short, progress)
    run, progress = training.load_checkpoint(path, short.config, steps=2 * values["steps"])
    training.train(run, progress)
    longer = training.build(**{**values, "steps": 2 * values["steps"]})
    training.train(longer)
    for name, array in weights(longer).items():
        assert np.array_equal(weights(run)[name], array), name


# -- real processes, killed and interrupted at random moments ------------------------------------------
RNG = random.Random(15)


def cli_args(file: str) -> list:
    return ["--task", "text", "--file", file, "--seq-len", "20", "--batch", "4", "--hidden", "16",
            "--strategy", "artbp:0.2", "--optimizer", "adagrad", "--lr", "0.05", "--seed", "3", "--steps", "10000"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run (in this process) that every interrupted subprocess run must reproduce."""
    folder = tmp_path_factory.mktemp("reference")
    file = text_file(folder)
    config = Config(task="text", file=file, seq_len=20, batch=4, hidden=16, strategy="artbp:0.2", optimizer="adagrad",
                    lr=0.05, seed=3, steps=10000)
    run = training.build(config)
    progress = training.train(run)
    return file, run, progress


def start(folder: Path, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rnn.train", *args], cwd=folder, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(folder: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnn.train", *args], cwd=folder, capture_output=True, text=True,
                          timeout=600, check=False)


def saved_step(run_folder: Path):
    """The step inside the checkpoint, or None while there is none (it is replaced atomically: never half)."""
    try:
        with zipfile.ZipFile(run_folder / runfiles.CHECKPOINT) as archive:
            return json.loads(archive.read("meta.json"))["step"]
    except FileNotFoundError:
        return None


def wait_for_checkpoint(process, run_folder: Path, after=None, timeout=300) -> int:
    """Wait until the run has written a checkpoint (beyond step ``after``); return its step."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        step = saved_step(run_folder)
        if step is not None and (after is None or step > after):
            return step
        assert process.poll() is None, f"the run ended early: {process.communicate()}"
        time.sleep(0.02)
    raise AssertionError(f"no checkpoint in {run_folder} after {timeout} s")


def at_a_random_moment(process) -> float:
    """Sleep a random time (up to 0.6 s) and check the run is still going; return the delay."""
    delay = RNG.uniform(0.0, 0.6)
    time.sleep(delay)
    assert process.poll() is None, f"the run finished before the signal (after {delay:.2f} s); make it longer"
    return delay


def assert_equals_reference(run_folder: Path, reference):
    _, want_run, want = reference
    config = Config.from_dict(json.loads((run_folder / "config.json").read_text()))
    run, progress = training.load_checkpoint(run_folder / runfiles.CHECKPOINT, config)
    assert progress.step == want.step
    assert_same_run(weights(run), progress.rows, want_run, want.rows, "the resumed run's checkpoint")
    assert logged(runfiles.read_csv(run_folder / "metrics.csv")) == logged(want.rows)
    got = np.load(run_folder / "model.npz", allow_pickle=False)
    for name, array in weights(want_run).items():
        assert np.array_equal(got[name], array), f"model.npz {name}"
    assert not list(run_folder.glob(".*.tmp*")) and not (run_folder / runfiles.LOCK).exists()


def test_sigkill_twice_and_a_second_writer_then_resume_equals_the_uninterrupted_run(tmp_path, reference, monkeypatch,
                                                                                  capsys):
    """A second writer is refused naming the live holder; the holder is SIGKILLed at a random moment (its lock,
    left behind, is taken over), the resumed run is SIGKILLed again, and the last resume ends where the
    uninterrupted run ends, bitwise."""
    holder = start(tmp_path, *cli_args(reference[0]), "--out", "run")
    wait_for_checkpoint(holder, tmp_path / "run")
    monkeypatch.chdir(tmp_path)
    assert train_cli.main(["--resume", "run"]) == 2  # the second writer, here in the test's own process
    assert capsys.readouterr().err.strip() == (f"rnn.train: error: run is in use by process {holder.pid} "
                                               f"(it holds run/lock); wait for it to finish or stop it first")
    at_a_random_moment(holder)
    holder.kill()
    holder.communicate(timeout=60)
    assert (tmp_path / "run" / "lock").read_text().strip() == str(holder.pid)  # a stale lock, left behind
    killed_at = saved_step(tmp_path / "run")
    resumed = start(tmp_path, "--resume", "run")
    wait_for_checkpoint(resumed, tmp_path / "run", after=killed_at)
    at_a_random_moment(resumed)
    resumed.kill()
    resumed.communicate(timeout=60)
    last = finish(tmp_path, "--resume", "run")
    assert last.returncode == 0, last.stderr
    assert_equals_reference(tmp_path / "run", reference)


def test_sigint_saves_at_the_end_of_a_piece_and_resume_equals_the_uninterrupted_run(tmp_path, reference):
    process = start(tmp_path, *cli_args(reference[0]), "--out", "run")
    wait_for_checkpoint(process, tmp_path / "run")
    at_a_random_moment(process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr
    step = saved_step(tmp_path / "run")
    assert step % 20 == 0 and f"interrupted at step {step}: checkpoint saved in run" in stderr
    done = finish(tmp_path, "--resume", "run")
    assert done.returncode == 0, done.stderr
    assert_equals_reference(tmp_path / "run", reference)


def test_a_second_sigint_aborts_and_the_last_checkpoint_still_resumes(tmp_path, reference):
    log = tmp_path / "stderr.txt"
    with open(log, "w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "rnn.train", *cli_args(reference[0]), "--out", "run"],
                                   cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
        wait_for_checkpoint(process, tmp_path / "run")
        at_a_random_moment(process)
        process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 120
        while "finishing the current piece" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.005)  # the first Ctrl-C has been handled: now the second
        process.send_signal(signal.SIGINT)
        process.wait(timeout=300)
    text = log.read_text()
    assert process.returncode == 130, text
    step = saved_step(tmp_path / "run")
    assert f"aborted by a second Ctrl-C; the last good checkpoint (step {step}) is kept in run" in text
    assert not list((tmp_path / "run").glob(".*.tmp*"))
    done = finish(tmp_path, "--resume", "run")
    assert done.returncode == 0, done.stderr
    assert_equals_reference(tmp_path / "run", reference)


def test_a_second_ctrl_c_during_a_checkpoint_write_aborts_only_once_the_file_is_complete():
    interrupt = train_cli.Interrupt()
    interrupt._handle(signal.SIGINT, None)  # the first: finish the piece
    assert interrupt.requested
    written = []
    with pytest.raises(KeyboardInterrupt):
        with interrupt.saving():
            interrupt._handle(signal.SIGINT, None)  # the second lands mid-write: held back
            written.append("checkpoint")
    assert written == ["checkpoint"]
    with pytest.raises(KeyboardInterrupt):  # outside a write, a second Ctrl-C aborts at once
        interrupt._handle(signal.SIGINT, None)
