"""The engine as a wheel: what students install, and what the grader's worker imports.

``build_wheel(out)`` writes ``minigrad-<version>-py3-none-any.whl`` holding the
packages ``minigrad`` and ``rnn`` (every file of them but caches) and the
metadata of ``pyproject.toml``: name, version, Python version and
dependencies.  Nothing else of the repository goes in: no ``assignments``,
no tests, no solutions.  The wheel is written by hand with ``zipfile`` (no
build backend, no network), and is the same bytes for the same sources:
entries sorted, timestamps fixed.

    pip install minigrad-0.1.0-py3-none-any.whl pytest
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("minigrad", "rnn")
SKIP_DIRS = {"__pycache__"}
SKIP_SUFFIXES = {".pyc", ".pyo", ".nbi", ".nbc", ".stamp", ".so.tmp"}
DATE = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: the wheel does not depend on when it was built


class WheelError(ValueError):
    """The engine cannot be packed (pyproject.toml is missing what a wheel needs)."""


def project_metadata(repo: Path = REPO) -> dict:
    """name, version, summary, requires-python, dependencies and optional dependencies from pyproject.toml."""
    text = (repo / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ImportError:  # Python 3.10: read the few keys needed by hand
        return _metadata_by_hand(text)
    project = tomllib.loads(text).get("project", {})
    for key in ("name", "version"):
        if key not in project:
            raise WheelError(f"pyproject.toml: [project] has no {key}")
    return {
        "name": project["name"], "version": project["version"], "summary": project.get("description", ""),
        "requires_python": project.get("requires-python", ""), "dependencies": list(project.get("dependencies", [])),
        "extras": {k: list(v) for k, v in project.get("optional-dependencies", {}).items()},
    }


def _metadata_by_hand(text: str) -> dict:
    def value(key):
        match = re.search(rf'^{key}\s*=\s*"([^"]*)"', text, flags=re.MULTILINE)
        return match.group(1) if match else ""

    deps = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, flags=re.MULTILINE | re.DOTALL)
    if not value("name") or not value("version"):
        raise WheelError("pyproject.toml: [project] needs a name and a version")
    return {"name": value("name"), "version": value("version"), "summary": value("description"),
            "requires_python": value("requires-python"),
            "dependencies": re.findall(r'"([^"]+)"', deps.group(1)) if deps else [], "extras": {}}


def engine_files(repo: Path = REPO) -> list[tuple[str, Path]]:
    """(name in the wheel, file) for every file of the engine's packages, sorted."""
    files = []
    for package in PACKAGES:
        root = repo / package
        if not (root / "__init__.py").is_file():
            raise WheelError(f"{root} is not a package")
        for path in root.rglob("*"):
            relative = path.relative_to(repo)
            if (path.is_file() and not SKIP_DIRS.intersection(relative.parts)
                    and not any(path.name.endswith(s) for s in SKIP_SUFFIXES)):
                files.append((relative.as_posix(), path))
    return sorted(files)


def wheel_name(repo: Path = REPO) -> str:
    meta = project_metadata(repo)
    return f"{_normalize(meta['name'])}-{meta['version']}-py3-none-any.whl"


def build_wheel(out: Path, repo: Path = REPO) -> Path:
    """Write the engine's wheel into the folder ``out`` (created if needed); return its path."""
    meta = project_metadata(repo)
    name, version = _normalize(meta["name"]), meta["version"]
    info = f"{name}-{version}.dist-info"
    entries = [(arcname, path.read_bytes()) for arcname, path in engine_files(repo)]
    entries.append((f"{info}/METADATA", _metadata_text(meta).encode()))
    entries.append((f"{info}/WHEEL", (
        "Wheel-Version: 1.0\nGenerator: python -m assignments release\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    ).encode()))
    entries.append((f"{info}/top_level.txt", "".join(f"{p}\n" for p in PACKAGES).encode()))
    record = "".join(f"{arcname},sha256={_digest(data)},{len(data)}\n" for arcname, data in entries)
    entries.append((f"{info}/RECORD", (record + f"{info}/RECORD,,\n").encode()))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{name}-{version}-py3-none-any.whl"
    partial = target.with_suffix(".whl.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for arcname, data in entries:
            entry = zipfile.ZipInfo(arcname, date_time=DATE)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(entry, data)
    partial.replace(target)
    return target


def _metadata_text(meta: dict) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {meta['name']}", f"Version: {meta['version']}"]
    if meta["summary"]:
        lines.append(f"Summary: {meta['summary']}")
    if meta["requires_python"]:
        lines.append(f"Requires-Python: {meta['requires_python']}")
    lines += [f"Requires-Dist: {dep}" for dep in meta["dependencies"]]
    for extra, deps in sorted(meta["extras"].items()):
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {dep}; extra == "{extra}"' for dep in deps]
    return "\n".join(lines) + "\n"


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()
