"""The sandbox around a student's code: the runtime it runs from, and the worker processes that run it.

``runtime`` builds the read-only tree a worker imports from (an interpreter,
NumPy, numba and the engine's wheel, never this repository), ``launch``
starts a worker there with limits, as an unprivileged user when the grader is
root, and kills it with everything it started; ``worker`` is the program that
runs inside.
"""
