"""The dependency rules of the layout: the command lines are shells that nothing else imports."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIMS = {f"rnn/{name}.py" for name in ("train", "compare", "render", "demo")}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports (absolute names; relative imports resolved against its package)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def python_files(*folders):
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", [p for p in python_files("rnn", "minigrad", "tutorials", "assignments", "benchmarks")
                                  if "cli" not in p.relative_to(ROOT).parts
                                  and str(p.relative_to(ROOT)) not in SHIMS],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_but_the_shims_imports_the_command_lines(path):
    cli = sorted(m for m in imported_modules(path)
                 if m == "rnn.cli" or m.startswith("rnn.cli.") or m in {"rnn.train", "rnn.compare", "rnn.render",
                                                                         "rnn.demo", "rnn.experiment"})
    assert not cli, f"{path.relative_to(ROOT)} imports {cli}: use rnn.training / rnn.registry / rnn.viz instead"


def test_the_engine_knows_nothing_of_rnn_and_the_kernels_nothing_of_the_project():
    for path in python_files("minigrad"):
        modules = imported_modules(path)
        assert not any(m == "rnn" or m.startswith("rnn.") for m in modules), path
        if "kernels" in path.parts:
            outside = [m for m in modules if m.startswith("minigrad") and not m.startswith("minigrad.kernels")]
            assert not outside, (path, outside)


def test_the_shims_only_run_their_command_line():
    for shim in SHIMS:
        name = Path(shim).stem
        assert imported_modules(ROOT / shim) - {"sys"} == {f"rnn.cli.{name}", f"rnn.cli.{name}.main"}
