"""Snapshots of the main screens (pytest-textual-snapshot), at a fixed size, ids masked.

Update them after an intended change with `pytest tests/tui --snapshot-update`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from agio_cli.tui.app import AgioApp
from agio_cli.tui.screens.approvals import ApprovalScreen
from agio_cli.tui.screens.fork import ForkModal
from agio_cli.tui.screens.help import HelpScreen
from agio_cli.tui.screens.runs import RunsScreen
from agio_cli.tui.screens.sessions import SessionPicker
from agio_cli.tui.widgets.fork_tree import ForkTree
from agio_cli.tui.widgets.messages import MessageList
from agio_core import Agio, Settings

from .tui_helpers import ASKER, SIZE, mask_volatile, send, started_app, wait_for


@pytest.fixture(autouse=True)
def in_colour(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshots show the real colours (the `home` fixture sets NO_COLOR for the CLI tests)."""
    monkeypatch.delenv("NO_COLOR", raising=False)


async def _history(settings: Settings) -> None:
    """A run and a fork of it with a new system prompt (answers that do not depend on wording)."""
    async with Agio(settings) as agio:
        await agio.create_agent(
            {
                "id": "quick",
                "name": "Quick",
                "model": "offline/demo",
                "model_params": {"delay_ms": 0},
                "system_prompt": "You are a helpful assistant.",
            }
        )
        run = await agio.chat("quick", "count to 12")
        checkpoint = (await agio.list_checkpoints(run.id)).items[-1]
        handle = await agio.fork_checkpoint(
            checkpoint.id, modifications={"system_prompt": "Talk like a pirate."}
        )
        await handle.wait()


async def _open_runs_on_source(pilot: Pilot[Any]) -> None:
    await started_app(pilot)
    await pilot.press("f3")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunsScreen), what="runs panel")
    screen = pilot.app.screen
    assert isinstance(screen, RunsScreen)
    await wait_for(pilot, lambda: screen.table.row_count == 2, what="runs")
    await pilot.press("down")  # the older run: the root of the fork tree
    forks, messages = screen.query_one(ForkTree), screen.query_one(MessageList)
    await wait_for(pilot, lambda: len(forks.root.children) == 1, what="the fork tree")
    await wait_for(pilot, lambda: len(messages.children) == 3, what="checkpoint messages")


def test_chat_screen(snap_compare: Any, settings: Settings) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await started_app(pilot)
        await send(pilot, "What is 12*7?")
        app = pilot.app
        assert isinstance(app, AgioApp)
        await wait_for(pilot, lambda: app.chat.shown_status == "completed", what="answer")
        await pilot.pause(0.2)
        mask_volatile(app)

    assert snap_compare(AgioApp(settings=settings), terminal_size=SIZE, run_before=run_before)


def test_runs_screen(snap_compare: Any, settings: Settings) -> None:
    asyncio.run(_history(settings))

    async def run_before(pilot: Pilot[Any]) -> None:
        await _open_runs_on_source(pilot)
        await pilot.pause(0.2)
        mask_volatile(pilot.app)

    assert snap_compare(AgioApp(settings=settings), terminal_size=SIZE, run_before=run_before)


def test_fork_dialog(snap_compare: Any, settings: Settings) -> None:
    asyncio.run(_history(settings))

    async def run_before(pilot: Pilot[Any]) -> None:
        await _open_runs_on_source(pilot)
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ForkModal), what="dialog")
        await pilot.pause(0.2)
        mask_volatile(pilot.app)

    assert snap_compare(AgioApp(settings=settings), terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare: Any, settings: Settings) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await started_app(pilot)
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="help")
        mask_volatile(pilot.app)

    assert snap_compare(AgioApp(settings=settings), terminal_size=SIZE, run_before=run_before)


SMALL = (80, 24)


def test_chat_screen_at_80x24_with_a_toast(snap_compare: Any, settings: Settings) -> None:
    """The footer keeps the run keys, F1-F4 and the palette; the toast leaves the prompt,
    status bar and footer free."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await started_app(pilot)
        await send(pilot, "What is 12*7?")
        app = pilot.app
        assert isinstance(app, AgioApp)
        await wait_for(pilot, lambda: app.chat.shown_status == "completed", what="answer")
        await pilot.pause(0.2)
        mask_volatile(app)
        app.notify("A toast, where it always goes.", title="Toast", timeout=60)
        await pilot.pause(0.3)

    assert snap_compare(AgioApp(settings=settings), terminal_size=SMALL, run_before=run_before)


def test_runs_screen_at_80x24(snap_compare: Any, settings: Settings) -> None:
    """Timeline rows on one line without raw ids; fork-tree labels start with what differs."""
    asyncio.run(_history(settings))

    async def run_before(pilot: Pilot[Any]) -> None:
        await _open_runs_on_source(pilot)
        await pilot.pause(0.2)
        mask_volatile(pilot.app)

    assert snap_compare(AgioApp(settings=settings), terminal_size=SMALL, run_before=run_before)


def test_sessions_dialog(snap_compare: Any, settings: Settings) -> None:
    asyncio.run(_history(settings))

    async def run_before(pilot: Pilot[Any]) -> None:
        await started_app(pilot)
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, SessionPicker), what="list")
        screen = pilot.app.screen
        assert isinstance(screen, SessionPicker)
        await wait_for(pilot, lambda: bool(screen.sessions), what="sessions")
        await pilot.pause(0.2)
        mask_volatile(pilot.app)

    assert snap_compare(AgioApp(settings=settings), terminal_size=SMALL, run_before=run_before)


async def _create(settings: Settings, agent: dict[str, object]) -> None:
    async with Agio(settings) as agio:
        await agio.create_agent(agent)


def test_approval_dialog(snap_compare: Any, settings: Settings) -> None:
    """The call waiting (name, arguments as highlighted JSON, which of how many), the reason
    field and the decision keys, over the chat that shows the run waiting."""
    asyncio.run(_create(settings, ASKER))

    async def run_before(pilot: Pilot[Any]) -> None:
        await started_app(pilot)
        app = pilot.app
        assert isinstance(app, AgioApp)
        await send(pilot, "What is 2+3 and 4*5?")
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen), what="dialog")
        dialog = app.screen
        assert isinstance(dialog, ApprovalScreen)
        await wait_for(pilot, lambda: dialog.call is not None, what="the call shown")
        await pilot.pause(0.2)
        mask_volatile(app)

    app = AgioApp(agent="asker", settings=settings)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
