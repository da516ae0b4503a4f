"""Graded assignments on the minigrad engine: reference solutions, a release tool and a sandboxed grader.

Each ``a<N>_<slug>/`` folder is one assignment, written as its reference
solution with the student's parts marked as solution regions (``regions``).
``python -m assignments release OUT`` writes the student versions and the
engine's wheel, ``python -m assignments grade SUBMISSION`` grades one
submission (a table, and Gradescope's results.json with ``--json``),
``python -m assignments batch`` a folder of them into one CSV, and
``python -m assignments gradescope OUT -a N`` a Gradescope autograder.  The
grader never imports a student's file: a sandboxed worker does (``sandbox``).
README.md is the instructor's guide.
"""
