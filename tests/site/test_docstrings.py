"""docs/_ext/docstrings.py: the project's plain-text docstrings become reST that parses without warnings."""

from __future__ import annotations

import importlib.util
import inspect
import io
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("docstrings", ROOT / "docs" / "_ext" / "docstrings.py")
docstrings = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docstrings)


def parse_messages(text: str) -> list[str]:
    """What docutils complains about when it parses ``text`` as reST."""
    docutils_core = pytest.importorskip("docutils.core")
    errors = io.StringIO()
    docutils_core.publish_doctree(text, settings_overrides={"warning_stream": errors, "report_level": 2,
                                                            "halt_level": 5})
    return [line for line in errors.getvalue().splitlines() if "(WARNING" in line or "(ERROR" in line]


def rewrite(text: str) -> str:
    return "\n".join(docstrings.plain_text(inspect.cleandoc(text).splitlines()))


SAMPLES = {
    "an example after a blank line": '''Run a strategy.

        u = rnn.unroll(model, xs, ys, rnn.TBPTT(3, 5))
        rnn.viz.compact(u)

    Then draw it.''',
    "a hanging indent": '''jvp(fn, primals, tangents).

    fn: a function of one Tensor per primal, returning a Tensor or a tuple (or
        list) of Tensors.
    primals: the point.''',
    "maths with bars and stars": '''max |eigenvalue| of M, and ||g||; a * b, and the ops (+, *, tanh).''',
    "a list whose items continue": '''Three ways:

    * ``backward(retain_graph=False)`` releases each node it used;
    * ``Tape.cut(tensor)`` releases every node,
      which makes ``tensor`` a leaf;
    * ``no_grad()`` records nothing.''',
    "a section header with an indented list": '''A task.

    Attributes:
        name: short task name.
        xs: float64 inputs, shape (T, batch, n_in).''',
    "a table under a heading line, no blank": '''Five strategies.

    Strategies:
        full          every loss back to the start
        chunked:3     windows of 3 steps''',
    "a table under a heading, laid out in columns": '''Measurements.

    Gradients of the hidden states (how far back gradient reaches)
        state_grads(model, xs, ys)       dL/dh_t for t = 1..T
        grad_norm_by_lag(model, xs, ys)  ||dl_T/dh_{T-k}|| for k = 0..T-1
    Cost (what a strategy spends)
        measure(model, xs, ys, strategy) wall time''',
}


@pytest.mark.parametrize("name", SAMPLES)
def test_plain_text_docstrings_parse_without_warnings(name):
    rewritten = rewrite(SAMPLES[name])
    assert not parse_messages(rewritten), f"{name}:\n{rewritten}\n{parse_messages(rewritten)}"


def test_the_samples_do_warn_as_plain_reST():
    """Each sample that the hook exists for trips docutils as written (so the test above tests something)."""
    for name in ("a hanging indent", "maths with bars and stars"):
        assert parse_messages(inspect.cleandoc(SAMPLES[name])), f"{name} parses cleanly without the hook"


def test_code_stays_verbatim_and_maths_keeps_its_characters():
    out = rewrite(SAMPLES["an example after a blank line"])
    assert "::\n\n    u = rnn.unroll(model, xs, ys, rnn.TBPTT(3, 5))" in out
    maths = rewrite(SAMPLES["maths with bars and stars"])
    assert r"max \|eigenvalue\|" in maths and r"(+, \*, tanh)" in maths
    doctree = pytest.importorskip("docutils.core").publish_doctree(maths)
    assert "max |eigenvalue| of M, and ||g||; a * b, and the ops (+, *, tanh)." in doctree.astext()


def test_a_table_stays_a_table_and_a_hanging_indent_joins_its_paragraph():
    table = rewrite(SAMPLES["a table under a heading, laid out in columns"])
    assert "reaches)\n\n::\n\n    state_grads(model, xs, ys)       dL/dh_t" in table
    hanging = rewrite(SAMPLES["a hanging indent"])
    assert "a tuple (or\nlist) of Tensors." in hanging


def test_literals_emphasis_and_list_markers_are_kept():
    line = "a ``x|y*z`` literal, *emphasis*, **strong** and 2 * 3"
    assert docstrings.escape(line) == r"a ``x|y*z`` literal, *emphasis*, **strong** and 2 \* 3"
    assert docstrings.escape("* item with |x|") == r"* item with \|x\|"


def test_the_engines_own_docstrings_parse_cleanly():
    import minigrad.tape
    import minigrad.viz
    import rnn.gated
    import rnn.tasks
    import rnn.analysis
    for obj in (minigrad.viz, minigrad.tape, rnn.gated, rnn.tasks.Task, rnn.analysis):
        text = "\n".join(docstrings.plain_text(inspect.getdoc(obj).splitlines()))
        assert not parse_messages(text), f"{obj.__name__}: {parse_messages(text)}"
