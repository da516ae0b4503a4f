"""`python -m rnn.demo` runs the command line in ``rnn.cli.demo`` (kept here so that the old command works)."""

import sys

from rnn.cli.demo import main

if __name__ == "__main__":
    sys.exit(main())
