"""What runs next to your bptt.py when it is graded (and when you run pytest here).

The tests call your functions directly with arrays (``student.hidden_grads(A,
C, h, dq, "tanh")``), so this assignment needs no probe.  bptt.py is plain
NumPy: the process that runs it has no minigrad and no rnn to import.
"""

NEEDS_ENGINE = False
WITHOUT_ENGINE = "assignment 2 is plain NumPy: bptt.py may import numpy and the standard library only"
SWITCHED_OFF = {}  # task -> the engine functions that task's code may not call
USE_ENGINE = {}  # task -> {name in bptt.py: the engine's function put in its place}
