"""A checkpoint's messages, as the model saw them: role on the left, content on the right."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from ..format import compact_json

ROLE_STYLES = {
    "system": "magenta",
    "user": "bold cyan",
    "assistant": "bold green",
    "tool": "yellow",
}


def message_row(message: dict[str, Any]) -> Table:
    role = str(message.get("role", "?"))
    body = Text()
    content = message.get("content")
    if isinstance(content, str) and content:
        body.append(content)
    for call in message.get("tool_calls") or []:
        function = call.get("function", {})
        arguments = compact_json(function.get("arguments", ""))
        body.append(f"→ {function.get('name')}({arguments})", style="italic")
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(width=9, justify="right")
    grid.add_column(ratio=1)
    grid.add_row(Text(role, style=ROLE_STYLES.get(role, "")), body)
    return grid


class MessageList(VerticalScroll):
    async def show(self, messages: list[dict[str, Any]]) -> None:
        await self.remove_children()
        await self.mount_all(Static(message_row(m), classes="message") for m in messages)
        if not messages:
            await self.mount(Static(Text("(no messages)", style="dim")))
