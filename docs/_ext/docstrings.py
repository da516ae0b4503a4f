"""Read the project's docstrings as their authors write them, not as strict reStructuredText.

minigrad's and rnn's docstrings are plain text with a few conventions: ``code``
in double backquotes, an indented block after a blank line is code or a
table (a usage example, a loop, a small diagram), a line indented under the
previous one continues it (a hanging indent), and maths is written inline
(|x|, a * b, ||g||).  Read as reST, those give block quotes in a proportional
font, "unexpected indentation" errors, and |x| taken for a substitution.  This
``autodoc-process-docstring`` hook rewrites each docstring, line by line, before
Sphinx parses it:

* an indented block after a blank line becomes a literal block (``::``), and so
  does one right under a line when it is laid out in columns (a run of spaces
  inside a line, as in a table of functions and what they do);
* otherwise a hanging indent joins its paragraph (the line is dedented);
* ``|`` and a ``*`` that opens no *emphasis* are escaped outside ``literals``;
* directives, field lists, explicit ``::`` blocks and doctests are left alone
  (sphinx.ext.napoleon, run before this, writes Google-style sections as those).

Anything it does not handle still warns, and the build (``-W``) fails on it.
"""

from __future__ import annotations

import re
from pathlib import Path

LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)]|#\.)\s+")
INLINE_LITERAL = re.compile(r"``.+?``")
EMPHASIS = re.compile(r"(?<![\w*\\])(\*\*?)(?=\S)(?!\*)(.+?)(?<=\S)\1(?![\w*])")


def indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def text_indent(line: str) -> int:
    """Where the text of a line starts: after a list item's marker."""
    item = LIST_ITEM.match(line)
    return item.end() if item else indent(line)


def escape(line: str) -> str:
    """Escape ``|`` and stray ``*`` outside inline literals (a list item's marker is kept)."""
    item = LIST_ITEM.match(line)
    if item:
        return line[:item.end()] + escape(line[item.end():])
    parts, last = [], 0
    for literal in INLINE_LITERAL.finditer(line):
        parts.append(_escape_text(line[last:literal.start()]))
        parts.append(literal.group())
        last = literal.end()
    parts.append(_escape_text(line[last:]))
    return "".join(parts)


def _escape_text(text: str) -> str:
    text = text.replace("|", r"\|")
    kept = set()
    for match in EMPHASIS.finditer(text):
        kept.update(range(match.start(), match.start() + len(match.group(1))))
        kept.update(range(match.end() - len(match.group(1)), match.end()))
    return "".join("\\*" if ch == "*" and i not in kept and (i == 0 or text[i - 1] != "\\") else ch
                   for i, ch in enumerate(text))


COLUMNS = re.compile(r"\S(?:(?<![.?!:;])\s{2,}|\s{3,})\S")


def columns_below(lines: list[str], start: int, above: int) -> bool:
    """Whether the block of lines indented deeper than ``above`` from ``start`` on is laid out in columns."""
    for line in lines[start:]:
        if line.strip() and indent(line) <= above:
            return False
        if COLUMNS.search(line.strip()):
            return True
    return False


def plain_text(lines: list[str]) -> list[str]:
    """The docstring's lines rewritten as reST that reads as the author meant (see the module docstring)."""
    out: list[str] = []
    keep_under = None  # indent of a directive, field or "::" line whose indented body is left alone
    previous = None  # the last non-blank line written
    for number, line in enumerate(lines):
        if not line.strip():
            out.append(line)
            continue
        ind = indent(line)
        if keep_under is not None:
            if ind > keep_under:
                out.append(line)
                previous = line
                continue
            keep_under = None
            if out and out[-1].strip():
                out.append("")
        stripped = line.lstrip()
        after_blank = bool(out) and not out[-1].strip()
        if previous is not None and ind > text_indent(previous):
            if after_blank and not previous.rstrip().endswith("::"):
                parent = indent(previous)
                out.extend([" " * parent + "::", ""])
                out.append(line)
                keep_under, previous = parent, line
                continue
            if not after_blank and previous.rstrip().endswith(":") and not previous.rstrip().endswith("::"):
                # "Attributes:" or "for example:" and an indented block under it: a literal block
                out[-1] = out[-1].rstrip() + ":"
                out.extend(["", line])
                keep_under, previous = indent(previous), line
                continue
            if not after_blank and not previous.lstrip().startswith((".. ", ":")) \
                    and columns_below(lines, number, text_indent(previous)):
                # a heading line and a table under it: the table as a literal block
                out.extend(["", " " * indent(previous) + "::", "", line])
                keep_under, previous = indent(previous), line
                continue
            if not after_blank and not previous.lstrip().startswith((".. ", ":")):
                line = " " * text_indent(previous) + stripped  # a hanging indent continues its paragraph
                ind = indent(line)
        if stripped.startswith((".. ", ">>> ")) or re.match(r"^:[^:\s][^:]*:", stripped) \
                or stripped.rstrip().endswith("::"):
            keep_under = ind
            out.append(line if stripped.startswith(">>> ") or stripped.startswith(".. ") else escape_keep_colons(line))
            previous = line
            continue
        out.append(escape(line))
        previous = line
    return out


def escape_keep_colons(line: str) -> str:
    """A field (``:param x: ...``) or a ``text::`` line: escape its text, not its markup."""
    field = re.match(r"^(\s*:[^:\s][^:]*:)(.*)$", line)
    if field:
        return field.group(1) + escape(field.group(2))
    return escape(line)


def process(app, what, name, obj, options, lines: list[str]) -> None:
    lines[:] = plain_text(list(lines))


def _source_digest() -> str:
    """This file's sha256: a config value, so that editing the extension makes Sphinx read every page again."""
    import hashlib
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def setup(app) -> dict:
    app.setup_extension("sphinx.ext.autodoc")
    app.add_config_value("docstrings_extension_digest", _source_digest(), "env")
    app.connect("autodoc-process-docstring", process, priority=600)  # after napoleon (priority 500)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
