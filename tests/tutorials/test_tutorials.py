"""The tutorials: each runs top to bottom as a real notebook and shows what it claims.

Each tutorial asserts its own claims in its cells (agreement to round-off, a
bias that shrinks, ...), so executing it is the test.  The execution helper
is the one ``scripts/tutorial_pictures.py`` uses: a fresh ``python3`` kernel,
the repository root as working directory, matplotlib's inline backend, and a
per-cell timeout so that a hang fails.  ``-k 03`` runs tutorial 3 only.

The notebooks run shrunk (``TUTORIAL_FAST=1``) unless the environment says
``TUTORIAL_FAST=0``: the full lessons take several minutes each and are run by
``scripts/tutorial_pictures.py``, whose README pictures a test here checks are
current (made from each tutorial's present code).
"""

import base64
import importlib.util
import os
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
FAST = os.environ.get("TUTORIAL_FAST", "1") != "0"  # the shrunk lessons, unless TUTORIAL_FAST=0 asks for the full ones
ASSIGNMENTS = sorted(path.name for path in (ROOT / "assignments").glob("a[0-9]_*") if path.is_dir())


def test_the_eight_tutorials_exist():
    present = {path.name for path in runner.tutorial_files()}
    missing = [name for name in runner.EXPECTED if name not in present]
    assert not missing, f"missing tutorials in {runner.TUTORIALS}: {missing}"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_pins_blas_and_ends_with_a_your_turn_section_naming_an_assignment(path):
    source = path.read_text()
    assert "threadpool_limits(1)" in source, f"{path.name}: pin BLAS to one thread (threadpoolctl) like every lesson"
    notebook = runner.read(path)
    headings = [i for i, cell in enumerate(notebook.cells)
                if cell.cell_type == "markdown" and "## Your turn" in cell.source]
    assert headings, f'{path.name}: no "## Your turn" section'
    turn = notebook.cells[headings[-1]].source
    named = [name for name in ASSIGNMENTS if f"`{name}`" in turn]
    assert named, f"{path.name}: the Your turn section names no assignment by its release name ({ASSIGNMENTS})"
    assert any(cell.cell_type == "code" for cell in notebook.cells[headings[-1] + 1:]), \
        f"{path.name}: the Your turn section has no check the reader can run"


def test_the_readme_pictures_are_current():
    """Every picture in docs/tutorials was made by scripts/tutorial_pictures.py from its tutorial's present code."""
    problems = runner.stale_pictures()
    assert not problems, ("README pictures out of date; rerun .venv/bin/python scripts/tutorial_pictures.py "
                          "--only NN for each:\n" + "\n".join(problems))


def test_the_readme_shows_every_tutorial_and_its_picture():
    readme = (ROOT / "README.md").read_text()
    manifest = runner.read_manifest()
    for path in runner.tutorial_files():
        assert f"tutorials/{path.name}" in readme, f"README.md does not link {path.name}"
        picture = manifest.get(runner.number_of(path), {}).get("picture")
        assert picture and f"docs/tutorials/{picture}" in readme, f"README.md does not show {path.name}'s picture"


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
        notebook = runner.execute(path, fast=FAST)
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


def test_a_picture_goes_stale_when_its_tutorial_code_changes(tmp_path):
    folder, pictures = tmp_path / "tutorials", tmp_path / "pictures"
    folder.mkdir()
    path = write_tutorial(folder, "09_picture.py", [
        "# %% [markdown]\n# # 9. Picture",
        '# %% tags=["readme"]\nimport matplotlib.pyplot as plt\nplt.plot([0, 1], [0, 1])\nplt.show()',
    ])
    assert runner.stale_pictures(folder, pictures) == ["09_picture.py: no picture recorded in pictures.json"]
    written = runner.write_picture(runner.execute(path), "09", folder=pictures)
    manifest = {}
    runner.record(manifest, path, written, seconds=1.0)
    runner.write_manifest(manifest, pictures / "pictures.json")
    assert runner.stale_pictures(folder, pictures) == []
    path.write_text(path.read_text() + "\n# %% [markdown]\n# prose does not change a picture\n")
    assert runner.stale_pictures(folder, pictures) == []
    path.write_text(path.read_text().replace("[0, 1], [0, 1]", "[0, 1], [1, 0]"))
    assert runner.stale_pictures(folder, pictures) == ["09_picture.py: its code changed since 09.png was made"]
    written.write_bytes(b"not the picture")
    assert "09_picture.py: 09.png is not the file this script wrote" in runner.stale_pictures(folder, pictures)
