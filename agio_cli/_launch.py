"""The `agio` console script: `agio --help` from a cache, everything else through Typer.

Importing Typer and the command modules is most of what `agio --help` costs (about 60 ms on
top of Python's own start). The root help only changes when agio's CLI code does, so it is
kept, once rendered by Typer itself, in the user's cache folder, under a key made of the
version, the terminal width the help was wrapped to and the size and time of every module
that defines a command: any change to them renders it again. Anything else (another
argument, no writable cache) goes through Typer as always.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HELP_ARGS = (["--help"], ["-h"])
_PACKAGE = Path(__file__).parent


def _width() -> int:
    """The columns Click wraps help to (as `shutil.get_terminal_size`, without importing it)."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


def help_cache_key() -> str:
    """What the root help depends on: this version, code and terminal (width, and whether
    it is one: a renderer may style only for terminals)."""
    sources = sorted([*_PACKAGE.glob("*.py"), *(_PACKAGE / "commands").glob("*.py")])
    parts = [f"{s.name}:{s.stat().st_size}:{s.stat().st_mtime_ns}" for s in sources]
    terminal = f"width={_width()} tty={sys.stdout.isatty()}"
    return " ".join([_version_text(), terminal, *parts])


def help_cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agio" / "help.txt"


def _version_text() -> str:
    try:
        text = (_PACKAGE.parent / "agio_core" / "_version.py").read_text(encoding="utf-8")
    except OSError:
        return "version=?"
    return "version=" + "".join(text.split())


def render_help() -> str:
    """The root help exactly as `agio --help` prints it through Typer."""
    import typer

    from .main import app

    command = typer.main.get_command(app)
    with command.make_context("agio", [], resilient_parsing=True) as ctx:
        return command.get_help(ctx) + "\n"


def _cached_help() -> str | None:
    try:
        key, path = help_cache_key(), help_cache_path()
    except (OSError, RuntimeError):  # RuntimeError: no home folder to be found
        return None
    try:
        kept_key, _, text = path.read_text(encoding="utf-8").partition("\n")
        if kept_key == key:
            return text
    except (OSError, UnicodeDecodeError):
        pass
    text = render_help()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(f"{key}\n{text}", encoding="utf-8")
        os.replace(temporary, path)  # a reader sees the old file or the whole new one
    except OSError:
        pass  # not kept: printed all the same
    return text


def run() -> None:
    if sys.argv[1:] in HELP_ARGS and (text := _cached_help()) is not None:
        sys.stdout.write(text)
        return
    from .main import run as run_typer

    run_typer()
