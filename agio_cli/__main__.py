"""`python -m agio_cli`: the same as the `agio` command."""

import sys

from agio_cli._launch import run

if __name__ == "__main__":
    sys.exit(run())
