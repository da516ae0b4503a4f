"""The error catalogue: every bad input of issue 15, run, and the message it gets asserted.

One row per case, as ``tests/minigrad/op_table.py`` has one row per op.  A row is an
API call (``api``: it must raise ``error`` with a message matching ``message``: the
argument, what it must be and what it got) or a command line (``cli``: exit code
``code``, one line on stderr matching ``message``, and for code 2 nothing written).
A few rows are good inputs that used to fail (``ok``): they must work.

Each case is classified the way the issue counted them:

* clear: the expected error and message (or, for ``ok`` rows, the right result);
* unclear: some other exception, a traceback, another exit code, more than one
  line, or files written by a refused command;
* silent: no error at all where one was due (a wrong result, exit code 0).

The test asserts "clear" for every row.  ``python tests/test_error_catalogue.py``
prints the three counts; run it with an older checkout on ``PYTHONPATH`` (and as
the current folder) to count that version.  Rows whose fix lies outside the files
of this change name the owner (``pending``): they are expected to fail, strictly,
so the row flips to a failure the day the fix lands and the mark must go.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import traceback
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

if __name__ == "__main__":  # the checkout to count is the current folder, not the tests' packages beside this file
    sys.path[0] = os.getcwd()

import numpy as np

import minigrad as mg
import rnn

if __name__ != "__main__":
    import pytest


# -- the runners -----------------------------------------------------------------------------------
_SCRATCH = []


def scratch() -> Path:
    """A fresh temporary folder, removed when the process exits."""
    folder = Path(tempfile.mkdtemp(prefix="catalogue-"))
    _SCRATCH.append(folder)
    return folder


atexit.register(lambda: [shutil.rmtree(folder, ignore_errors=True) for folder in _SCRATCH])


@dataclass
class Case:
    name: str
    run: Callable  # api and ok: () -> value (or raises); cli: (folder) -> (exit code, stderr)
    kind: str  # "api", "cli" or "ok"
    error: str | None = None  # api: the exception's class name (it or a subclass must be raised)
    message: str = ""  # a regex the message (api) or the one stderr line (cli) must contain
    code: int = 2  # cli: the exit code
    check: Callable | None = None  # ok: value -> bool, the result is right; cli with code 0: folder -> bool
    pending: str | None = None  # the file that still needs the fix (outside this change)
    writes: bool = False  # cli: the command may write files (a diverged run keeps its checkpoint)
    setup: Callable | None = None  # cli: (folder) -> None, prepares the folder first
    main: Callable | None = None  # cli: () -> the command line's main function


def api(name, call, error, message, **kw):
    return Case(name, call, "api", error=error, message=message, **kw)


def ok(name, call, check=lambda value: True, **kw):
    return Case(name, call, "ok", check=check, **kw)


def cli(name, main, argv, code, message, **kw):
    return Case(name, lambda folder: run_main(main, argv, folder), "cli", code=code, message=message, main=main, **kw)


def _raises(error_name, exc) -> bool:
    return any(cls.__name__ == error_name for cls in type(exc).__mro__)


def classify(case: Case, folder: Path) -> tuple[str, str]:
    """("clear" | "unclear" | "silent", what happened)."""
    if case.kind == "cli":
        if case.setup is not None:
            case.setup(folder)
        before = snapshot(folder)
        code, stderr = case.run(folder)
        lines = [line for line in stderr.replace("\r", "\n").splitlines() if line.strip() and "step/s" not in line
                 and "it/s" not in line]
        written = sorted(set(snapshot(folder).items()) - set(before.items()))
        seen = f"exit {code}, stderr {lines[-3:]!r}" + (f", wrote {[w[0] for w in written]}" if written else "")
        if code == 0 and case.code == 0:
            return ("clear" if case.check is None or case.check(folder) else "silent"), seen
        if code == 0:
            return "silent", seen
        if code != case.code or not lines or not re.search(case.message, lines[-1]):
            return "unclear", seen
        if case.code == 2 and (len(lines) != 1 or written):
            return "unclear", seen
        if case.code != 2 and not case.writes and written:
            return "unclear", seen
        return "clear", seen
    try:
        with contextlib.redirect_stderr(io.StringIO()), np.errstate(all="ignore"):
            value = case.run()
    except Exception as exc:  # noqa: BLE001 - classifying is the point
        seen = f"{type(exc).__name__}: {exc}"
        if case.kind == "api" and _raises(case.error, exc) and re.search(case.message, str(exc)) \
                and "allow_pickle" not in str(exc) and "\n" not in str(exc):
            return "clear", seen
        return "unclear", seen
    if case.kind == "ok":
        return ("clear" if case.check(value) else "silent"), f"returned {value!r}"[:300]
    return "silent", f"returned {value!r}"[:300]


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


def run_main(main, argv, folder: Path) -> tuple[object, str]:
    """Run a command line's ``main(argv)`` in ``folder``: (exit code, stderr); a traceback is exit 'traceback'."""
    err, out = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                code = main()(argv)
            except SystemExit as exit_:
                code = exit_.code
            except Exception:  # noqa: BLE001
                traceback.print_exc()
                code = "traceback"
    finally:
        os.chdir(previous)
    return code, err.getvalue()


# -- the command lines, imported when a row runs (so an old checkout without one still counts) ------
def train_main():
    from rnn.cli.train import main
    return main


def compare_main():
    from rnn.cli.compare import main
    return main


def render_main():
    from rnn.cli.render import main
    return main


def demo_main():
    from rnn.cli.demo import main
    return main


def benchmarks_main():
    root = str(Path(rnn.__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    from benchmarks.__main__ import main
    return main


TINY = ["--task", "echo", "--delay", "2", "--seq-len", "10", "--batch", "4", "--hidden", "8", "--steps", "40"]
TEXT = "it was the best of times, it was the worst of times; " * 30


# -- a finished run folder, damaged in each way a crash or a hand edit leaves one -------------------
_BASE = {}


def base_run() -> Path:
    """A tiny finished run (made once, copied for each row)."""
    if "echo" not in _BASE:
        folder = scratch()
        code, stderr = run_main(train_main, [*TINY, "--out", "run"], folder)
        assert code == 0, stderr
        _BASE["echo"] = folder
    return _BASE["echo"]


def with_run(damage=None):
    """setup: copy the base run into the row's folder as ``run``, then damage it."""
    def setup(folder: Path):
        shutil.copytree(base_run() / "run", folder / "run")
        if damage is not None:
            damage(folder / "run")
    return setup


def text_run_then(damage):
    """setup: a text run of the row's own (its config names the row's text file), then ``damage(folder)``."""
    def setup(folder: Path):
        (folder / "text.txt").write_text(TEXT)
        code, stderr = run_main(train_main, ["--task", "text", "--file", "text.txt", *TINY[4:], "--out", "run"], folder)
        assert code == 0, stderr
        damage(folder)
    return setup


def metrics_rewritten(folder: Path) -> bool:
    lines = (folder / "run" / "metrics.csv").read_text().splitlines()
    return lines[0] == "step,updates,loss,metric,seconds" and lines[-1].startswith("60,")


def checkpoint_file(run: Path) -> Path:
    """The file holding the weights (checkpoint.npz; model.npz in the older three-file layout)."""
    return run / "checkpoint.npz" if (run / "checkpoint.npz").exists() else run / "model.npz"


def cut_bytes(keep):
    return lambda run: checkpoint_file(run).write_bytes(checkpoint_file(run).read_bytes()[:keep(checkpoint_file(run))])


def replace_bytes(data: bytes):
    return lambda run: checkpoint_file(run).write_bytes(data)


def edit_meta(change):
    """Change the recorded step etc.: in the checkpoint's meta.json (state.json in the older layout)."""
    def damage(run: Path):
        if (run / "state.json").exists():
            state = json.loads((run / "state.json").read_text())
            change(state)
            (run / "state.json").write_text(json.dumps(state))
            return
        rewrite_zip(run / "checkpoint.npz", meta=change)
    return damage


def rewrite_zip(path: Path, meta=None, member=None):
    """Rewrite a zip archive with ``meta(dict)`` applied to meta.json and ``member(name, array) -> array``."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            if name == "meta.json" and meta is not None:
                values = json.loads(data)
                meta(values)
                data = json.dumps(values).encode()
            elif member is not None and name.endswith(".npy"):
                array = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
                changed = member(name[:-4], array)
                if changed is not None:
                    buffer = io.BytesIO()
                    np.lib.format.write_array(buffer, changed, allow_pickle=True)
                    data = buffer.getvalue()
            archive.writestr(name, data)


def weights_member(change):
    """Change the recurrent weights A (model/A in the checkpoint, A in the older model.npz)."""
    def damage(run: Path):
        rewrite_zip(checkpoint_file(run), member=lambda name, array: change(array) if name in ("A", "model/A") else None)
    return damage


def nan_weights(array):
    array = array.copy()
    array[0, 0] = np.nan
    return array


def add_member(run: Path):
    with zipfile.ZipFile(checkpoint_file(run), "a") as archive:
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.zeros(3))
        archive.writestr("surprise.npy", buffer.getvalue())


def write(name, data: bytes):
    return lambda run: (run / name).write_bytes(data)


def edit_config(change):
    def damage(run: Path):
        config = json.loads((run / "config.json").read_text())
        change(config)
        (run / "config.json").write_text(json.dumps(config))
    return damage


def hold_lock(folder: Path):
    """Lock the run folder as a live writer does (flock on run/lock, with this process's pid)."""
    import fcntl

    fd = os.open(folder / "run" / "lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, f"{os.getpid()}\n".encode())
    _HELD.append(fd)


_HELD = []


def release_locks():
    while _HELD:
        os.close(_HELD.pop())


def a_file(name="afile"):
    return lambda folder: (folder / name).write_text("not a folder")


def fifo(folder: Path):
    os.mkfifo(folder / "pipe.txt")


def folder_named(name):
    return lambda folder: (folder / name).mkdir()


# -- small models for the API rows -----------------------------------------------------------------
def elman(fused=True):
    return rnn.ElmanRNN(2, 4, 1, seed=0, fused=fused)


def batch(T=5, B=3):
    rng = np.random.default_rng(0)
    return rng.standard_normal((T, B, 2)), rng.standard_normal((T, B, 1))


def fit_with(**kw):
    model = elman(kw.pop("fused", True))
    xs, ys = batch()
    optimizer = kw.pop("optimizer", mg.optim.SGD(model.parameters(), lr=0.1))
    strategy = kw.pop("strategy", rnn.Full())
    return rnn.fit(model, xs, ys, strategy, optimizer, **kw)


def gradients_with(model=None, strategy=None, **kw):
    model = model or elman()
    xs, ys = kw.pop("data", batch())
    return rnn.gradients(model, xs, ys, rnn.Full() if strategy is None else strategy, **kw)


def load_file(content: bytes):
    def call():
        folder = scratch()
        (folder / "m.npz").write_bytes(content)
        return elman().load(folder / "m.npz")
    return call


def saved_model(edit=None) -> bytes:
    folder = scratch()
    state = elman().state_dict()
    if edit is not None:
        edit(state)
    np.savez(folder / "m.npz", **state)
    return (folder / "m.npz").read_bytes()


def clip_inf():
    p = mg.nn.Parameter(np.zeros(2), name="W")
    p.grad = np.array([1.0, np.inf])
    try:
        return mg.optim.clip_grad_norm([p], 1.0)
    finally:
        assert p.grad[0] == 1.0, "clip_grad_norm changed the gradients"


def diverging_fit():
    model = elman()
    xs, ys = batch(T=20)
    return rnn.fit(model, xs, ys, rnn.Chunked(5), mg.optim.SGD(model.parameters(), lr=1e300))


# -- the table -------------------------------------------------------------------------------------
H0_SHAPE = r"h0 must have shape \(3, 4\) for batch 3 and n_hidden 4, got \({}\)"

CASES = [
    # the engine
    api("tensor: ragged nested list", lambda: mg.tensor([[1, 2], [3]]), "ValueError",
        r"tensor: the nested lists are ragged \(rows of different lengths: \[2, 1\]\)"),
    ok("tensor: an integer beyond int64 is a float", lambda: mg.tensor([2 ** 70]),
       check=lambda t: t.data.tolist() == [float(2 ** 70)]),
    api("tensor: an integer beyond float64", lambda: mg.tensor([2 ** 1100]), "DtypeError",
        r"tensor: an integer of 332 digits is too large for a float64"),
    api("tensor: strings", lambda: mg.tensor(["a"]), "DtypeError",
        r"tensor: cannot make a differentiable tensor from <U1 data"),
    api("gradcheck: fn is not callable", lambda: mg.gradcheck(3, [mg.tensor([1.0], requires_grad=True)]),
        "TypeError", r"gradcheck: fn must be a function of the inputs that returns a Tensor, got 3 of type int"),
    api("gradcheck: one tensor instead of a list", lambda: mg.gradcheck(lambda x: x, mg.tensor([1.0], requires_grad=True)),
        "TypeError", r"gradcheck: inputs must be a list of Tensors, got Tensor; wrap a single tensor as \[x\]"),
    api("gradcheck: eps 0", lambda: mg.gradcheck(lambda x: x, [mg.tensor([1.0], requires_grad=True)], eps=0),
        "ValueError", r"gradcheck: eps must be a finite number > 0, got 0"),
    api("scale_grad: factor NaN", lambda: mg.scale_grad(mg.tensor([1.0]), float("nan")), "ValueError",
        r"scale_grad: .*finite.*nan"),
    api("scale_grad: factor True", lambda: mg.scale_grad(mg.tensor([1.0]), True), "TypeError",
        r"scale_grad: the factor must be a real number, got bool"),
    api("Module.load: empty file", load_file(b""), "ValueError", r"ElmanRNN.load: .*m.npz is not an .npz file \(it is empty\)"),
    api("Module.load: garbage", load_file(b"garbage" * 100), "ValueError",
        r"ElmanRNN.load: .*m.npz is not an .npz file \(it does not start with a zip signature"),
    api("Module.load: truncated", lambda: load_file(saved_model()[:300])(), "ValueError",
        r"ElmanRNN.load: .*m.npz is truncated or damaged"),
    api("Module.load: pickled member", lambda: load_file(saved_model(
        lambda s: s.__setitem__("A", np.array([None, 1], dtype=object))))(), "ValueError",
        r"member A holds Python objects .*minigrad never loads pickled data"),
    api("Module.load: another model's arrays", lambda: load_file(saved_model(lambda s: s.__setitem__("W", s.pop("A"))))(),
        "ValueError", r"does not hold the expected arrays: missing A; unexpected W"),
    api("Module.load: a member of the wrong shape", lambda: load_file(saved_model(
        lambda s: s.__setitem__("A", np.zeros((4, 4000)))))(),
        "ValueError", r"member A has shape \(4, 4000\), expected \(4, 4\)"),
    api("SGD: lr True", lambda: mg.optim.SGD(elman().parameters(), lr=True), "ValueError",
        r"SGD: lr must be a finite number > 0, got True"),
    ok("SGD: lr a numpy float32", lambda: mg.optim.SGD(elman().parameters(), lr=np.float32(0.5)),
       check=lambda opt: opt.lr == 0.5),
    api("clip_grad_norm: an inf gradient", clip_inf, "DivergenceError",
        r"clip_grad_norm: the gradient of parameter 0 \(W\) holds inf, so the norm is not finite; the gradients are left unchanged"),
    # the RNN library
    api("xs of rank 4", lambda: gradients_with(data=(np.zeros((5, 3, 2, 2)), np.zeros((5, 3, 1)))), "ValueError",
        r"xs must have shape \(T, n_in\) or \(T, batch, n_in\) with n_in = 2, got shape \(5, 3, 2, 2\) \(rank 4\)"),
    api("xs of strings", lambda: gradients_with(data=(np.array([["a", "b"]] * 5), np.zeros((5, 1)))), "TypeError",
        r"xs must hold numbers .*got dtype <U1"),
    api("xs ragged", lambda: gradients_with(data=([[0.0, 1.0], [2.0]], np.zeros((2, 1)))), "ValueError",
        r"xs is ragged"),
    api("ys of strings", lambda: gradients_with(data=(np.zeros((5, 2)), np.array([["a"]] * 5))), "TypeError",
        r"ys must hold numbers .*got dtype <U1"),
    api("h0: wrong hidden size (fused, fit)", lambda: fit_with(h0=mg.tensor(np.zeros((3, 5)))), "ValueError",
        H0_SHAPE.format("3, 5")),
    api("h0: wrong batch (fused, fit)", lambda: fit_with(h0=mg.tensor(np.zeros((7, 4)))), "ValueError",
        H0_SHAPE.format("7, 4")),
    api("h0: wrong batch (Checkpointed)", lambda: gradients_with(strategy=rnn.Checkpointed(2), h0=mg.tensor(np.zeros((7, 4)))),
        "ValueError", H0_SHAPE.format("7, 4")),
    api("h0: wrong batch (unfused)", lambda: gradients_with(model=elman(fused=False), h0=mg.tensor(np.zeros((7, 4)))),
        "ValueError", H0_SHAPE.format("7, 4")),
    api("h0: wrong batch (RTRL)", lambda: gradients_with(strategy=rnn.RTRL(), h0=mg.tensor(np.zeros((7, 4)))),
        "ValueError", H0_SHAPE.format("7, 4")),
    api("h0: one tensor for the LSTM's (h, c)", lambda: gradients_with(model=rnn.LSTM(2, 4, 1), h0=mg.tensor(np.zeros((3, 4)))),
        "ValueError", r"h0 must be a tuple of 2 tensors of shapes \(3, 4\), \(3, 4\) like LSTM.initial_state\(3\), "
                      r"got one tensor of shape \(3, 4\)"),
    api("h0: not a leaf", lambda: gradients_with(strategy=rnn.TBPTT(2, 3),
                                                 h0=mg.tensor(np.zeros((3, 4)), requires_grad=True) * 2.0),
        "ValueError", r"h0 has a recorded history \(it is the output of op 'mul'\).*pass h0.detach\(\)"),
    api("strategy: the string 'full'", lambda: gradients_with(strategy="full"), "TypeError",
        r"strategy must be a Strategy object, got the string 'full'; turn a spec into one with rnn.parse_strategy\('full'\)"),
    api("strategy: the class rnn.Full", lambda: gradients_with(strategy=rnn.Full), "TypeError",
        r"strategy must be a Strategy object, got the class Full; write Full\(\)"),
    api("strategy: a number", lambda: gradients_with(strategy=3), "TypeError",
        r"strategy must be a Strategy .*got 3 of type int"),
    api("unroll: strategy string", lambda: rnn.unroll(elman(), *batch(), "tbptt:2,3"), "TypeError",
        r"rnn.parse_strategy\('tbptt:2,3'\)"),
    api("Randomized(True)", lambda: rnn.Randomized(True), "TypeError",
        r"Randomized's keep probability p must be a real number, got True of type bool"),
    ok("Randomized(np.float32(0.5))", lambda: rnn.Randomized(np.float32(0.5)), check=lambda s: s.p == 0.5),
    ok("ARTBP(np.float32(0.25))", lambda: rnn.ARTBP(np.float32(0.25)), check=lambda s: s.c == 0.25),
    ok("TBPTT(np.int64(2), np.int64(4))", lambda: rnn.TBPTT(np.int64(2), np.int64(4)),
       check=lambda s: (s.k1, s.k2) == (2, 4) and type(s.k1) is int),
    api("TBPTT(2.5, 4)", lambda: rnn.TBPTT(2.5, 4), "TypeError", r"k1 must be an integer >= 1, got 2.5"),
    api("Chunked(True)", lambda: rnn.Chunked(True), "TypeError", r"must be an integer >= 1, got True"),
    api("ARTBP(schedule='x')", lambda: rnn.ARTBP(schedule="x"), "TypeError",
        r"ARTBP's schedule must be a function c\(run length\) -> probability .*got 'x'"),
    api("Randomized(seed='x')", lambda: rnn.Randomized(0.5, seed="x"), "TypeError",
        r"Randomized's seed must be a non-negative integer \(a random seed\), got 'x'"),
    api("Randomized(seed=-1)", lambda: rnn.Randomized(0.5, seed=-1), "ValueError",
        r"Randomized's seed must be a non-negative integer \(a random seed\), got -1"),
    api("fit(optimizer=None)", lambda: fit_with(optimizer=None), "TypeError",
        r"fit needs an optimizer with a step\(\) method, such as minigrad.optim.Adam\(model.parameters\(\), lr=0.01\); got None"),
    api("ElmanRNN.step: x of the wrong size", lambda: elman().step(mg.tensor(np.zeros((3, 5))), elman().initial_state(3)),
        "ShapeError", r"\(3, 5\).* 2 inputs"),
    api("fit: diverging (lr 1e300)", diverging_fit, "DivergenceError",
        r"training diverged at step \d+ \(update \d+\): the loss is inf; the weights are those before this update"),
    api("training.build: strategy the class", lambda: rnn.training.build(strategy=rnn.Full), "ValueError",
        r"strategy must be an instance or a spec, got the class Full"),
    api("training.build: lr True", lambda: rnn.training.build(lr=True), "ValueError",
        r"lr must be a finite number > 0, got True"),
    # python -m rnn.train
    cli("train: --out under a file", train_main, [*TINY, "--out", "afile/run"], 2,
        r"--out afile/run: cannot be created, because .*afile is a file, not a folder", setup=a_file()),
    cli("train: --out is a file", train_main, [*TINY, "--out", "afile"], 2, r"--out afile: exists and is not a folder",
        setup=a_file()),
    cli("train: --file is a folder", train_main, [*TINY[4:], "--task", "text", "--file", "adir", "--out", "run"], 2,
        r"adir: is a folder, not a file", setup=folder_named("adir")),
    cli("train: --file is a pipe", train_main, [*TINY[4:], "--task", "text", "--file", "pipe.txt", "--out", "run"], 2,
        r"pipe.txt: is not a regular file", setup=fifo),
    cli("train: --seed -1", train_main, [*TINY, "--seed", "-1", "--out", "run"], 2, r"argument --seed: invalid seed value: '-1'"),
    cli("train: --lr 1e300 (diverges)", train_main, [*TINY[4:], "--task", "sine", "--lr", "1e300", "--out", "run"], 3,
        r"^rnn.train: training diverged at step 20 \(update 2\): the loss is inf.*\(the last good checkpoint \(step 10\) "
        r"is kept in run\)$", writes=True),
    cli("train: --resume a missing folder", train_main, ["--resume", "nowhere"], 2, r"--resume nowhere: no such folder"),
    cli("train: --resume a file", train_main, ["--resume", "afile"], 2, r"--resume afile: not a folder", setup=a_file()),
    cli("train: --resume a folder that is not a run", train_main, ["--resume", "adir"], 2,
        r"--resume adir: not a run folder \(no config.json\)", setup=folder_named("adir")),
    cli("train: --resume, config.json truncated", train_main, ["--resume", "run"], 2, r"config.json is damaged",
        setup=with_run(lambda run: (run / "config.json").write_text((run / "config.json").read_text()[:40]))),
    cli("train: --resume, config.json binary", train_main, ["--resume", "run"], 2, r"config.json is damaged",
        setup=with_run(write("config.json", b"\x00\xff\xfe binary"))),
    cli("train: --resume, config.json lacks a setting", train_main, ["--resume", "run"], 2, r"config.json lacks lr",
        setup=with_run(edit_config(lambda c: c.pop("lr")))),
    cli("train: --resume, config.json misspelt setting", train_main, ["--resume", "run"], 2,
        r"config.json: unknown setting\(s\) lrr", setup=with_run(edit_config(lambda c: c.__setitem__("lrr", 1)))),
    cli("train: --resume, checkpoint empty", train_main, ["--resume", "run"], 2, r"is not an .npz file \(it is empty\)",
        setup=with_run(replace_bytes(b""))),
    cli("train: --resume, checkpoint truncated", train_main, ["--resume", "run"], 2, r"is truncated or damaged",
        setup=with_run(cut_bytes(lambda path: path.stat().st_size // 2))),
    cli("train: --resume, checkpoint garbage", train_main, ["--resume", "run"], 2,
        r"is not an .npz file \(it does not start with a zip signature", setup=with_run(replace_bytes(b"\x01garbage" * 50))),
    cli("train: --resume, step 'abc'", train_main, ["--resume", "run"], 2,
        r"its step must be a non-negative integer, got 'abc'", setup=with_run(edit_meta(lambda m: m.__setitem__("step", "abc")))),
    cli("train: --resume, step -100", train_main, ["--resume", "run"], 2,
        r"its step must be a non-negative integer, got -100", setup=with_run(edit_meta(lambda m: m.__setitem__("step", -100)))),
    cli("train: --resume, step 40.5", train_main, ["--resume", "run"], 2,
        r"its step must be a non-negative integer, got 40.5", setup=with_run(edit_meta(lambda m: m.__setitem__("step", 40.5)))),
    cli("train: --resume, step null", train_main, ["--resume", "run"], 2,
        r"its step must be a non-negative integer, got None", setup=with_run(edit_meta(lambda m: m.__setitem__("step", None)))),
    cli("train: --resume, a key missing", train_main, ["--resume", "run"], 2,
        r"its updates must be a non-negative integer, got None", setup=with_run(edit_meta(lambda m: m.pop("updates")))),
    cli("train: --resume, NaN weights", train_main, ["--resume", "run", "--steps", "60"], 2,
        r"model/A holds NaN or inf: the run had diverged before this checkpoint",
        setup=with_run(weights_member(nan_weights))),
    cli("train: --resume, a pickled member", train_main, ["--resume", "run"], 2,
        r"member model/A holds Python objects .*never loads pickled data",
        setup=with_run(weights_member(lambda a: np.array(a.tolist() + [[None] * 8], dtype=object)))),
    cli("train: --resume, an unexpected member", train_main, ["--resume", "run"], 2, r"unexpected surprise",
        setup=with_run(add_member)),
    cli("train: --resume, binary metrics.csv (a view, rewritten)", train_main, ["--resume", "run", "--steps", "60"], 0, "",
        setup=with_run(write("metrics.csv", b"\x00\x01\x02\xff")), check=metrics_rewritten),
    cli("train: --resume with flags that differ", train_main,
        ["--resume", "run", "--lr", "5", "--strategy", "artbp", "--cell", "lstm", "--out", "Y"], 2,
        r"--resume run: --lr 5.0 \(run: 0.01\); --cell lstm \(run: elman\); --out \(the run folder is the one given to "
        r"--resume\); --strategy artbp \(run: full\): these flags differ .*only --steps may change", setup=with_run()),
    cli("train: --resume while another process writes", train_main, ["--resume", "run", "--steps", "60"], 2,
        rf"run is in use by process {os.getpid()} \(it holds run/lock\)",
        setup=lambda folder: (with_run()(folder), hold_lock(folder))),
    cli("train: --resume after the text changed", train_main, ["--resume", "run", "--steps", "60"], 2,
        r"text.txt has changed since the checkpoint was written",
        setup=text_run_then(lambda folder: (folder / "text.txt").write_text(TEXT.replace("best", "BEST")))),
    # python -m rnn.compare, rnn.render, rnn.demo, benchmarks
    cli("compare: --out under a file", compare_main, [*TINY, "--strategies", "full", "--out", "afile/cmp"], 2,
        r"--out afile/cmp: cannot be created, because .*afile is a file", setup=a_file()),
    cli("compare: --seed -1", compare_main, [*TINY, "--seed", "-1"], 2, r"argument --seed: invalid seed value: '-1'"),
    cli("render: --out under a file", render_main, ["--out", "afile/g.svg"], 2,
        r"--out afile/g.svg: cannot be written, because .*afile is a file", setup=a_file()),
    cli("render: --seed -1", render_main, ["--seed", "-1", "--out", "g.dot"], 2, r"--seed must be a non-negative integer, got -1"),
    cli("render: --spectral-radius inf", render_main, ["--spectral-radius", "inf", "--out", "g.dot"], 2,
        r"--spectral-radius must be a finite positive number, got inf"),
    cli("render: --spectral-radius 0", render_main, ["--spectral-radius", "0", "--out", "g.dot"], 2,
        r"--spectral-radius must be a finite positive number, got 0.0"),
    cli("demo: --seed -1", demo_main, ["--seed", "-1"], 2, r"argument --seed: invalid seed value: '-1'"),
    cli("demo: --out under a file", demo_main, ["--out", "afile/demo"], 2,
        r"--out afile/demo: cannot be created, because .*afile is a file", setup=a_file()),
    cli("benchmarks: --out under a file", benchmarks_main, ["--quick", "--only", "startup", "--out", "afile/r.md"], 2,
        r"--out afile/r.md: cannot be written, because .*afile is a file", setup=a_file()),
]


HANG_SECONDS = 300  # a row still running after this long has hung (an older version read a FIFO forever)


def _hung(signum, frame):
    raise TimeoutError(f"still running after {HANG_SECONDS} s")


def counts(cases=CASES) -> dict:
    """{"clear": n, "unclear": n, "silent": n} and the detail of every row that is not clear."""
    found = {"clear": 0, "unclear": 0, "silent": 0}
    details = []
    for case in cases:
        folder = scratch()
        signal.signal(signal.SIGALRM, _hung)
        signal.alarm(HANG_SECONDS)
        try:
            verdict, seen = classify(case, folder)
        except Exception as exc:  # noqa: BLE001 - a setup that an old checkout cannot run, or a hang
            verdict, seen = "unclear", f"setup failed or hung: {type(exc).__name__}: {exc}"
        finally:
            signal.alarm(0)
            release_locks()
        found[verdict] += 1
        if verdict != "clear":
            details.append(f"{verdict:8} {case.name}: {seen}")
    return found, details


# -- the test --------------------------------------------------------------------------------------
if __name__ != "__main__":
    @pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=[pytest.mark.xfail(strict=True, reason=c.pending)]
                                                   if c.pending else []) for c in CASES])
    def test_every_bad_input_gets_its_clear_message(case, tmp_path):
        try:
            verdict, seen = classify(case, tmp_path)
        finally:
            release_locks()
        assert verdict == "clear", seen

    def test_the_catalogue_covers_every_command_line():
        mains = {c.main.__name__ for c in CASES if c.kind == "cli"}
        assert mains >= {"train_main", "compare_main", "render_main", "demo_main", "benchmarks_main"}


if __name__ == "__main__":
    found, details = counts()
    print("\n".join(details))
    print(f"{len(CASES)} cases: {found['clear']} clear, {found['unclear']} unclear, {found['silent']} silent")
