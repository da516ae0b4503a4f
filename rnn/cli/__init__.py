"""The command lines (train, compare, render, demo): argparse shells over the library.

Each parses flags, calls ``rnn.training`` / ``rnn.viz`` / ``rnn.registry`` and
turns a ``ConfigError`` into one line on stderr and exit code 2.  Nothing in
the library, the tutorials, the assignments or the benchmarks imports this
package; ``python -m rnn.train`` and friends run it through small shims.
"""
