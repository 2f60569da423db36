"""The approval dialog: a run waits for a person to allow or deny its tool calls (SPEC §4).

The run may have been started anywhere (another terminal, the server): its pending calls are
read from the run record, one dialog page per call. A decision is stored at once; the last one
lets the run go on, and the chat follows it again.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from agio_core import AgioError

if TYPE_CHECKING:
    from agio_core import PendingApproval

    from ..app import AgioApp


def pretty_arguments(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments or "{}"), indent=2, ensure_ascii=False)
    except (json.JSONDecodeError, TypeError):
        return arguments  # shown as the model wrote it


class ApprovalScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("ctrl+o", "decide('approve', False)", "Allow once", priority=True),
        Binding("ctrl+l", "decide('approve', True)", "Always allow", priority=True),
        Binding("ctrl+d", "decide('deny', False)", "Deny", priority=True),
        Binding("escape", "later", "Decide later"),
    ]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.call: PendingApproval | None = None
        self.waiting = 0

    @property
    def agio_app(self) -> AgioApp:
        return cast("AgioApp", self.app)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="approval"):
            yield Static("", id="dialog-title")
            with VerticalScroll(id="approval-arguments"):
                yield Static("", id="approval-call")
            yield Label("Reason (optional; a denied call's reason is what the model sees)")
            yield Input(id="approval-reason", placeholder="why")
            with Horizontal(id="dialog-buttons"):
                yield Button("Allow once ^o", variant="success", id="approve-once")
                yield Button("Always ^l", variant="primary", id="approve-always")
                yield Button("Deny ^d", variant="error", id="deny")

    async def on_mount(self) -> None:
        await self._next()

    async def _next(self) -> None:
        """Show the first undecided call, or close when nothing waits any more."""
        try:
            run = await self.agio_app.agio.get_run(self.run_id)
        except AgioError as exc:
            self.notify(exc.message, title="Approvals", severity="error")
            self.dismiss(None)
            return
        undecided = [p for p in run.pending_approvals if p.decision is None]
        if run.status != "awaiting_approval" or not undecided:
            self.notify(f"Run {self.run_id} is {run.status}: nothing waits for a decision.")
            self.agio_app.follower.follow_on(self.run_id)
            self.dismiss(None)
            return
        self.call, self.waiting = undecided[0], len(undecided)
        more = f" (1 of {self.waiting} waiting)" if self.waiting > 1 else ""
        self.query_one("#dialog-title", Static).update(
            f"Run {self.run_id} asks to call {self.call.name}{more} — allow it?"
        )
        self.query_one("#approval-call", Static).update(
            Syntax(pretty_arguments(self.call.arguments), "json", word_wrap=True)
        )
        self.query_one("#approval-reason", Input).focus()

    def on_button_pressed(self, message: Button.Pressed) -> None:
        decisions = {
            "approve-once": ("approve", False),
            "approve-always": ("approve", True),
            "deny": ("deny", False),
        }
        decision, remember = decisions[message.button.id or ""]
        self.run_worker(self.action_decide(decision, remember), exclusive=True)

    async def action_decide(self, decision: str, remember: bool) -> None:
        if self.call is None:
            return
        field = self.query_one("#approval-reason", Input)
        reason = field.value.strip() or None
        choice: dict[str, Any] = {
            "tool_call_id": self.call.tool_call_id,
            "decision": decision,
            "reason": reason,
        }
        try:
            await self.agio_app.agio.decide(self.run_id, [choice], remember=remember)
        except AgioError as exc:
            self.notify(exc.message, title="Not decided", severity="error")
        else:
            field.value = ""  # the next call gets its own reason
        await self._next()

    def action_later(self) -> None:
        self.notify(f"Run {self.run_id} keeps waiting; ctrl+a (chat) or a (runs) decides.")
        self.dismiss(None)
