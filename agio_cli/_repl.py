"""Interactive `agio chat`: a prompt_toolkit line editor with history, bracketed paste (a
pasted multi-line text is one message) and slash commands. The banner, the prompt and notes
go to stderr, so stdout holds the answers alone.

prompt_toolkit, not `input()`: readline splits a paste at each newline into separate lines,
and it is what the Python chat REPLs people use (llm's `chat`, ptpython, IPython) build on.
It is imported only here, when a person chats interactively.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer

from . import _output as out
from ._approval import follow_and_ask
from ._connection import Connection, server_of
from ._errors import CliError, exit_code_of, say
from ._render import Style, model_label
from ._stream import Interrupted, exit_unless_completed
from .commands.chat import (
    ChatSettings,
    agent_of_session,
    load_attachments,
    pick_session,
    start_turn,
)

if TYPE_CHECKING:
    from agio_core import AgioFacade, Run
    from agio_core.attachments import Attachment

HELP = """\
/help              this list
/exit              leave (also /quit, Ctrl-D)
/new               start a new conversation
/agent NAME        talk to another agent (starts a new conversation)
/model MODEL       use another model from now on (e.g. offline/demo, openai/gpt-4o-mini)
/system TEXT       use another system prompt from now on (/system alone: the agent's own)
/file PATH|URL     attach a file, image or URL to the next message
/retry             answer the last message again
/edit [TEXT]       write the next message in $EDITOR
Ctrl-C cancels the answer being written; a pasted multi-line text is one message."""


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _line_reader() -> Callable[[], str]:
    """A function that reads one message; raises EOFError at the end, KeyboardInterrupt on
    Ctrl-C. prompt_toolkit at a terminal, else a plain prompt on stderr."""
    if not (sys.stderr.isatty() and sys.stdin.isatty()) or os.environ.get("TERM") == "dumb":

        def plain() -> str:
            sys.stderr.write("> ")
            sys.stderr.flush()
            line = sys.stdin.readline()
            if not line:
                raise EOFError
            return line.rstrip("\n")

        return plain
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import InMemoryHistory
    from prompt_toolkit.output import create_output

    session: PromptSession[str] = PromptSession(
        history=InMemoryHistory(), output=create_output(stdout=sys.stderr)
    )
    # A thread of its own: its event loop must not meet the connection's.
    return lambda: session.prompt("> ", in_thread=True)


def edit_in_editor(initial: str = "") -> str:
    """What the user writes in $VISUAL / $EDITOR (vi if neither is set)."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w+", suffix=".md", delete=False, encoding="utf-8") as f:
        f.write(initial)
        path = f.name
    try:
        completed = subprocess.run([*shlex.split(editor), path], check=False)
        if completed.returncode != 0:
            raise CliError(f"{editor} exited with {completed.returncode}; nothing sent", 1)
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        raise CliError(f"cannot start the editor {editor!r}: set $EDITOR", 1) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


class Repl:
    def __init__(
        self,
        connection: Connection,
        settings: ChatSettings,
        session_id: str | None,
        style: Style,
        attachments: list[Attachment],
        *,
        stream: bool,
    ) -> None:
        self.connection = connection
        self.settings = settings
        self.session_id = session_id
        self.style = style
        self.pending = attachments  # attached to the next message
        self.stream = stream
        self.last_run: Run | None = None
        self.last_message: str | None = None

    def banner(self) -> None:
        async def describe(agio: AgioFacade) -> tuple[str, str]:
            agent_id = await agent_of_session(agio, self.session_id, self.settings.agent)
            agent = await agio.get_agent(agent_id)
            return agent_id, self.settings.model or agent.model

        agent_id, model = self.connection.run(describe)
        label = model_label(model)
        _note(f"chatting with {agent_id} · {label} — /help for commands, /exit to quit")

    # one turn

    def send(self, text: str) -> None:
        attachments, self.pending = self.pending, []
        self.last_message = text

        async def turn(agio: AgioFacade) -> Run:
            handle = await start_turn(agio, self.settings, text, self.session_id, attachments)
            return await follow_and_ask(agio, handle, self.style, stream=self.stream)

        self._follow(turn)

    def retry(self) -> None:
        if self.last_run is None or self.last_message is None:
            _note("nothing to retry yet")
            return
        run = self.last_run

        async def again(agio: AgioFacade) -> Run:
            first = (await agio.list_checkpoints(run.id, limit=1)).items[0]
            changes = {k: v for k, v in self.settings.options().items() if v is not None}
            handle = await agio.restore_checkpoint(
                first.id, create_new_run=False, modifications=changes or None
            )
            return await follow_and_ask(agio, handle, self.style, stream=self.stream)

        self._follow(again)

    def _follow(self, work: Callable[[AgioFacade], Any]) -> None:
        try:
            run = self.connection.run(work)
        except (Interrupted, KeyboardInterrupt):
            say("cancelled")
            return
        except Exception as exc:
            exit_code_of(exc)  # reports it; the conversation goes on
            return
        self.last_run = run
        self.session_id = run.session_id
        if run.status != "completed":
            with contextlib.suppress(typer.Exit):
                exit_unless_completed(run)  # says why on stderr; the loop goes on

    # commands

    def command(self, line: str) -> bool:
        """Handle a /command; False when the chat should end."""
        name, _, rest = line.partition(" ")
        rest = rest.strip()
        match name:
            case "/exit" | "/quit" | "/q":
                return False
            case "/help" | "/?":
                _note(HELP)
            case "/new":
                self.session_id, self.last_run, self.last_message = None, None, None
                _note("new conversation")
            case "/agent" if rest:
                self.connection.run(lambda agio: agio.get_agent(rest))  # it must exist
                self.settings.agent = rest
                self.session_id, self.last_run = None, None
                _note(f"now chatting with {rest} (new conversation)")
            case "/model" if rest:
                from agio_core.providers import split_model

                split_model(rest)
                self.settings.model = rest
                _note(f"model: {model_label(rest)}")
            case "/system":
                self.settings.system_prompt = rest or None
                _note("system prompt: " + (rest or "the agent's own"))
            case "/file" if rest:
                self.pending += load_attachments([rest])
                _note(f"attached {self.pending[-1].name} to the next message")
            case "/retry":
                self.retry()
            case "/edit":
                text = edit_in_editor(rest)
                if text:
                    self.send(text)
                else:
                    _note("empty message; nothing sent")
            case _:
                _note(f"unknown command or missing argument: {line} (/help lists them)")
        return True

    def loop(self, read: Callable[[], str]) -> None:
        while True:
            try:
                line = read().strip()
            except EOFError:
                return
            except KeyboardInterrupt:
                continue
            if not line:
                continue
            if line.startswith("/") and not line.startswith("//"):
                try:
                    if not self.command(line):
                        return
                except Exception as exc:
                    exit_code_of(exc)
                continue
            self.send(line[1:] if line.startswith("//") else line)


def interactive_chat(
    ctx: typer.Context,
    settings: ChatSettings,
    session: str | None,
    continue_latest: bool,
    style: Style,
    attachments: list[Attachment],
    *,
    stream: bool,
) -> None:
    """Turn after turn in one session, until /exit or Ctrl-D. Ctrl-C cancels the current turn."""
    with Connection(server_of(ctx)) as connection:
        session_id = connection.run(lambda agio: pick_session(agio, session, continue_latest))
        repl = Repl(connection, settings, session_id, style, attachments, stream=stream)
        repl.banner()
        repl.loop(_line_reader())
    if out.fancy():
        _note("")
