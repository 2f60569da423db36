"""The dialog that forks from (or rewinds to) a checkpoint, with an edited query or prompt."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label, Static, TextArea

from agio_core import Checkpoint

from ..format import checkpoint_label
from ..widgets.prompt import Prompt


@dataclass(frozen=True)
class ForkRequest:
    checkpoint_id: str
    in_place: bool
    modifications: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        changed = {"modified_query": "new query", "system_prompt": "new system prompt"}
        what = ", ".join(changed[key] for key in self.modifications if key in changed)
        verb = "rewound to" if self.in_place else "forked from"
        return f"{verb} {checkpoint_label(self.checkpoint_id)}" + (f" · {what}" if what else "")


def last_user_message(checkpoint: Checkpoint) -> str:
    for message in reversed(checkpoint.messages):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


class ForkModal(ModalScreen[ForkRequest | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Go", priority=True),
    ]

    def __init__(
        self, checkpoint: Checkpoint, *, in_place: bool = False, title: str | None = None
    ) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.title_text = title
        self.in_place = in_place
        self.query_text = last_user_message(checkpoint)
        self.system_prompt = checkpoint.agent.system_prompt

    def compose(self) -> ComposeResult:
        label = checkpoint_label(self.checkpoint.id)
        with Vertical(id="dialog"):
            where = (
                f"checkpoint {label} (step {self.checkpoint.step}, "
                f"{self.checkpoint.message_count} messages)"
            )
            title = (
                f"{self.title_text}: from {where}" if self.title_text else f"Continue from {where}"
            )
            yield Static(title, id="dialog-title")
            yield Label("Query — replaces the last user message (Enter: go, ctrl+j: new line)")
            yield Prompt(self.query_text, id="fork-query")
            yield Label("System prompt")
            yield TextArea(self.system_prompt, id="fork-system", soft_wrap=True)
            yield Checkbox(
                "Rewind this run in place (instead of forking a new run)",
                self.in_place,
                id="fork-in-place",
            )
            with Horizontal(id="dialog-buttons"):
                yield Button(self._verb(), variant="primary", id="fork-submit")
                yield Button("Cancel", id="fork-cancel")

    def on_mount(self) -> None:
        query = self.query_one("#fork-query", Prompt)
        query.move_cursor(query.document.end)
        query.focus()

    def _verb(self) -> str:
        return "Rewind" if self.in_place else "Fork"

    def on_checkbox_changed(self, message: Checkbox.Changed) -> None:
        self.in_place = message.value
        self.query_one("#fork-submit", Button).label = self._verb()

    def on_button_pressed(self, message: Button.Pressed) -> None:
        if message.button.id == "fork-submit":
            self.action_submit()
        else:
            self.action_cancel()

    def on_prompt_submitted(self, message: Prompt.Submitted) -> None:
        message.stop()
        self.action_submit()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        self.dismiss(self.request())

    def request(self) -> ForkRequest:
        """Only what the user changed: an unchanged query must not cut the history short."""
        modifications: dict[str, Any] = {}
        query = self.query_one("#fork-query", Prompt).text.strip()
        if query and query != self.query_text:
            modifications["modified_query"] = query
        system = self.query_one("#fork-system", TextArea).text.strip()
        if system and system != self.system_prompt:
            modifications["system_prompt"] = system
        return ForkRequest(self.checkpoint.id, self.in_place, modifications)
