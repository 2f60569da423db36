"""`agio chat`: one message (argument and/or piped stdin), or an interactive loop at a terminal."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from .. import _output as out
from .._connection import Connection, call, server_of
from .._errors import exit_code_of, fail, say
from .._render import Style, model_label
from .._stream import Interrupted, choose_style, exit_unless_completed, show_run

if TYPE_CHECKING:
    from agio_core import Agio, Run

EXIT_WORDS = {"/exit", "/quit", "/q"}


def read_piped_stdin() -> str:
    stdin = sys.stdin
    if stdin is None or stdin.closed or stdin.isatty():
        return ""
    return stdin.read().rstrip()


def compose_message(argument: str | None, piped: str) -> str:
    """The message to send: the argument, then the piped text after a blank line."""
    return "\n\n".join(part for part in (argument or "", piped) if part.strip())


async def pick_session(agio: Agio, session: str | None, continue_latest: bool) -> str | None:
    if continue_latest:
        return await agio.latest_session()
    return session


def register(app: typer.Typer) -> None:
    @app.command()
    def chat(
        ctx: typer.Context,
        message: str | None = typer.Argument(
            None,
            metavar="MESSAGE",
            help="What to say. Piped stdin is appended; none at a terminal: interactive.",
        ),
        agent: str = typer.Option(
            "assistant", "--agent", "-a", metavar="AGENT", help="Agent to talk to."
        ),
        session: str | None = typer.Option(
            None, "--session", "-s", metavar="SESSION", help="Continue this session."
        ),
        continue_latest: bool = typer.Option(
            False, "--continue", "-c", help="Continue the latest session."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the run record as JSON."),
        events: bool = typer.Option(False, "--events", help="Print events as NDJSON."),
        no_stream: bool = typer.Option(
            False, "--no-stream", help="Print the answer once complete."
        ),
        workspace: str | None = typer.Option(
            None,
            "--workspace",
            metavar="DIR",
            help="Folder the file and shell tools work in, for this run (embedded only).",
        ),
    ) -> None:
        """Chat with an agent: stream its answer, or talk turn by turn at a terminal."""
        style = choose_style(as_json=as_json, events=events)
        if session is not None and continue_latest:
            fail("--session and --continue cannot be combined")
        if workspace is not None and server_of(ctx):
            fail("--workspace works embedded only, not with --server")
        folder = str(Path(workspace).expanduser().absolute()) if workspace else None
        interactive = not message and sys.stdin is not None and sys.stdin.isatty()
        if interactive:
            if style in {"json", "events"}:
                fail("--json and --events need a message (as an argument or on stdin)")
            _interactive(
                ctx, agent, session, continue_latest, style, stream=not no_stream, workspace=folder
            )
            return
        text = compose_message(message, read_piped_stdin())
        if not text:
            fail("nothing to send: give a message, or pipe one in on stdin")

        async def answer(agio: Agio) -> Run:
            session_id = await pick_session(agio, session, continue_latest)
            handle = await agio.start_chat(agent, text, session_id=session_id, workspace=folder)
            return await show_run(agio, handle, style, stream=not no_stream)

        exit_unless_completed(call(ctx, answer))


def _interactive(
    ctx: typer.Context,
    agent_id: str,
    session: str | None,
    continue_latest: bool,
    style: Style,
    *,
    stream: bool,
    workspace: str | None = None,
) -> None:
    """Turn after turn in one session, until /exit or Ctrl-D. Ctrl-C cancels the current turn."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history for input())
    with Connection(server_of(ctx)) as connection:

        async def start(agio: Agio) -> tuple[str, str | None]:
            agent = await agio.get_agent(agent_id)
            return agent.model, await pick_session(agio, session, continue_latest)

        model, session_id = connection.run(start)
        intro = f"chatting with {agent_id} · {model_label(model)} — /exit or Ctrl-D to quit"
        if out.fancy():
            out.console().print(intro, style="dim")
        else:
            out.write(intro + "\n")
        while True:
            try:
                line = input("> ").strip()
            except EOFError:
                out.write("\n")
                return
            except KeyboardInterrupt:
                out.write("\n")
                continue
            if not line:
                continue
            if line in EXIT_WORDS:
                return

            async def turn(agio: Agio, text: str = line, session: str | None = session_id) -> Run:
                handle = await agio.start_chat(
                    agent_id, text, session_id=session, workspace=workspace
                )
                return await show_run(agio, handle, style, stream=stream)

            try:
                run = connection.run(turn)
            except (Interrupted, KeyboardInterrupt):
                say("cancelled")
                continue
            except Exception as exc:
                exit_code_of(exc)  # reports it; the conversation goes on
                continue
            session_id = run.session_id
            if run.status != "completed":
                with contextlib.suppress(typer.Exit):
                    exit_unless_completed(run)  # says why on stderr; the loop goes on
