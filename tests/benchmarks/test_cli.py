"""python -m benchmarks end to end on --quick sizes: every section is written, bad commands are refused."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

import benchmarks
from benchmarks.__main__ import main
from benchmarks.report import markdown_table, write_atomically

PROJECT_ROOT = Path(benchmarks.__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "RESULTS.md"
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--no-torch", "--out", str(out)],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False)
    return out, done


def rows_of(text, first_cell):
    """The cells of every Markdown table row whose first cell is ``first_cell``."""
    return [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines()
            if line.startswith("|") and line.strip("|").split("|")[0].strip() == first_cell]


def test_quick_run_writes_every_section_and_prints_the_same_report(quick_run):
    out, done = quick_run
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert done.stdout.strip() == text.strip()
    headings = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    assert headings == ["Machine", "Speed", "Targets", "Memory", "Start-up", "Under load"]
    assert "python -m benchmarks --quick --no-torch --out" in text
    assert "Quick smoke run" in text and "numpy" in text and "float32 matmul peak" in text
    assert not list(out.parent.glob(".RESULTS-*"))


def test_quick_speed_table_has_every_configuration_and_implementation(quick_run):
    text = quick_run[0].read_text()
    for config in ("C1", "C2", "C3", "C4"):
        names = [row[1] for row in rows_of(text, config)]
        assert names[:5] == ["minigrad fused", "minigrad fused, indices", "minigrad op-level", "numpy loop",
                             "numpy hoisted"], config
        loop = next(row for row in rows_of(text, config) if row[1] == "numpy loop")
        assert loop[4] == "1.00x" and loop[8] == "0.0e+00"  # the reference against itself
    [numba_c1] = [row for row in rows_of(text, "C1") if row[1] == "numba recurrence"]
    assert float(numba_c1[2]) > 0 and float(numba_c1[8]) < 1e-3


def test_quick_targets_memory_and_startup_tables(quick_run):
    text = quick_run[0].read_text()
    statuses = re.findall(r"\| (met|not met|not measured)\s+\|$", text, flags=re.MULTILINE)
    # C1 and C3 are judged on one-hot inputs and on indices (C1 also against the numba recurrence), and the load
    assert len(statuses) == 16
    for strategy in ("Full", "Chunked(50)", "TBPTT(25, 50)", "Checkpointed(√T)"):
        [row] = rows_of(text, strategy)
        assert len(row) == 4  # strategy, T = 100, T = 400, flatness
    [full] = rows_of(text, "Full")
    assert float(full[3]) > 2  # Full grows with T: the table really measured something
    [cold] = rows_of(text, "cold cache")
    assert int(cold[5]) > 0  # a fresh numba cache had to compile
    assert 0 < float(cold[1]) <= float(cold[2])  # the first step ends before the process does
    for machine in ("quiet", "one busy process"):  # the demo as installed and on one thread, with their ratio
        [row] = rows_of(text, machine)
        installed, one_thread, ratio = (float(cell.rstrip(" sx")) for cell in row[1:])
        assert installed > 0 and one_thread > 0 and abs(ratio - installed / one_thread) < 0.01 + 0.01 * ratio
    under_load = text.split("## Under load", 1)[1]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in under_load.splitlines() if line.startswith("|")]
    for config in ("C2", "C3"):  # one step on one BLAS thread and on all of them, quiet and loaded
        [row] = [r for r in cells if r[0].startswith(f"{config} (")]
        assert row[1] == "1"  # the quick sizes are small: the size rule gives them one thread
        assert all(float(cell.rstrip(" msx")) > 0 for cell in row[2:]), row


def test_only_memory_writes_the_other_sections_as_not_run(tmp_path, capsys):
    out = tmp_path / "memory.md"
    assert main(["--quick", "--only", "memory", "--max-T", "100", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.count("Not run (see `--only`).") == 3  # speed, start-up and under load
    assert "skipped: T > --max-T 100" in text


@pytest.mark.parametrize("argv, message", [
    (["--configs", "C9"], "unknown configuration(s) C9; choose from C1, C2, C3, C4"),
    (["--only", "speed,disk"], "unknown section(s) disk; choose from speed, memory, startup, load"),
    (["--max-T", "0"], "expected a number >= 1, got 0"),
    (["--budget", "-1"], "--budget must be a positive number of seconds"),
])
def test_bad_commands_exit_2_and_say_what_is_wrong(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_help_names_every_section_and_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for word in ("speed", "memory", "startup", "--quick", "--only", "--configs", "--out", "--max-T", "C4"):
        assert word in help_text


def test_write_atomically_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "RESULTS.md"
    write_atomically(str(path), "old\n")
    write_atomically(str(path), "new\n")
    assert path.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["RESULTS.md"]


def test_markdown_table_pads_columns():
    assert markdown_table(["a", "long"], [[1, 2]]).splitlines() == ["| a | long |", "|---|------|", "| 1 | 2    |"]
