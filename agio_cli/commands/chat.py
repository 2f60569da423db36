"""`agio chat`: one message (words and/or piped stdin), or an interactive loop at a terminal."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from .._approval import follow_and_ask
from .._connection import call, server_of
from .._errors import fail
from .._options import PairOptionCommand, option_pairs
from .._stream import choose_style, exit_unless_completed

if TYPE_CHECKING:
    from agio_core import AgioFacade, Run
    from agio_core.attachments import Attachment

EXAMPLES = """
\b
Examples:
  agio chat what is 12 times 7
  agio chat -a coder -m openai/gpt-4o-mini -o temperature 0.2 "review this" -f app.py
  git diff | agio chat summarise these changes
  agio chat -c and now in French
  agio chat                     (interactive: /help lists the commands)
"""

WORDS = typer.Argument(
    None,
    metavar="MESSAGE",
    show_default=False,
    help="What to say (the words are joined). Piped stdin is added after it; "
    "nothing at a terminal starts an interactive chat.",
)
OPTIONS = typer.Option(
    [],
    "--option",
    "-o",
    metavar="KEY VALUE",
    help="A model parameter for this run only, e.g. -o temperature 0.2 (repeatable).",
)
FILES = typer.Option(
    [],
    "--file",
    "-f",
    metavar="FILE|URL|-",
    help="Attach a text file, an image, a URL, or stdin (-) (repeatable).",
)


def read_piped_stdin() -> str:
    """Piped text, whatever its encoding: bytes that are not UTF-8 become U+FFFD."""
    stdin = sys.stdin
    if stdin is None or stdin.closed or stdin.isatty():
        return ""
    raw = getattr(stdin, "buffer", None)  # a test's stand-in stdin may be text only
    text = raw.read().decode("utf-8", errors="replace") if raw is not None else stdin.read()
    return text.rstrip()


def read_piped_bytes() -> bytes:
    stdin = sys.stdin
    if stdin is None or stdin.closed or stdin.isatty():
        fail("-f -: nothing is piped in on stdin")
    return stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()


def compose_message(argument: str | None, piped: str) -> str:
    """The message to send: the argument, then the piped text after a blank line."""
    return "\n\n".join(part for part in (argument or "", piped) if part.strip())


@dataclass
class ChatSettings:
    """What `chat` was asked for, beyond the message: kept across turns of the REPL."""

    agent: str | None = None  # None: the session's own agent, else `assistant`
    model: str | None = None
    system_prompt: str | None = None
    model_params: dict[str, Any] = field(default_factory=dict)
    workspace: str | None = None  # an absolute folder (embedded only)

    def options(self) -> dict[str, Any]:
        """The run options that `start_chat` and a restore's modifications share."""
        return {
            "model": self.model,
            "system_prompt": self.system_prompt,
            "model_params": self.model_params or None,
        }


def load_attachments(sources: list[str], stdin: bytes | None = None) -> list[Attachment]:
    from agio_core.attachments import load_attachment

    return [load_attachment(source, stdin=stdin) for source in sources]


async def pick_session(agio: AgioFacade, session: str | None, continue_latest: bool) -> str | None:
    if continue_latest:
        return await agio.latest_session()
    return session


async def agent_of_session(agio: AgioFacade, session_id: str | None, agent: str | None) -> str:
    """`-a` if given, else the agent of the session's latest run, else the default agent."""
    if agent is not None:
        return agent
    if session_id is not None:
        page = await agio.list_runs(session_id=session_id, limit=1)
        if page.items:
            return page.items[0].agent_id
    return "assistant"


async def start_turn(
    agio: AgioFacade,
    settings: ChatSettings,
    text: str,
    session_id: str | None,
    attachments: list[Attachment],
) -> Any:
    agent = await agent_of_session(agio, session_id, settings.agent)
    return await agio.start_chat(
        agent,
        text,
        session_id=session_id,
        attachments=attachments,
        workspace=settings.workspace,
        **settings.options(),
    )


def register(app: typer.Typer) -> None:
    @app.command(cls=PairOptionCommand, epilog=EXAMPLES)
    def chat(
        ctx: typer.Context,
        words: list[str] | None = WORDS,
        agent: str | None = typer.Option(
            None,
            "--agent",
            "-a",
            metavar="AGENT",
            help="Agent to talk to (default: the session's agent, else assistant).",
        ),
        model: str | None = typer.Option(
            None, "--model", "-m", metavar="MODEL", help="Use this model for this run only."
        ),
        system_prompt: str | None = typer.Option(
            None, "--system", metavar="TEXT", help="Use this system prompt for this run only."
        ),
        options: list[str] = OPTIONS,
        files: list[str] = FILES,
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
        settings = ChatSettings(
            agent=agent,
            model=model,
            system_prompt=system_prompt,
            model_params=option_pairs(options),
            workspace=str(Path(workspace).expanduser().absolute()) if workspace else None,
        )
        message = " ".join(words or [])
        stdin_is_file = "-" in files
        interactive = not message and sys.stdin is not None and sys.stdin.isatty()
        if interactive and not stdin_is_file:
            if style in {"json", "events"}:
                fail("--json and --events need a message (as an argument or on stdin)")
            from .._repl import interactive_chat

            attached = load_attachments(files)
            interactive_chat(
                ctx, settings, session, continue_latest, style, attached, stream=not no_stream
            )
            return
        if stdin_is_file:
            attached = load_attachments(files, read_piped_bytes())
            text = message
        else:
            attached = load_attachments(files)
            text = compose_message(message, read_piped_stdin())
        if not text and not attached:
            fail("nothing to send: give a message, or pipe one in on stdin")

        async def answer(agio: AgioFacade) -> Run:
            session_id = await pick_session(agio, session, continue_latest)
            handle = await start_turn(agio, settings, text, session_id, attached)
            return await follow_and_ask(agio, handle, style, stream=not no_stream)

        exit_unless_completed(call(ctx, answer))
