"""Benchmarks: minigrad's training step side by side with hand-written BPTT.

``python -m benchmarks`` runs three sections and writes ``benchmarks/RESULTS.md``:

* speed: one training step (forward over T steps + full BPTT + SGD) of the same
  Elman char-RNN, from the same weights on the same data, in minigrad (fused and
  op-level cells), in plain numpy (``references.py``), with a numba recurrence
  (``numba_reference.py``) and in PyTorch when it is installed
  (``torch_references.py``); every implementation's gradients are checked
  against the numpy loop before anything is timed;
* memory: the peak bytes the tape holds under Full, Chunked, TBPTT and
  Checkpointed BPTT as T grows from 1,000 to 100,000;
* start-up: ``import minigrad`` and the first training step in a fresh process,
  with a cold and a warm numba cache.

This ``__init__`` imports nothing, so ``first_step.py`` can time the import of
minigrad in a fresh process before it loads the rest of the package.
"""
