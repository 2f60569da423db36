"""The session switcher (F4): every conversation, newest first — open, delete, or see its runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from agio_core import AgioError, Run

from ..format import clip, clock
from .confirm import Confirm

if TYPE_CHECKING:
    from ..app import AgioApp

RUNS_READ = 1000  # the newest runs; their sessions are listed


@dataclass
class Session:
    id: str
    runs: list[Run] = field(default_factory=list)  # newest first

    @property
    def title(self) -> str:
        return self.runs[-1].input  # what the conversation began with

    @property
    def last_active(self) -> datetime:
        return self.runs[0].created_at


def sessions_of(runs: list[Run]) -> list[Session]:
    """Runs (newest first) grouped by session, the most recently active session first."""
    found: dict[str, Session] = {}
    for run in runs:
        found.setdefault(run.session_id, Session(run.session_id)).runs.append(run)
    return list(found.values())


def session_option(session: Session, current: str | None) -> Option:
    runs = len(session.runs)
    label = Text.assemble(
        ("▶ " if session.id == current else "  ", "bold cyan"),
        (clip(session.title, 44), "bold"),
        (f"  {runs} run{'s' if runs != 1 else ''}", "dim"),
        (f"  {session.runs[0].agent_id}  {clock(session.last_active)}", "dim"),
        no_wrap=True,
        overflow="ellipsis",
    )
    return Option(label, id=session.id)


class SessionDeleted(Message):
    def __init__(self, session_id: str) -> None:
        super().__init__()
        self.session_id = session_id


class SessionPicker(ModalScreen[tuple[str, str] | None]):
    """Dismissed with ("open", id), ("runs", id), or None; posts `SessionDeleted` up."""

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("enter", "open", "Open", show=False),
        Binding("d,delete", "delete", "Delete…"),
        Binding("r", "runs", "Runs of session"),
    ]

    def __init__(self, current: str | None) -> None:
        super().__init__()
        self.current = current
        self.sessions: dict[str, Session] = {}

    @property
    def agio_app(self) -> AgioApp:
        return cast("AgioApp", self.app)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Sessions — Enter opens, d deletes, r shows its runs", id="dialog-title")
            yield OptionList(id="sessions")

    async def on_mount(self) -> None:
        await self.reload()

    @property
    def options(self) -> OptionList:
        return self.query_one("#sessions", OptionList)

    async def reload(self) -> None:
        try:
            page = await self.agio_app.agio.list_runs(limit=RUNS_READ)
        except AgioError as exc:
            self.notify(exc.message, title="Sessions", severity="error")
            return
        sessions = sessions_of(page.items)
        self.sessions = {s.id: s for s in sessions}
        self.options.set_options(session_option(s, self.current) for s in sessions)
        if not sessions:
            self.options.add_option(Option(Text("(no sessions yet)", style="dim"), disabled=True))
        ids = [s.id for s in sessions]
        self.options.highlighted = ids.index(self.current) if self.current in ids else 0
        self.options.focus()

    @property
    def selected(self) -> Session | None:
        option = self.options.highlighted_option
        return self.sessions.get(option.id or "") if option is not None else None

    def on_option_list_option_selected(self, _: OptionList.OptionSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        if (session := self.selected) is not None:
            self.dismiss(("open", session.id))

    def action_runs(self) -> None:
        if (session := self.selected) is not None:
            self.dismiss(("runs", session.id))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_delete(self) -> None:
        session = self.selected
        if session is None:
            return
        busy = [r.id for r in session.runs if r.status in ("running", "awaiting_approval")]
        if busy:
            self.notify(
                f"Run {busy[0]} of this session is still going: cancel it first (F3).",
                title="Cannot delete",
                severity="warning",
            )
            return
        question = (
            f"Delete session {session.id} — {len(session.runs)} run(s), "
            f"begun with “{clip(session.title, 40)}”? This cannot be undone."
        )

        async def answered(yes: bool | None) -> None:
            if yes:
                await self._delete(session)

        self.app.push_screen(Confirm(question, yes="Delete", no="Keep"), answered)

    async def _delete(self, session: Session) -> None:
        agio = self.agio_app.agio
        try:
            for run in session.runs:  # newest first: a later run may build on an earlier one
                await agio.delete_run(run.id)
        except AgioError as exc:
            self.notify(exc.message, title="Cannot delete", severity="error")
        else:
            self.notify(f"Deleted session {session.id}.", title="Sessions")
            self.post_message(SessionDeleted(session.id))
        if session.id == self.current:
            self.current = None
        await self.reload()
