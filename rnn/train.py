"""`python -m rnn.train` runs the command line in ``rnn.cli.train`` (kept here so that the old command works)."""

import sys

from rnn.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
