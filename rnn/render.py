"""`python -m rnn.render` runs the command line in ``rnn.cli.render`` (kept here so that the old command works)."""

import sys

from rnn.cli.render import main

if __name__ == "__main__":
    sys.exit(main())
