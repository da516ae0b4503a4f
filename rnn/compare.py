"""`python -m rnn.compare` runs the command line in ``rnn.cli.compare`` (kept here so that the old command works)."""

import sys

from rnn.cli.compare import main

if __name__ == "__main__":
    sys.exit(main())
