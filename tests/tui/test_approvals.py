"""The approval dialog: a run started in another process waits for its tool calls to be
allowed; the TUI shows each call and decides it (allow once, always, deny with a reason)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from rich.syntax import Syntax
from textual.pilot import Pilot
from textual.widgets import Input, Static

from agio_cli.tui.app import AgioApp
from agio_cli.tui.screens.approvals import ApprovalScreen
from agio_cli.tui.screens.runs import RunsScreen
from agio_cli.tui.widgets.conversation import RunView, ToolCallView
from agio_cli.tui.widgets.status import StatusBar
from agio_core import Agio, Settings

from .tui_helpers import ASKER, SIZE, started_app, wait_for

pytestmark = pytest.mark.skipif(
    not hasattr(Agio, "decide"), reason="needs the approvals of #15 (Agio.decide) in the core"
)


def chat_elsewhere(settings: Settings, message: str) -> str:
    """`agio chat` in another process, without a terminal: it leaves the run waiting."""
    env = {**os.environ, "AGIO_HOME": str(settings.home)}
    done = subprocess.run(
        [sys.executable, "-m", "agio_cli", "chat", "-a", "asker", message],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "agio runs approve" in done.stderr
    return done.stderr


async def open_dialog(pilot: Pilot[None], app: AgioApp) -> ApprovalScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen), what="dialog")
    dialog = app.screen
    assert isinstance(dialog, ApprovalScreen)
    await wait_for(pilot, lambda: dialog.call is not None, what="the call shown")
    return dialog


async def waiting_run(agio: Agio) -> str:
    page = await agio.list_runs(status="awaiting_approval")
    assert page.total == 1
    return page.items[0].id


async def test_approve_a_run_started_in_another_terminal(agio: Agio, settings: Settings) -> None:
    await agio.create_agent(ASKER)
    chat_elsewhere(settings, "What is 2+3?")
    run_id = await waiting_run(agio)
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen), what="runs panel")
        runs = app.screen
        assert isinstance(runs, RunsScreen)
        await wait_for(pilot, lambda: runs.target_run_id == run_id, what="the waiting run")
        assert "awaiting_approval" in str(runs.table.get_cell(run_id, "status"))
        await pilot.press("w")  # watch it: the chat sees it wait, the dialog opens
        dialog = await open_dialog(pilot, app)
        title = str(dialog.query_one("#dialog-title").render())
        assert "calculator" in title and run_id in title
        shown = dialog.query_one("#approval-call", Static).content
        assert isinstance(shown, Syntax) and '"expression": "2+3"' in shown.code
        await pilot.press("ctrl+o")  # allow once
        chat = app.chat
        await wait_for(pilot, lambda: chat.shown_status == "completed", what="the run goes on")
        assert chat.query(RunView).last().answer == "2+3 = 5."
        tool = chat.query_one(ToolCallView)
        assert tool.result == "5"
        run = await agio.get_run(run_id)
        assert (run.status, run.response, run.pending_approvals) == ("completed", "2+3 = 5.", [])


async def test_deny_with_a_reason_the_model_sees(agio: Agio, settings: Settings) -> None:
    await agio.create_agent(ASKER)
    chat_elsewhere(settings, "What is 6*7?")
    run_id = await waiting_run(agio)
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        await app.follower.watch(run_id)
        dialog = await open_dialog(pilot, app)
        # The clock stops while the run waits, as its recorded duration does.
        clock = app.chat.query_one(StatusBar)
        shown = clock.elapsed_ms
        await pilot.pause(0.7)  # the status bar ticks every 0.5 s
        assert shown is not None and clock.elapsed_ms == shown
        dialog.query_one("#approval-reason", Input).value = "no sums today"
        await pilot.press("ctrl+d")
        await wait_for(pilot, lambda: app.chat.shown_status == "completed", what="it goes on")
        run = await agio.get_run(run_id)
        assert run.status == "completed" and "no sums today" in (run.response or "")


async def test_always_allow_makes_a_rule_for_the_session(agio: Agio, settings: Settings) -> None:
    await agio.create_agent(ASKER)
    chat_elsewhere(settings, "What is 2+3 and 4*5?")  # two calls, one tool
    run_id = await waiting_run(agio)
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        await app.follower.watch(run_id)
        dialog = await open_dialog(pilot, app)
        assert "1 of 2 waiting" in str(dialog.query_one("#dialog-title").render())
        await pilot.press("ctrl+l")  # always: both calls, and later ones of the session
        await wait_for(pilot, lambda: app.chat.shown_status == "completed", what="it goes on")
        run = await agio.get_run(run_id)
        assert run.response == "2+3 = 5. 4*5 = 20."
        assert run.approval_rules == {"calculator": "allow"}
