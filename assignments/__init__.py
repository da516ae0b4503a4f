"""Graded assignments on the minigrad engine: reference solutions, a release tool and a pytest grader.

Each ``a<N>_<slug>/`` folder is one assignment, written as its reference
solution with the student's parts marked as solution regions (``regions``).
``python -m assignments release OUT`` writes the student versions,
``python -m assignments grade SUBMISSION`` grades one submission (a table, and
Gradescope's results.json with ``--json``), ``python -m assignments batch``
a folder of them into one CSV.  README.md is the instructor's guide.
"""
