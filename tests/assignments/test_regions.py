"""Solution regions: what release removes, what it keeps, and the errors for malformed markers."""

import pytest

from assignments.regions import RegionError, find_regions, strip_solutions, task_ids

SOURCE = '''def f(x):
    """Double x."""
    # Hint: multiply.
    # BEGIN SOLUTION task1_2
    y = 2 * x
    return y
    # END SOLUTION


def g():
    # BEGIN SOLUTION task1_10
    return 3
    # END SOLUTION
'''


def test_release_replaces_each_region_by_its_task_and_keeps_the_hint_above():
    assert strip_solutions(SOURCE, "f.py") == '''def f(x):
    """Double x."""
    # Hint: multiply.
    raise NotImplementedError("task1_2")


def g():
    raise NotImplementedError("task1_10")
'''


def test_regions_know_their_lines_and_tasks_in_natural_order():
    first, second = find_regions(SOURCE, "f.py")
    assert (first.task, first.begin, first.end, first.indent) == ("task1_2", 4, 7, "    ")
    assert first.body == ("    y = 2 * x", "    return y")
    assert second.task == "task1_10"
    assert task_ids(SOURCE + SOURCE.replace("task1_10", "task1_3")) == ["task1_2", "task1_3", "task1_10"]


def test_a_file_without_regions_is_released_unchanged():
    text = "x = 1\n# a comment\n"
    assert strip_solutions(text) == text


@pytest.mark.parametrize("text, message", [
    ("# BEGIN SOLUTION task1_1\nx = 1\n", r"f\.py:1: .*never closed"),
    ("# BEGIN SOLUTION task1_1\n# BEGIN SOLUTION task1_2\n# END SOLUTION\n", r"f\.py:2: .*inside the region opened at line 1"),
    ("x = 1\n# END SOLUTION\n", r"f\.py:2: '# END SOLUTION' without"),
    ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", r"f\.py:1: .*must name its task"),
    ("# BEGIN SOLUTION task one\n# END SOLUTION\n", r"f\.py:1: .*must name its task"),
    ("# BEGIN SOLUTION task1_1\n# END SOLUTION task1_1\n", r"f\.py:2: nothing may follow"),
])
def test_malformed_markers_are_reported_with_file_and_line(text, message):
    with pytest.raises(RegionError, match=message):
        strip_solutions(text, "f.py")
