"""Execute the tutorials as notebooks; write each one's README picture to docs/tutorials/.

    python scripts/tutorial_pictures.py             # every tutorial (full size), then the manifest
    python scripts/tutorial_pictures.py --only 03   # just tutorial 3
    python scripts/tutorial_pictures.py --check     # are the committed pictures current? (runs nothing)

A tutorial is a jupytext percent-format ``.py`` file in ``tutorials/``.  It
is read with jupytext, executed cell by cell in a fresh ``python3`` kernel
(the venv's ipykernel) by nbclient, with the repository root as the working
directory and matplotlib's inline backend, so figures and graphviz drawings
become image outputs exactly as in Jupyter.  The cell tagged ``readme``
(``# %% tags=["readme"]``) makes the picture the README shows: its last
image output is written to ``docs/tutorials/NN.png`` (or ``NN.svg`` when the
cell shows a graphviz drawing).

The helpers below (``tutorial_files``, ``execute``, ``images``, ...) are also
what ``tests/tutorials`` runs, so CI executes the tutorials exactly as this
script does.  ``execute(path, fast=True)`` sets ``TUTORIAL_FAST=1`` in the
kernel's environment, which makes the tutorials shrink their sizes; the
pictures always come from the full lessons.

Whether a picture is current is checked without running anything: the PNG
bytes of a matplotlib figure are not reproducible across machines and timed
numbers differ from run to run, so ``docs/tutorials/pictures.json`` records,
for each picture, the sha256 of the code cells it was made from and of the
file written.  ``--check`` (and ``tests/tutorials``) compare both with what is
on disk: edit a tutorial's code, or replace a picture by hand, and the check
fails until this script has run again.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

import jupytext  # jupytext, nbclient and ipykernel come with the `tutorials` extra: pip install -e '.[tutorials]'
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"
PICTURES = ROOT / "docs" / "tutorials"
MANIFEST = PICTURES / "pictures.json"
EXPECTED = (
    "01_tapes_and_reverse_mode.py",
    "02_bptt_by_hand_and_by_engine.py",
    "03_vanishing_and_exploding.py",
    "04_truncated_bptt.py",
    "05_randomized_truncation_and_artbp.py",
    "06_training_with_truncation.py",
    "07_character_language_model.py",
    "08_online_gradients.py",
)
KERNEL = "python3"
CELL_TIMEOUT = 300  # seconds per cell: a hang fails the run instead of blocking it
FULL_CELL_TIMEOUT = 900  # the full lessons train for minutes in one cell (lesson 7: 100 epochs); a busy machine doubles it
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
IMAGE_TYPES = {"image/png": "png", "image/svg+xml": "svg"}
README_TAG = "readme"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class TutorialError(Exception):
    """A tutorial did not run through, or lacks what it must show (its message says which cell and why)."""


# -- finding and reading tutorials -------------------------------------------------------
def tutorial_files(folder: Path = TUTORIALS) -> list[Path]:
    """The tutorial files, ``NN_name.py``, in lesson order."""
    return sorted(folder.glob("[0-9]*.py"))


def number_of(path: Path) -> str:
    """The tutorial's number as written in its file name: "03" for 03_truncated_bptt.py."""
    return Path(path).name.split("_", 1)[0]


def read(path: Path):
    """The tutorial as an (unexecuted) notebook: jupytext turns each ``# %%`` cell into a notebook cell."""
    return jupytext.read(path)


def tags_of(cell) -> list:
    """The jupytext tags of a cell (``# %% tags=["readme"]`` gives ["readme"])."""
    return list(cell.get("metadata", {}).get("tags", []))


# -- executing ------------------------------------------------------------------------------
def execute(path: Path, timeout: int = CELL_TIMEOUT, fast: bool | None = None):
    """Run every cell of the tutorial at ``path`` in a fresh kernel; return the executed notebook.

    ``fast``: True sets TUTORIAL_FAST=1 in the kernel's environment (the shrunk
    lesson), False sets it to 0 (the full lesson), None passes the caller's
    environment on unchanged.  Raises TutorialError naming the failing cell,
    its source and the error if a cell raises or runs longer than ``timeout``
    seconds, or if any output is an error (say an object whose display failed,
    which IPython reports without failing the cell).
    """
    path = Path(path)
    notebook = read(path)
    client = NotebookClient(notebook, timeout=timeout, kernel_name=KERNEL, force_raise_errors=True,
                            resources={"metadata": {"path": str(ROOT)}})
    env = {**os.environ, "MPLBACKEND": INLINE_BACKEND}
    if fast is not None:
        env["TUTORIAL_FAST"] = "1" if fast else "0"
    try:
        client.execute(env=env)
    except CellTimeoutError:
        index = _last_started(notebook)
        raise TutorialError(f"{path.name}: cell {index} ran longer than {timeout} s\n"
                            f"--- cell source ---\n{notebook.cells[index].source}") from None
    except (CellExecutionError, DeadKernelError) as error:
        failed = _first_error(notebook)
        if failed is None:
            index = _last_started(notebook)
            raise TutorialError(f"{path.name}: cell {index} did not finish: {type(error).__name__}: {error}\n"
                                f"--- cell source ---\n{notebook.cells[index].source}") from None
        raise TutorialError(_cell_report(path, *failed)) from None
    failed = _first_error(notebook)
    if failed is not None:
        raise TutorialError(_cell_report(path, *failed))
    return notebook


def _first_error(notebook):
    """(index, cell, output) of the first error output in the notebook, or None."""
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                return index, cell, output
    return None


def _last_started(notebook) -> int:
    """The index of the last code cell that began executing (0 if none did)."""
    started = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and c.get("execution_count")]
    return started[-1] if started else 0


def _cell_report(path: Path, index: int, cell, output) -> str:
    traceback = ANSI_ESCAPE.sub("", "\n".join(output.get("traceback", [])))
    return (f"{path.name}: cell {index} raised {output.get('ename')}: {output.get('evalue')}\n"
            f"--- cell source ---\n{cell.source}\n--- traceback ---\n{traceback}")


# -- reading the outputs ----------------------------------------------------------------------
def images(cell) -> list[tuple[str, object]]:
    """The image outputs of one executed cell, in order, as (extension, data) pairs.

    data is base64 text for PNG and SVG text for SVG, as the notebook stores them.
    """
    found = []
    for output in cell.get("outputs", []):
        bundle = output.get("data", {})
        for mime, extension in IMAGE_TYPES.items():
            if mime in bundle:
                found.append((extension, bundle[mime]))
                break
    return found


def all_images(notebook) -> list[tuple[str, object]]:
    """Every image output of an executed notebook."""
    return [image for cell in notebook.cells for image in images(cell)]


def readme_cell(notebook, name: str = "tutorial"):
    """The one cell tagged ``readme``; TutorialError if there is none or more than one."""
    tagged = [cell for cell in notebook.cells if README_TAG in tags_of(cell)]
    if len(tagged) != 1:
        raise TutorialError(f'{name}: expected exactly one cell tagged "{README_TAG}" '
                            f'(# %% tags=["{README_TAG}"]), found {len(tagged)}')
    return tagged[0]


def readme_image(notebook, name: str = "tutorial") -> tuple[str, object]:
    """The last image the ``readme`` cell shows, as (extension, data)."""
    shown = images(readme_cell(notebook, name))
    if not shown:
        raise TutorialError(f'{name}: the cell tagged "{README_TAG}" shows no image (PNG or SVG); '
                            "end it with plt.show() or a drawing (and check that graphviz's `dot` is installed)")
    return shown[-1]


def write_picture(notebook, number: str, folder: Path = PICTURES) -> Path:
    """Write the readme image to ``folder/NN.png`` or ``NN.svg``, removing a stale file of the other kind."""
    extension, data = readme_image(notebook, f"tutorial {number}")
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{number}.*"):
        old.unlink()
    target = folder / f"{number}.{extension}"
    if extension == "png":
        target.write_bytes(base64.b64decode(data))
    else:
        target.write_text(data)
    return target


# -- is a picture current? ---------------------------------------------------------------------
def code_digest(path: Path) -> str:
    """sha256 of the tutorial's code cells (markdown left out: prose does not change a picture)."""
    code = [cell.source for cell in read(path).cells if cell.cell_type == "code"]
    return hashlib.sha256("\n# %%\n".join(code).encode()).hexdigest()


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_manifest(path: Path = MANIFEST) -> dict:
    """{number: {"picture", "code_sha256", "picture_sha256", "seconds"}}; empty if there is none."""
    return json.loads(path.read_text()) if path.exists() else {}


def record(manifest: dict, tutorial: Path, picture: Path, seconds: float) -> None:
    """Note in ``manifest`` that ``picture`` was made from the current code of ``tutorial``."""
    manifest[number_of(tutorial)] = {"tutorial": tutorial.name, "picture": picture.name,
                                     "code_sha256": code_digest(tutorial), "picture_sha256": file_digest(picture),
                                     "seconds": round(seconds, 1)}


def write_manifest(manifest: dict, path: Path = MANIFEST) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")


def stale_pictures(folder: Path = TUTORIALS, pictures: Path = PICTURES) -> list[str]:
    """One line per tutorial whose README picture is missing or was not made from its current code."""
    manifest, problems = read_manifest(pictures / MANIFEST.name), []
    for tutorial in tutorial_files(folder):
        number = number_of(tutorial)
        entry = manifest.get(number)
        if entry is None:
            problems.append(f"{tutorial.name}: no picture recorded in {MANIFEST.name}")
            continue
        picture = pictures / entry["picture"]
        if not picture.exists():
            problems.append(f"{tutorial.name}: {picture.name} is missing")
        elif file_digest(picture) != entry["picture_sha256"]:
            problems.append(f"{tutorial.name}: {picture.name} is not the file this script wrote")
        if entry["code_sha256"] != code_digest(tutorial):
            problems.append(f"{tutorial.name}: its code changed since {picture.name} was made")
    return problems


# -- the command line ---------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    """The command line: --only NN (repeatable), --fast, --check."""
    p = argparse.ArgumentParser(
        prog="python scripts/tutorial_pictures.py",
        description="execute the tutorials as notebooks (full size) and write the image of each one's cell "
                    "tagged 'readme' to docs/tutorials/NN.png (or .svg), and what it was made from to "
                    "docs/tutorials/pictures.json")
    p.add_argument("--only", metavar="NN", action="append",
                   help="run only the tutorial with this number, e.g. --only 03 (repeat for several)")
    p.add_argument("--check", action="store_true",
                   help="run nothing: exit 1 if a picture is missing or was made from other code than the tutorial's")
    p.add_argument("--fast", action="store_true",
                   help="run the shrunk lessons (TUTORIAL_FAST=1) and write their pictures to a scratch folder "
                        "(never over the README's)")
    return p


def main(argv=None) -> int:
    """Run the chosen tutorials, one progress line each; exit code 1 if any failed, 2 for a bad --only."""
    args = parser().parse_args(argv)
    if args.check:
        problems = stale_pictures()
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            print("rerun: .venv/bin/python scripts/tutorial_pictures.py --only NN", file=sys.stderr)
            return 1
        print(f"every README picture was made from its tutorial's current code ({MANIFEST.relative_to(ROOT)})")
        return 0
    files = tutorial_files()
    if args.only:
        wanted = {n.zfill(2) for n in args.only}
        unknown = wanted - {number_of(f) for f in files}
        if unknown:
            print(f"tutorial_pictures: no tutorial numbered {', '.join(sorted(unknown))} in {TUTORIALS}; "
                  f"have {', '.join(number_of(f) for f in files) or 'none'}", file=sys.stderr)
            return 2
        files = [f for f in files if number_of(f) in wanted]
    if not files:
        print(f"tutorial_pictures: no tutorials (NN_name.py) in {TUTORIALS}", file=sys.stderr)
        return 2
    failed = 0
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / "tutorial_pictures_fast" if args.fast else PICTURES
    manifest = read_manifest()
    for path in files:
        started = time.perf_counter()
        try:
            notebook = execute(path, timeout=CELL_TIMEOUT if args.fast else FULL_CELL_TIMEOUT, fast=args.fast)
            written = write_picture(notebook, number_of(path), folder=folder)
        except TutorialError as error:
            failed += 1
            print(f"{path.name}: FAILED after {time.perf_counter() - started:.1f} s\n{error}", file=sys.stderr)
            continue
        seconds = time.perf_counter() - started
        if not args.fast:
            record(manifest, path, written, seconds)
            write_manifest(manifest)
        print(f"{path.name}: ran in {seconds:.1f} s, wrote {written}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
