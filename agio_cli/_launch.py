"""The `agio` console script: `agio --help` from a cache, `agio --version` from agio_core's
version file, everything else through Typer.

Importing Typer and the command modules is most of what `agio --help` costs (about 60 ms on
top of Python's own start). The root help only changes when agio's CLI code does, so it is
kept, once rendered by Typer itself, in the user's cache folder, under a key made of the
version, the terminal width the help was wrapped to and the size and time of every module
that defines a command: any change to them renders it again. Anything else (another
argument, no writable cache) goes through Typer as always.

The cached path imports nothing Python's own start has not imported already: `os.path`, not
`pathlib`, whose import (with `re`, `fnmatch` and `urllib.parse`) costs more than all the rest
of this path (bench/cli_startup.py).
"""

import os
import sys

HELP_ARGS = (["--help"], ["-h"])
_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_VERSION_FILE = os.path.join(os.path.dirname(_PACKAGE), "agio_core", "_version.py")


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
    parts = []
    for folder in (_PACKAGE, os.path.join(_PACKAGE, "commands")):
        for entry in os.scandir(folder):
            if entry.name.endswith(".py"):
                stat = entry.stat()
                parts.append(f"{entry.name}:{stat.st_size}:{stat.st_mtime_ns}")
    parts.sort()
    terminal = f"width={_width()} tty={sys.stdout.isatty()}"
    return " ".join([_version_text(), terminal, *parts])


def help_cache_path() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(_home(), ".cache")
    return os.path.join(base, "agio", "help.txt")


def _home() -> str:
    home = os.path.expanduser("~")
    if home == "~":  # as Path.home(): no HOME and no password entry
        raise RuntimeError("no home folder")
    return home


def _version_source() -> str | None:
    try:
        with open(_VERSION_FILE, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def _version_text() -> str:
    text = _version_source()
    return "version=?" if text is None else "version=" + "".join(text.split())


def version() -> str:
    """agio's version, read without importing `agio_core` (whose import costs ~150 ms)."""
    if "agio_core" in sys.modules:
        return str(sys.modules["agio_core"].__version__)
    for line in (_version_source() or "").splitlines():
        name, equals, value = line.partition("=")
        if equals and name.strip() == "__version__":
            return value.strip().strip("\"'")
    return "unknown"


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
        with open(path, encoding="utf-8") as f:
            kept_key, _, text = f.read().partition("\n")
        if kept_key == key:
            return text
    except (OSError, UnicodeDecodeError):
        pass
    text = render_help()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(f"{key}\n{text}")
        os.replace(temporary, path)  # a reader sees the old file or the whole new one
    except OSError:
        pass  # not kept: printed all the same
    return text


def silence_stdout() -> None:
    """The reader went away (`agio … | head`): no complaint when Python flushes at exit."""
    try:  # noqa: SIM105 (contextlib is not imported yet on the fast paths)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _printed(text: str) -> int:
    """Print `text`; the exit code. A closed pipe or a full disk ends as Typer's path ends
    them (agio_cli._errors): quietly, or in one line on stderr; never a traceback."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        if not isinstance(exc, BrokenPipeError):
            print(f"agio: error: {exc.strerror or exc}", file=sys.stderr, flush=True)
        silence_stdout()  # what could not be written is not tried again at exit
        return 1
    return 0


def run() -> int:
    """The exit code (the console script exits with it); Typer exits by itself."""
    if sys.argv[1:] in HELP_ARGS and (text := _cached_help()) is not None:
        return _printed(text)
    if sys.argv[1:] == ["--version"]:  # as the root's eager `--version` option prints it
        return _printed(f"agio {version()}\n")
    from .main import run as run_typer

    run_typer()
    return 0
