"""Helpers for the TUI tests (imported by name: tests/ has no packages)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text
from textual.app import App
from textual.coordinate import Coordinate
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, OptionList, Static, TextArea, Tree
from textual.widgets.tree import TreeNode

from agio_core import Agio, Run

if TYPE_CHECKING:
    from agio_cli.tui.screens.chat import ChatScreen

SIZE = (110, 36)
# An agent whose calculator calls wait for approval.
ASKER = {
    "id": "asker",
    "model": "offline/demo",
    "model_params": {"delay_ms": 0},
    "tools": ["calculator"],
    "approval": {"calculator": "ask"},
}


async def wait_for(
    pilot: Pilot[Any], predicate: Callable[[], bool], *, timeout: float = 10.0, what: str = ""
) -> None:
    """Let the app run until `predicate()` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.05)


async def wait_for_status(agio: Agio, run_id: str, status: str, timeout: float = 10.0) -> Run:
    """Poll the store until the run has `status`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        run = await agio.get_run(run_id)
        if run.status == status:
            return run
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"run {run_id} is {run.status}, expected {status}")
        await asyncio.sleep(0.05)


async def started_app(pilot: Pilot[Any]) -> None:
    """Wait until the chat screen is up (the app pushes it once the backend is open)."""
    from agio_cli.tui.screens.chat import ChatScreen

    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ChatScreen), what="chat screen")
    await pilot.pause()


async def send(pilot: Pilot[Any], text: str) -> None:
    """Put a message in the chat's prompt and press Enter."""
    from agio_cli.tui.widgets.prompt import Prompt

    pilot.app.screen.query_one("#prompt", Prompt).text = text
    await pilot.press("enter")


async def slow_agent(agio: Agio, agent_id: str = "slow", **extra: Any) -> None:
    spec: dict[str, Any] = {
        "id": agent_id,
        "name": agent_id.title(),
        "model": "offline/demo",
        "model_params": {"delay_ms": 25},
        "system_prompt": "You are slow on purpose.",
        "tools": [],
    }
    await agio.create_agent({**spec, **extra})


@asynccontextmanager
async def chatting(
    agio: Agio, message: str, *, agent: str = "slow", **spec: Any
) -> AsyncIterator[tuple[Pilot[Any], ChatScreen]]:
    """The app chatting with `slow_agent(agio, agent, **spec)`, `message` just sent."""
    from agio_cli.tui.app import AgioApp

    await slow_agent(agio, agent, **spec)
    app = AgioApp(backend=agio, agent=agent)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        await send(pilot, message)
        yield pilot, app.chat


@asynccontextmanager
async def at_tool_call(agio: Agio, clock: str) -> AsyncIterator[tuple[Pilot[Any], ChatScreen]]:
    """`chatting` with an agent whose `current_time` is `clock`, asked the time: once the
    tool call shows."""
    from agio_cli.tui.widgets.conversation import ToolCallView

    async with chatting(agio, "What time is it?", agent="clock", tools=[clock]) as (pilot, chat):
        await wait_for(pilot, lambda: bool(chat.query(ToolCallView)), what="the tool call")
        yield pilot, chat


VOLATILE = [
    (re.compile(r"\brun_[0-9a-f]{16}\b"), "run_0123456789abcdef"),
    (re.compile(r"\bck_[0-9a-f]{16}_"), "ck_0123456789abcdef_"),
    (re.compile(r"\bsess_[0-9a-f]{16}\b"), "sess_0123456789abcdef"),
    (re.compile(r"\b\d\d:\d\d:\d\d\b"), "12:34:56"),
    (re.compile(r"\(\d+ ms\)"), "(1 ms)"),
]


def _masked(text: str) -> str:
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def _masked_visual(visual: object) -> object:
    if isinstance(visual, Text):
        masked = visual.copy()
        for pattern, replacement in VOLATILE:
            for match in reversed(list(pattern.finditer(masked.plain))):
                start, end = match.span()
                style = masked.get_style_at_offset(Console(), start)
                masked = masked[:start] + Text(replacement, style=style) + masked[end:]
        return masked
    return _masked(visual) if isinstance(visual, str) else visual


def mask_volatile(app: App[Any]) -> None:
    """Replace ids, clock times and durations on screen with fixed text, for snapshots."""
    from agio_cli.tui.widgets.status import StatusBar

    app.clear_notifications()
    widgets = [w for screen in app.screen_stack for w in screen.query("*")]
    for widget in widgets:
        if isinstance(widget, Input | TextArea):
            widget.cursor_blink = False  # the cursor shows, whatever the moment
        elif isinstance(widget, StatusBar):
            widget.elapsed_ms = 1234 if widget.elapsed_ms is not None else None
        elif isinstance(widget, Static):
            widget.update(_masked_visual(widget.content))  # type: ignore[arg-type]
        elif isinstance(widget, DataTable):
            for row in range(widget.row_count):
                for column in range(len(widget.columns)):
                    cell = Coordinate(row, column)
                    widget.update_cell_at(cell, _masked_visual(widget.get_cell_at(cell)))
        elif isinstance(widget, OptionList):
            for index in range(widget.option_count):
                prompt = widget.get_option_at_index(index).prompt
                widget.replace_option_prompt_at_index(index, _masked_visual(prompt))  # type: ignore[arg-type]
        elif isinstance(widget, Tree):
            for node in _tree_nodes(widget.root):
                node.set_label(_masked_visual(node.label))  # type: ignore[arg-type]


def _tree_nodes(node: TreeNode[Any]) -> list[TreeNode[Any]]:
    return [node, *(n for child in node.children for n in _tree_nodes(child))]
