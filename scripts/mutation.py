"""Mutation testing of one module: does some test notice when the code changes?

    python scripts/mutation.py minigrad/tape.py
    python scripts/mutation.py rnn/bptt.py --sample 60 --seed 1
    python scripts/mutation.py rnn/truncation.py --tests tests/rnn/test_bptt.py --line 394
    python scripts/mutation.py minigrad/tape.py --list          # the mutants, without running them

What it does:

1. copies the repository (without .git, .venv, runs, caches) into a temporary
   folder, so the working tree is never edited: other people may be running
   tests against it at the same time;
2. finds the mutation sites of MODULE with the ``ast`` module and makes one
   mutant per site, each a single small source edit (the rest of the file stays
   byte-identical): a flipped comparison (< <=, > >=, == !=, is / is not,
   in / not in), a swapped arithmetic operator (+ -, * /, also in ``+=``), a
   numeric constant plus one, a negated condition (``if x`` -> ``if not (x)``, also
   ``while``, conditional expressions and comprehension filters),
   ``and`` <-> ``or``, and a simple statement replaced by ``pass``;
3. runs the module's own tests (the ``TESTS`` table below, or ``--tests``) on the
   unmutated copy (they must pass), then on each mutant, with the copy first on
   ``sys.path`` and its own numba cache (numba's ``cache=True`` only checks the
   file that defines a kernel, so the real tree's cached kernels must never be
   used for mutated sources).  A mutant is *killed* when a test fails (or the run
   exceeds 3x the baseline time) and *survives* when every test passes;
4. prints the score, killed / (mutants - known equivalents), and each survivor
   as file:line with the original and the mutated line.

Not mutated: docstrings and other string constants, the message of a ``raise``,
f-strings, annotations, ``__repr__``, ``__all__``, ``__slots__``, and lines (or whole functions,
when on the ``def`` line) marked ``pragma: no cover`` or ``pragma: no mutate``.

Known-equivalent mutants (edits that change no behaviour, so no test can kill
them) are listed in the "Equivalent mutants" table of docs/mutation.md (or the
file given by ``--equivalent``): one row per mutant, ``| module | original line |
mutated line | reason |``, the lines stripped of indentation, as this script prints
them.  Rows without a reason are an error.  Identical lines of a module share a row.
"""

from __future__ import annotations

import argparse
import ast
import bisect
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tokenize
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Each core module's own tests: the files that exercise it directly (the quickest to fail first:
#: pytest runs them in this order and stops at the first failure).
TESTS = {
    "minigrad/tape.py": ["tests/minigrad/test_gaps.py", "tests/minigrad/test_tape.py", "tests/minigrad/test_errors.py"],
    "minigrad/ops/base.py": ["tests/minigrad/test_gaps.py", "tests/minigrad/test_backward_contract.py",
                             "tests/minigrad/test_errors.py", "tests/minigrad/test_tape.py",
                             "tests/minigrad/test_forward_values.py", "tests/minigrad/test_ops_gradcheck.py",
                             "tests/minigrad/test_jvp.py", "tests/rnn/test_indices.py"],
    "minigrad/kernels/rnn.py": ["tests/rnn/test_gaps.py", "tests/rnn/test_fused.py",
                                "tests/minigrad/test_kernels_nojit.py"],
    "rnn/truncation.py": ["tests/rnn/test_gaps.py", "tests/rnn/test_truncation.py", "tests/rnn/test_registry.py",
                          "tests/rnn/test_bptt.py"],
    "rnn/bptt.py": ["tests/rnn/test_gaps.py", "tests/rnn/test_bptt.py", "tests/rnn/test_indices.py",
                    "tests/rnn/test_reduction.py"],
    "rnn/fused.py": ["tests/rnn/test_gaps.py", "tests/rnn/test_fused.py", "tests/rnn/test_indices.py",
                     "tests/rnn/test_cell_table.py"],
    "rnn/online.py": ["tests/rnn/test_gaps_online.py", "tests/rnn/test_online.py"],
}
#: Any other module of minigrad/ops: the op-table suites.
OPS_TESTS = ["tests/minigrad/test_gaps_ops.py", "tests/minigrad/test_gaps.py",
             "tests/minigrad/test_ops_gradcheck.py", "tests/minigrad/test_forward_values.py",
             "tests/minigrad/test_errors.py", "tests/minigrad/test_jvp.py"]

IGNORED = shutil.ignore_patterns(".git", ".venv", "runs", "__pycache__", "*.pyc", "*.nbi", "*.nbc",
                                 ".pytest_cache", ".hypothesis", "*.egg-info", "_build", ".mutation")

COMPARE_SWAP = {ast.Lt: ("<", "<="), ast.LtE: ("<=", "<"), ast.Gt: (">", ">="), ast.GtE: (">=", ">"),
                ast.Eq: ("==", "!="), ast.NotEq: ("!=", "=="), ast.Is: ("is", "is not"),
                ast.IsNot: ("is not", "is"), ast.In: ("in", "not in"), ast.NotIn: ("not in", "in")}
BINOP_SWAP = {ast.Add: ("+", "-"), ast.Sub: ("-", "+"), ast.Mult: ("*", "/"), ast.Div: ("/", "*")}
BOOL_SWAP = {ast.And: ("and", "or"), ast.Or: ("or", "and")}
PRAGMAS = ("pragma: no cover", "pragma: no mutate")


@dataclass
class Mutant:
    """One edit of the module's source: bytes [start, end) replaced by ``new``."""

    module: str
    line: int
    kind: str
    start: int
    end: int
    new: str
    original: str = ""  # the edited line, before and after (stripped)
    mutated: str = ""
    context: str = ""  # the closest line above it that is not blank or a comment (stripped)
    status: str = "pending"  # killed | survived | timeout | equivalent | invalid
    seconds: float = 0.0

    @property
    def key(self) -> tuple:
        return (self.module, self.context, self.original, self.mutated)


# -- finding the mutation sites ------------------------------------------------
class _Source:
    """A module's bytes with conversions between (line, column) and byte offsets."""

    def __init__(self, data: bytes):
        self.data = data
        self.starts = [0]
        for i, b in enumerate(data):
            if b == 0x0A:
                self.starts.append(i + 1)
        text = data.decode("utf-8")
        self._lines = text.splitlines(keepends=True)
        self.tokens = []  # (start byte, end byte, type, string)
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in (tokenize.OP, tokenize.NAME):
                self.tokens.append((self._char_pos(text, *tok.start), self._char_pos(text, *tok.end), tok.string))
        self.token_starts = [t[0] for t in self.tokens]

    def _char_pos(self, text, row, col_chars):
        if row > len(self._lines):  # the end marker
            return len(self.data)
        line = self._lines[row - 1]
        return self.starts[row - 1] + len(line[:col_chars].encode("utf-8"))

    def offset(self, lineno: int, col: int) -> int:
        return self.starts[lineno - 1] + col

    def span(self, node) -> tuple[int, int]:
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)

    def tokens_between(self, a: int, b: int):
        i = bisect.bisect_left(self.token_starts, a)
        while i < len(self.tokens) and self.tokens[i][0] < b:
            yield self.tokens[i]
            i += 1

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def line_text(self, data: bytes, lineno: int) -> str:
        starts = self.starts if data is self.data else _line_starts(data)
        a = starts[lineno - 1]
        b = data.find(b"\n", a)
        return data[a:b if b >= 0 else len(data)].decode("utf-8")


def _line_starts(data: bytes) -> list[int]:
    return [0] + [i + 1 for i, b in enumerate(data) if b == 0x0A]


def _operator_span(src: _Source, a: int, b: int, words: str):
    """The byte span of the operator ``words`` ("<", "is not", ...) between offsets a and b."""
    parts = words.split()
    toks = [t for t in src.tokens_between(a, b) if t[2] not in "()"]
    for i in range(len(toks) - len(parts) + 1):
        if [t[2] for t in toks[i:i + len(parts)]] == parts:
            return toks[i][0], toks[i + len(parts) - 1][1]
    raise LookupError(f"operator {words!r} not found between bytes {a} and {b}")


class _Finder(ast.NodeVisitor):
    def __init__(self, module: str, src: _Source):
        self.module, self.src, self.sites = module, src, []
        self.lines = src.data.decode("utf-8").splitlines()

    def add(self, node_or_line, kind, start, end, new):
        line = node_or_line if isinstance(node_or_line, int) else self.src.line_of(start)
        if any(p in self.lines[line - 1] for p in PRAGMAS):
            return
        self.sites.append(Mutant(self.module, line, kind, start, end, new))

    def skipped(self, node) -> bool:
        return any(p in self.lines[node.lineno - 1] for p in PRAGMAS)

    # what is never mutated
    def visit_FunctionDef(self, node):
        if node.name == "__repr__" or self.skipped(node):
            return
        for d in node.decorator_list:
            self.visit(d)
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
            self.visit(default)
        self._body(node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        for d in node.decorator_list:
            self.visit(d)
        self._body(node.body)

    def visit_Module(self, node):
        self._body(node.body)

    def _body(self, body):
        for stmt in body:
            self.visit(stmt)

    def visit_JoinedStr(self, node):
        return

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self._delete(node)
            self.visit(node.value)

    def visit_Raise(self, node):
        self._delete(node)  # the raise itself may go; its message is not mutated

    def visit_Assign(self, node):
        if any(isinstance(t, ast.Name) and t.id in ("__all__", "__slots__") for t in node.targets):
            return
        self._delete(node)
        self.generic_visit(node)

    def visit_Expr(self, node):
        if isinstance(node.value, ast.Constant):  # a docstring or a bare constant
            return
        self._delete(node)
        self.generic_visit(node)

    # statements replaced by pass
    def _delete(self, node):
        start, end = self.src.span(node)
        self.add(node.lineno, "delete statement", start, end, "pass")

    def visit_AugAssign(self, node):
        self._delete(node)
        op = type(node.op)
        if op in BINOP_SWAP:
            old, new = BINOP_SWAP[op]
            a, b = _operator_span(self.src, self.src.span(node.target)[1], self.src.span(node.value)[0], old + "=")
            self.add(None, f"{old}= -> {new}=", a, b, new + "=")
        self.generic_visit(node)

    def _simple(self, node):
        self._delete(node)
        self.generic_visit(node)

    visit_Return = visit_Delete = visit_Assert = visit_Continue = visit_Break = _simple

    # expressions
    def visit_Compare(self, node):
        left = node.left
        for op, right in zip(node.ops, node.comparators):
            old, new = COMPARE_SWAP[type(op)]
            a, b = _operator_span(self.src, self.src.span(left)[1], self.src.span(right)[0], old)
            self.add(None, f"{old} -> {new}", a, b, new)
            left = right
        self.generic_visit(node)

    def visit_BinOp(self, node):
        op = type(node.op)
        if op in BINOP_SWAP:
            old, new = BINOP_SWAP[op]
            a, b = _operator_span(self.src, self.src.span(node.left)[1], self.src.span(node.right)[0], old)
            self.add(None, f"{old} -> {new}", a, b, new)
        self.generic_visit(node)

    def visit_BoolOp(self, node):
        old, new = BOOL_SWAP[type(node.op)]
        for left, right in zip(node.values, node.values[1:]):
            a, b = _operator_span(self.src, self.src.span(left)[1], self.src.span(right)[0], old)
            self.add(None, f"{old} -> {new}", a, b, new)
        self.generic_visit(node)

    def visit_Constant(self, node):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return
        start, end = self.src.span(node)
        self.add(None, f"{value!r} -> {value + 1!r}", start, end, repr(value + 1))

    def _negate(self, test):
        start, end = self.src.span(test)
        text = self.src.data[start:end].decode("utf-8")
        self.add(None, "negated condition", start, end, f"not ({text})")

    def visit_If(self, node):
        self._negate(node.test)
        self.generic_visit(node)

    visit_While = visit_If

    def visit_IfExp(self, node):
        self._negate(node.test)
        self.generic_visit(node)

    def visit_comprehension(self, node):
        for cond in node.ifs:
            self._negate(cond)
        self.generic_visit(node)


def find_mutants(module: str, data: bytes) -> list[Mutant]:
    """Every mutant of the module's source ``data``, in source order, with its lines filled in."""
    src = _Source(data)
    finder = _Finder(module, src)
    finder.visit(ast.parse(data))
    mutants = []
    for m in sorted(finder.sites, key=lambda m: (m.start, m.end, m.kind)):
        mutated = apply(data, m)
        try:
            compile(mutated, module, "exec")
        except SyntaxError:
            m.status = "invalid"
        m.original = src.line_text(data, m.line).strip()
        m.mutated = src.line_text(mutated, m.line).strip()
        m.context = next((text for text in (src.line_text(data, i).strip() for i in range(m.line - 1, 0, -1))
                          if text and not text.startswith("#")), "")
        mutants.append(m)
    return mutants


def apply(data: bytes, m: Mutant) -> bytes:
    return data[:m.start] + m.new.encode("utf-8") + data[m.end:]


# -- known-equivalent mutants -------------------------------------------------------
def read_equivalents(path: Path) -> dict[tuple, str]:
    """The rows of the "Equivalent mutants" table: (module, after, original, mutated) -> reason.

    ``after`` is the closest non-blank line above the mutated one; a row may leave it
    empty to match the line wherever it appears in the module.
    """
    if not path.exists():
        return {}
    rows, inside = {}, False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            inside = line.lstrip("#").strip().lower().startswith("equivalent mutants")
            continue
        if not inside or not line.startswith("|"):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) != 5 or set(cells[0]) <= set("-: ") or cells[0].lower() == "module":
            continue
        *key, reason = (c[1:-1] if i < 4 and len(c) >= 2 and c[0] == c[-1] == "`" else c
                        for i, c in enumerate(cells))
        if not reason:
            raise SystemExit(f"{path}: the equivalent mutant {key} has no reason")
        rows[tuple(key)] = reason
    return rows


def equivalence(m: Mutant, rows: dict) -> tuple | None:
    """The key of the table row that declares ``m`` equivalent, or None."""
    for key in (m.key, (m.module, "", m.original, m.mutated)):
        if key in rows:
            return key
    return None


# -- running -----------------------------------------------------------------------
def copy_tree(dest: Path) -> Path:
    tree = dest / "repo"
    shutil.copytree(ROOT, tree, ignore=IGNORED, symlinks=True)
    return tree


def run_tests(tree: Path, tests: list[str], env: dict, timeout: float | None,
              first_failure: bool = True) -> tuple[str, float, str]:
    """Run pytest in the copy; return ("passed" | "failed" | "timeout", seconds, output)."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-header", *tests]
    if first_failure:
        cmd.insert(3, "-x")
    began = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return "timeout", time.monotonic() - began, out.decode(errors="replace")
    except BaseException:  # interrupted (Ctrl-C, SIGTERM): take the test run down with us
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    status = "passed" if proc.returncode == 0 else "failed"
    return status, time.monotonic() - began, out.decode(errors="replace")


def failing_tests(output: str) -> list[str] | None:
    """The node ids pytest's short summary lists as FAILED, or None if something else
    (a collection error) went wrong."""
    if re.search(r"^ERROR ", output, flags=re.M):
        return None
    return [line[len("FAILED "):].split(" - ")[0] for line in output.splitlines() if line.startswith("FAILED ")]


def child_env(tree: Path, cache: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["NUMBA_CACHE_DIR"] = str(cache)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # a .pyc keyed on (mtime in seconds, size) could outlive a mutant
    env["MPLBACKEND"] = "Agg"
    return env


def write(path: Path, data: bytes, stamp: list) -> None:
    """Write ``data`` with a new, strictly increasing mtime (numba's cache compares (mtime, size))."""
    path.write_bytes(data)
    stamp[0] += 1_000_000_000
    os.utime(path, ns=(stamp[0], stamp[0]))


def default_tests(module: str) -> list[str]:
    if module in TESTS:
        return TESTS[module]
    if module.startswith("minigrad/ops/"):
        return OPS_TESTS
    raise SystemExit(f"no tests are known for {module}: pass --tests")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("module", help="the module to mutate, relative to the repository (minigrad/tape.py)")
    parser.add_argument("--tests", nargs="+", help="test paths to run (default: the module's own tests)")
    parser.add_argument("--whole-suite", action="store_true", help="run every test under tests/ instead")
    parser.add_argument("--sample", type=int, help="run a random sample of this many mutants")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    parser.add_argument("--line", type=int, nargs="+", help="only the mutants on these lines")
    parser.add_argument("--equivalent", type=Path, default=ROOT / "docs" / "mutation.md",
                        help="the file whose 'Equivalent mutants' table lists known equivalents")
    parser.add_argument("--timeout-factor", type=float, default=3.0,
                        help="a mutant whose tests take this many times the baseline (the slower of the two "
                             "baseline runs, the first of which compiles the kernels) is killed (default 3)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--skip-failing", action="store_true",
                        help="deselect (and name) the tests that already fail on the unmutated copy, "
                             "instead of stopping")
    parser.add_argument("--json", type=Path, help="write every mutant's outcome to this file")
    parser.add_argument("--rerun", type=Path, metavar="JSON",
                        help="run only the survivors recorded in this --json file of an earlier run of the same "
                             "source (after adding tests: a killed mutant stays killed when tests are only added)")
    args = parser.parse_args(argv)

    module = Path(args.module).as_posix()
    source = ROOT / module
    if not source.is_file():
        raise SystemExit(f"{module}: no such file under {ROOT}")
    data = source.read_bytes()
    mutants = find_mutants(module, data)
    equivalents = read_equivalents(args.equivalent)
    if args.line:
        mutants = [m for m in mutants if m.line in args.line]
    if args.sample and not args.rerun and args.sample < len(mutants):
        chosen = set(random.Random(args.seed).sample(range(len(mutants)), args.sample))
        mutants = [m for i, m in enumerate(mutants) if i in chosen]
    if args.rerun:
        earlier = json.loads(args.rerun.read_text())
        if earlier["sha256"] != hashlib.sha256(data).hexdigest():
            raise SystemExit(f"{args.rerun} was made from another version of {module}: run every mutant again")
        outcome = {(m["start"], m["end"], m["new"]): m["status"] for m in earlier["mutants"]}
        mutants = [m for m in mutants if (m.start, m.end, m.new) in outcome]
        for m in mutants:
            if outcome[(m.start, m.end, m.new)] in ("killed", "timeout"):
                m.status = outcome[(m.start, m.end, m.new)] + " before"
    used = set()
    for m in mutants:
        key = equivalence(m, equivalents)
        if m.status == "pending" and key is not None:
            m.status = "equivalent"
            used.add(key)
    if args.list:
        for m in mutants:
            flag = "" if m.status == "pending" else f"  [{m.status}]"
            print(f"{m.module}:{m.line}: {m.kind}{flag}\n    after {m.context}\n    - {m.original}\n    + {m.mutated}")
        print(f"{len(mutants)} mutants")
        return 0

    tests = ["tests"] if args.whole_suite else (args.tests or default_tests(module))
    missing = [t for t in tests if not (ROOT / t.split("::")[0]).exists()]
    if missing:
        print(f"warning: skipping missing test paths {missing}", file=sys.stderr)
        tests = [t for t in tests if t not in missing]
    if not tests:
        raise SystemExit("no test paths left to run")

    from tqdm import tqdm

    # SIGTERM as Ctrl-C: the test run in progress is killed and the temporary copy removed
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        tree = copy_tree(Path(tmp))
        env = child_env(tree, Path(tmp) / "numba-cache")
        target = tree / module
        stamp = [time.time_ns()]
        write(target, data, stamp)
        # Twice: the first run compiles the numba kernels into the copy's own cache.  A mutant of a
        # kernel module recompiles them all (minigrad/kernels/cache.py clears a stale cache), so the
        # timeout is reckoned from the slower, compiling run.
        durations = []
        for attempt in range(2):
            status, baseline, out = run_tests(tree, tests, env, None, first_failure=False)
            durations.append(baseline)
            if status == "passed":
                continue
            failing = failing_tests(out)
            if not args.skip_failing or not failing:
                print(out[-5000:], file=sys.stderr)
                raise SystemExit(f"the tests fail on the unmutated copy ({' '.join(tests)}): fix that first"
                                 + ("" if args.skip_failing else ", or pass --skip-failing"))
            print(f"warning: deselecting {len(failing)} test(s) that fail on the unmutated copy:\n  "
                  + "\n  ".join(failing), flush=True)
            tests = tests + [arg for test in failing for arg in ("--deselect", test)]
            status, baseline, out = run_tests(tree, tests, env, None)
            if status != "passed":
                print(out[-5000:], file=sys.stderr)
                raise SystemExit("the tests still fail on the unmutated copy after deselecting the failures")
        slowest = max(durations)
        timeout = max(args.timeout_factor * slowest, slowest + 10.0)
        print(f"{module}: {len(mutants)} mutants; tests {' '.join(tests)}; baseline {baseline:.1f} s "
              f"({durations[0]:.1f} s compiling), "
              f"timeout {timeout:.0f} s", flush=True)
        todo = [m for m in mutants if m.status == "pending"]
        bar = tqdm(todo, unit="mutant", file=sys.stderr, dynamic_ncols=True)
        try:
            for m in bar:
                bar.set_description(f"line {m.line}")
                write(target, apply(data, m), stamp)
                status, m.seconds, out = run_tests(tree, tests, env, timeout)
                m.status = {"passed": "survived", "failed": "killed", "timeout": "timeout"}[status]
                if m.status == "survived":
                    bar.write(f"survived {m.module}:{m.line} {m.kind}\n    after {m.context}\n"
                              f"    - {m.original}\n    + {m.mutated}")
        finally:
            write(target, data, stamp)
            bar.close()

    elapsed = time.monotonic() - began
    counted = [m for m in mutants if m.status in ("killed", "timeout", "survived", "killed before", "timeout before")]
    killed = [m for m in counted if m.status != "survived"]
    survivors = [m for m in counted if m.status == "survived"]
    equivalent = [m for m in mutants if m.status == "equivalent"]
    invalid = [m for m in mutants if m.status == "invalid"]
    score = 100.0 * len(killed) / len(counted) if counted else 100.0
    print(f"\n{module}: killed {len(killed)} / {len(counted)} non-equivalent mutants ({score:.1f}%)"
          f"; {len(equivalent)} known equivalent, {len(invalid)} invalid; "
          f"{sum(m.status.startswith('timeout') for m in killed)} by timeout; {elapsed / 60:.1f} min"
          + (f"; {sum(m.status.endswith('before') for m in killed)} killed in {args.rerun}" if args.rerun else ""))
    for m in survivors:
        print(f"  {m.module}:{m.line}: {m.kind}\n      after {m.context}\n      - {m.original}\n      + {m.mutated}")
    for m in equivalent:
        reason = equivalents[equivalence(m, equivalents)]
        print(f"  equivalent {m.module}:{m.line}: {m.original}  ->  {m.mutated}: {reason}")
    if not (args.line or args.sample or args.rerun):
        for key in sorted(k for k in equivalents if k[0] == module and k not in used):
            print(f"  note: no mutant matches the equivalent row {key}; is it stale?")
    if args.json:
        args.json.write_text(json.dumps({
            "module": module, "sha256": hashlib.sha256(data).hexdigest(), "tests": tests,
            "killed": len(killed), "counted": len(counted), "equivalent": len(equivalent),
            "seconds": round(elapsed, 1),
            "mutants": [asdict(m) for m in mutants]}, indent=1))
    return 0 if not survivors else 1


if __name__ == "__main__":
    sys.exit(main())
