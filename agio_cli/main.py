"""The `agio` command: a root with `--server` and `--version`, and one module per command group.

Startup cost matters (`agio --help` < 150 ms): nothing heavy is imported at module level here or
in the command modules; `agio_core`, rich and the providers load inside the commands that use
them. Plain Click help (`rich_markup_mode=None`) keeps Typer from importing rich for `--help`.
"""

from __future__ import annotations

import typer

from ._errors import AgioGroup
from ._help import AgioTyper
from ._launch import version
from .commands import agents, chat, checkpoints, config, models, runs, serve, store, tools, tui

app = AgioTyper(
    name="agio",
    cls=AgioGroup,
    help="Chat with LLM agents; every run is checkpointed, and can be paused, resumed or forked.",
    epilog="Exit codes: 0 ok, 1 run failed/cancelled/paused or error, 2 usage, 3 not found, "
    "130 interrupted.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        print(f"agio {version()}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    server: str | None = typer.Option(
        None,
        "--server",
        envvar="AGIO_SERVER_URL",
        metavar="URL",
        help="Use the agio server at URL instead of the embedded core.",
    ),
    show_version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    ctx.ensure_object(dict)["server"] = server


chat.register(app)
models.register(app)
agents.register(app)
runs.register(app)
checkpoints.register(app)
config.register(app)
tui.register(app)
serve.register(app)
tools.register(app)
store.register(app)


def run() -> None:
    """The `agio` console script."""
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    app(prog_name="agio")


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (`kill`, a supervisor) ends agio the way Ctrl-C does, so that the run is
    recorded and the MCP servers it started are stopped, not orphaned."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # e.g. a background job
        raise KeyboardInterrupt
    signal.raise_signal(signal.SIGINT)  # asyncio's handler: cancels the main task cleanly
