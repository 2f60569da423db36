"""`python -m agio_cli`: the same as the `agio` command."""

from agio_cli.main import run

if __name__ == "__main__":
    run()
