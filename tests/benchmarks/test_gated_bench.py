"""benchmarks.gated on tiny sizes: its tables hold a row per cell and configuration, the gradients were
checked before anything was timed, and the command line refuses what it cannot run.  (Wall times
are not asserted: the machine is shared.)"""

import re

import numpy as np
import pytest

from benchmarks import gated
from benchmarks.configs import QUICK_CONFIGS


def table(text: str, heading: str) -> list[list[str]]:
    """The rows (cells stripped, header first) of the Markdown table under ``heading``."""
    lines = text.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[start:end]]
    return [rows[0]] + rows[2:]  # without the |---| rule


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("gated") / "gated.md"
    assert gated.main(["--quick", "--no-torch", "--out", str(out)], log=lambda message: None) == 0
    return out.read_text()


def test_the_quick_report_has_a_timed_row_per_cell_and_configuration(quick_report):
    rows = table(quick_report, "## One training step")
    assert rows[0][:6] == ["cell", "config", "vocab, batch, hidden, T", gated.SCAN, gated.STEPPING, gated.TORCH]
    assert rows[0][6:] == ["scan / torch", "stepping / torch", "stepping / scan"]
    assert [(r[0], r[1]) for r in rows[1:]] == [("LSTM", "C2"), ("GRU", "C2"), ("LSTM", "C4"), ("GRU", "C4")]
    for r in rows[1:]:
        size = QUICK_CONFIGS[r[1]]
        assert r[2] == f"{size.vocab}, {size.batch}, {size.hidden}, {size.T}"
        assert re.fullmatch(r"\d+\.\d\d ms", r[3]) and re.fullmatch(r"\d+\.\d\d ms", r[4])  # both minigrad timed
        assert r[5] == "-" and r[6] == r[7] == "-"  # --no-torch: no torch column, no ratio to it
        assert re.fullmatch(r"\d+\.\d\d", r[8])
    assert "PyTorch: not used" in quick_report and "Quick smoke run" in quick_report


def test_the_gradients_were_checked_before_timing(quick_report):
    rows = table(quick_report, "## Gradients, checked before timing")
    assert rows[0] == ["cell", "config", "minigrad stepping, float64", "minigrad stepping, float32", "checked"]
    for r in rows[1:]:
        assert r[-1] == "agree"
        assert float(r[2]) <= gated.FLOAT64_RTOL and float(r[3]) <= 1e-3


def test_the_torch_trainer_has_the_minigrad_gradients():
    """The weight mapping into torch.nn.LSTM / nn.GRU (gate order, b_hn in bias_hh) gives the same
    float64 gradients, when torch is installed."""
    pytest.importorskip("torch")
    for cell in gated.CELLS:
        problem = gated.make_problem(cell, QUICK_CONFIGS["C2"], dtype=np.float64)
        want = gated.MinigradTrainer(problem).gradients()
        got = gated.TorchTrainer(problem).gradients()
        assert got.keys() == want.keys()
        for name in want:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-10, atol=1e-12, err_msg=f"{cell}: {name}")


def test_the_stepping_trainer_records_step_nodes():
    problem = gated.make_problem("LSTM", QUICK_CONFIGS["C2"])
    assert gated.MinigradTrainer(problem, scan=False).model.scan is None
    assert gated.MinigradTrainer(problem, scan=True).model.scan is not None


def test_disagreeing_gradients_are_not_timed(monkeypatch):
    wrong = gated.MinigradTrainer.gradients

    def off_by_one_percent(self):
        grads = wrong(self)
        return grads if self.model.scan is not None else {k: 1.01 * g for k, g in grads.items()}

    monkeypatch.setattr(gated.MinigradTrainer, "gradients", off_by_one_percent)
    messages = []
    result = gated.measure("GRU", QUICK_CONFIGS["C2"], gated.TimingPlan(warmup=1, repeats=1, min_repeats=1),
                           use_torch=False, log=messages.append)
    assert result.refused and not result.medians
    assert "GRU C2 not timed: gradients disagree with the minigrad scan's" in messages[0]


@pytest.mark.parametrize("argv, message", [
    (["--cells", "RNN"], "--cells: unknown RNN; choose from LSTM, GRU"),
    (["--configs", "C3"], "--configs: unknown C3; choose from C2, C4"),
    (["--out", "/nonexistent-folder/x.md"], "the folder of --out /nonexistent-folder/x.md does not exist"),
])
def test_bad_command_lines_exit_2(argv, message, capsys):
    assert gated.main(["--quick"] + argv) == 2
    assert message in capsys.readouterr().err


def test_help_describes_what_is_timed(capsys):
    with pytest.raises(SystemExit) as stopped:
        gated.main(["--help"])
    assert stopped.value.code == 0
    text = capsys.readouterr().out
    assert "minigrad stepping" in text and "torch.nn.LSTM" in text and "--quick" in text
