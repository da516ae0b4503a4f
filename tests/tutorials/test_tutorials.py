"""The tutorials: each runs top to bottom as a real notebook and shows what it claims.

Each tutorial asserts its own claims in its cells (agreement to round-off, a
bias that shrinks, ...), so executing it is the test.  The execution helper
is the one ``scripts/tutorial_pictures.py`` uses: a fresh ``python3`` kernel,
the repository root as working directory, matplotlib's inline backend, and a
per-cell timeout so that a hang fails.  ``-k 03`` runs tutorial 3 only.
"""

import base64
import importlib.util
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("tutorial_pictures", ROOT / "scripts" / "tutorial_pictures.py")
runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runner)

# every file on disk, plus every expected one (so a missing tutorial is a failing test, not no test)
PATHS = sorted({*runner.tutorial_files(), *(runner.TUTORIALS / name for name in runner.EXPECTED)})
IDS = [runner.number_of(path) for path in PATHS]
TITLE = re.compile(r"^# (\d+)\. \S")


def test_the_six_tutorials_exist():
    present = {path.name for path in runner.tutorial_files()}
    missing = [name for name in runner.EXPECTED if name not in present]
    assert not missing, f"missing tutorials in {runner.TUTORIALS}: {missing}"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_is_percent_format_with_kernelspec_title_and_one_readme_cell(path):
    assert path.exists(), f"{path} does not exist"
    assert path.read_text().startswith("# ---\n# jupyter:\n"), \
        f"{path.name}: the file must open with the jupytext header (# ---, # jupyter: ...)"
    notebook = runner.read(path)
    representation = notebook.metadata.get("jupytext", {}).get("text_representation", {})
    assert representation.get("format_name") == "percent", \
        f"{path.name}: the jupytext header must say format_name: percent, got {representation}"
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3", \
        f"{path.name}: the header needs a kernelspec with name python3, got {notebook.metadata.get('kernelspec')}"
    first = notebook.cells[0]
    title = TITLE.match(first.source)
    assert first.cell_type == "markdown" and title, \
        f"{path.name}: the first cell must be a markdown title '# N. Title', got {first.source[:60]!r}"
    assert int(title.group(1)) == int(runner.number_of(path)), \
        f"{path.name}: the title number {title.group(1)} does not match the file number"
    assert runner.readme_cell(notebook, path.name).cell_type == "code"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_runs_as_a_notebook_and_shows_images(path):
    assert path.exists(), f"{path} does not exist"
    try:
        notebook = runner.execute(path)
    except runner.TutorialError as error:
        pytest.fail(str(error), pytrace=False)
    assert runner.all_images(notebook), f"{path.name} displayed no image (PNG or SVG output)"
    readme_images = runner.images(runner.readme_cell(notebook, path.name))
    if shutil.which("dot"):  # without `dot`, a readme cell that draws a graph prints its DOT text instead
        assert readme_images, f'{path.name}: the cell tagged "readme" shows no image (PNG or SVG)'


# -- the runner itself: it must fail loudly, and the picture must be what the readme cell shows -----------
def write_tutorial(folder, name, cells):
    """A minimal percent-format tutorial made of the given cell texts."""
    path = folder / name
    path.write_text("\n\n".join(cells) + "\n")
    return path


def test_a_failing_cell_is_reported_with_its_source_and_error(tmp_path):
    path = write_tutorial(tmp_path, "09_broken.py", [
        "# %%\nx = 1",
        '# %% tags=["raises-exception"]\nassert x == 2, "x is not 2"',  # the tag must not excuse it
        "# %%\nprint('never reached')",
    ])
    with pytest.raises(runner.TutorialError) as error:
        runner.execute(path)
    message = str(error.value)
    assert "09_broken.py: cell 1 raised AssertionError: x is not 2" in message
    assert 'assert x == 2, "x is not 2"' in message


def test_a_hanging_cell_fails_after_the_timeout(tmp_path):
    path = write_tutorial(tmp_path, "09_hang.py", ["# %%\nimport time", "# %%\ntime.sleep(60)"])
    with pytest.raises(runner.TutorialError, match=r"cell 1 ran longer than 2 s[\s\S]*time.sleep\(60\)"):
        runner.execute(path, timeout=2)


def test_the_readme_picture_is_the_image_of_the_tagged_cell(tmp_path):
    path = write_tutorial(tmp_path, "09_picture.py", [
        "# %%\nimport matplotlib.pyplot as plt",
        "# %%\nplt.plot([0, 1], [0, 1])\nplt.show()",
        '# %% tags=["readme"]\nplt.bar([1, 2], [3, 4])\nplt.show()',
    ])
    notebook = runner.execute(path)
    assert len(runner.all_images(notebook)) == 2
    written = runner.write_picture(notebook, "09", folder=tmp_path / "pictures")
    assert written == tmp_path / "pictures" / "09.png"
    _, data = runner.images(notebook.cells[2])[0]
    assert written.read_bytes() == base64.b64decode(data)
    assert written.read_bytes().startswith(b"\x89PNG")


def test_a_tutorial_without_a_readme_cell_is_refused(tmp_path):
    path = write_tutorial(tmp_path, "09_plain.py", ["# %% [markdown]\n# # 9. Plain", "# %%\nx = 1"])
    with pytest.raises(runner.TutorialError, match='expected exactly one cell tagged "readme".*found 0'):
        runner.readme_cell(runner.read(path), path.name)
