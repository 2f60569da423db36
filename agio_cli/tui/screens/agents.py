"""Pick the agent to chat with."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from agio_core import Agent, AgioError

from ..format import clip, model_label

if TYPE_CHECKING:
    from ..app import AgioApp


def agent_option(agent: Agent) -> Option:
    label = Text.assemble((agent.id, "bold"), "  ", model_label(agent.model))
    if agent.description:
        label.append(f"\n  {clip(agent.description, 70)}", style="dim")
    return Option(label, id=agent.id)


class AgentPicker(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss_picker", "Close")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Choose an agent (Enter picks, Esc closes)", id="dialog-title")
            yield OptionList(id="agents")

    async def on_mount(self) -> None:
        options = self.query_one(OptionList)
        try:
            page = await cast("AgioApp", self.app).agio.list_agents(limit=100)
        except AgioError as exc:
            self.notify(exc.message, title="Agents", severity="error")
            return
        options.set_options(agent_option(agent) for agent in page.items)
        ids = [agent.id for agent in page.items]
        options.highlighted = ids.index(self.current) if self.current in ids else 0
        options.focus()

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        self.dismiss(message.option.id)

    def action_dismiss_picker(self) -> None:
        self.dismiss(None)
