"""The help screen: the keys, listed from the bindings themselves so the list cannot drift."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

INTRO = (
    "Chat with an agent and watch it work. Every run is checkpointed after each step: pause, "
    "resume or cancel it (also runs started elsewhere — pick them in the runs panel), then go "
    "back to any checkpoint and fork or rewind with an edited query or system prompt. A message "
    "sent while a run is busy is queued and sent when it ends. In the runs panel, Tab moves "
    "between runs, checkpoints, fork tree and messages. Quitting leaves a running run "
    "'interrupted'; it can be resumed later."
)

Section = tuple[str, Iterable[BindingType]]


def keys_text(sections: Iterable[Section], key_display: dict[str, str]) -> Text:
    text = Text()
    for title, bindings in sections:
        text.append(f"\n{title}\n", style="bold underline")
        for binding in Binding.make_bindings(bindings):
            if binding.description:
                key = key_display.get(binding.key, binding.key)
                text.append(f"  {key:>10}  ", style="bold cyan")
                text.append(f"{binding.description}\n")
    return text


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "close", "Close")]

    def __init__(self, sections: list[Section]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        display = {
            binding.key: self.app.get_key_display(binding)
            for _, bindings in self.sections
            for binding in Binding.make_bindings(bindings)
        }
        with Vertical(id="dialog", classes="help"):
            yield Static("agio tui — keys  (Esc closes)", id="dialog-title")
            with VerticalScroll():
                yield Static(Text(INTRO, style="italic"))
                yield Static(keys_text(self.sections, display), id="help-keys")

    def action_close(self) -> None:
        self.dismiss(None)
