"""Exit codes (listed by `agio --help`) and the one place where failures become a line on
stderr and a code."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, NoReturn

import typer

from ._help import HelpGroup
from ._launch import silence_stdout

try:  # recent Typer vendors Click; older releases use the click package
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover
    from click import exceptions as click_errors  # type: ignore[no-redef]

EXIT_OK = 0
EXIT_FAILED = 1  # run failed, cancelled or paused; runtime error; illegal state change
EXIT_USAGE = 2  # bad arguments, invalid input
EXIT_NOT_FOUND = 3
EXIT_INTERRUPTED = 130

_EXIT_BY_KIND = {"not_found": EXIT_NOT_FOUND, "invalid": EXIT_USAGE}


class CliError(Exception):
    """A failure the CLI detects itself (e.g. conflicting options)."""

    is_error = True  # False: reported as a plain note, not as "error: …"

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def say(message: str) -> None:
    """A note for the person at the terminal: stderr, so stdout stays parseable."""
    print(f"agio: {message}", file=sys.stderr, flush=True)


def error(message: str) -> None:
    say(f"error: {message}")


def fail(message: str, exit_code: int = EXIT_USAGE) -> NoReturn:
    raise CliError(message, exit_code)


def _agio_error_exit_code(exc: BaseException) -> int | None:
    # agio_core is heavy to import: if it is not loaded, the error cannot be one of its own.
    errors = sys.modules.get("agio_core.errors")
    if errors is None or not isinstance(exc, errors.AgioError):
        return None
    return _EXIT_BY_KIND.get(exc.kind, EXIT_FAILED)


def exit_code_of(exc: BaseException) -> int:
    """Report `exc` on stderr in one line and say which exit code it stands for."""
    if isinstance(exc, CliError):
        (error if exc.is_error else say)(exc.message)
        return exc.exit_code
    if isinstance(exc, click_errors.NoArgsIsHelpError):
        exc.show()
        return exc.exit_code
    if isinstance(exc, click_errors.UsageError):
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        error(exc.format_message() + hint)
        return exc.exit_code
    if isinstance(exc, click_errors.ClickException):
        error(exc.format_message())
        return exc.exit_code
    if isinstance(exc, typer.Abort | KeyboardInterrupt):
        say("interrupted")
        return EXIT_INTERRUPTED
    if (code := _agio_error_exit_code(exc)) is not None:
        error(str(exc))
        return code
    if isinstance(exc, BrokenPipeError):
        silence_stdout()
        return EXIT_FAILED
    if isinstance(exc, OSError):
        error(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        return EXIT_FAILED
    error(f"{type(exc).__name__}: {exc} (AGIO_LOG_LEVEL=DEBUG shows the traceback)")
    return EXIT_FAILED


def _as_text(args: Any) -> list[str]:
    """The arguments as well-formed text: bytes of argv that are not UTF-8 (which Python
    keeps as lone surrogates, unstorable) become U+FFFD, as piped stdin does."""
    given = sys.argv[1:] if args is None else list(args)
    return [
        a.encode("utf-8", "surrogateescape").decode("utf-8", "replace") if isinstance(a, str) else a
        for a in given
    ]


class AgioGroup(HelpGroup):
    """The root command: every failure, from Typer or from agio, ends as one line and a code.

    Done here rather than around `app()` so that `CliRunner` sees the same codes as a shell.
    """

    def main(  # type: ignore[override]
        self, args: Any = None, prog_name: str | None = None, **extra: Any
    ) -> NoReturn:
        extra["standalone_mode"] = False
        for stream in (sys.stdout, sys.stderr):
            # A terminal or pipe that cannot show a character (LC_ALL=C): '?' instead of a crash.
            with contextlib.suppress(AttributeError, ValueError, OSError):
                stream.reconfigure(errors="replace")  # type: ignore[union-attr]
        try:
            outcome = super().main(args=_as_text(args), prog_name=prog_name, **extra)
        except Exception as exc:
            if os.environ.get("AGIO_LOG_LEVEL", "").upper() == "DEBUG":
                raise
            sys.exit(exit_code_of(exc))
        except KeyboardInterrupt as exc:
            sys.exit(exit_code_of(exc))
        # Without standalone mode Typer returns the code of a `typer.Exit` instead of exiting.
        sys.exit(outcome if isinstance(outcome, int) else EXIT_OK)
