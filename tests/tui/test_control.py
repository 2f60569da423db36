"""Run control from the keyboard: pause, resume and cancel change the run in the store."""

from __future__ import annotations

from agio_cli.tui.app import AgioApp
from agio_cli.tui.screens.chat import ChatScreen
from agio_cli.tui.screens.runs import RunsScreen
from agio_cli.tui.widgets.conversation import Answer, Notice, RunView, ToolCallView
from agio_cli.tui.widgets.status import StatusBar
from agio_core import Agio

from .tui_helpers import (
    SIZE,
    at_tool_call,
    chatting,
    slow_agent,
    started_app,
    wait_for,
    wait_for_status,
)


async def test_pause_then_resume_keys(agio: Agio) -> None:
    async with chatting(agio, "count to 80") as (pilot, chat):  # 2 s, unless the pause cuts it
        await wait_for(pilot, lambda: chat.shown_status == "running", what="the run started")
        run_id = chat.follower.run_id or ""
        shown: list[str | None] = []

        def record(status: str | None) -> None:
            shown.append(status)

        chat.watch(chat.query_one(StatusBar), "status", record, init=False)

        await pilot.press("ctrl+z")
        await wait_for(pilot, lambda: bool(shown), what="a status change")
        assert shown[0] == "pausing…"  # at once, before the run reaches its safe point
        paused = await wait_for_status(agio, run_id, "paused")  # the stream is cut
        assert paused.last_checkpoint_id is not None
        await wait_for(pilot, lambda: chat.query_one(StatusBar).status == "paused")
        assert any(n.has_class("paused") for n in chat.query(Notice))
        # The cut step's text stays on screen, marked void, and is not part of the answer.
        (cut,) = chat.query(Answer).filter(".discarded")
        assert cut.text.startswith("1 2") and chat.query(RunView).last().answer == ""

        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: chat.shown_status == "completed", what="resumed run ends")
        run = await agio.get_run(run_id)
        expected = " ".join(str(i) for i in range(1, 81)) + "."
        assert (run.status, run.response) == ("completed", expected)
        assert chat.query(RunView).last().answer == expected


async def test_pause_during_a_tool_call(agio: Agio, slow_tools: str) -> None:
    async with at_tool_call(agio, slow_tools) as (pilot, chat):
        await pilot.press("ctrl+z")
        await wait_for_status(agio, chat.follower.run_id or "", "paused")
        tool = chat.query_one(ToolCallView)
        await wait_for(pilot, lambda: tool.result == "12:00 UTC", what="the tool's result")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: chat.shown_status == "completed", what="resumed run ends")
        assert chat.query(RunView).last().answer == "The current time is 12:00 UTC."


async def test_cancel_key_stops_the_stream_and_keeps_the_partial_answer(agio: Agio) -> None:
    async with chatting(agio, "count to 500") as (pilot, chat):
        await wait_for(pilot, lambda: "1 2 3" in chat.query(RunView).last().answer)
        run_id = chat.follower.run_id or ""
        await pilot.press("ctrl+x")
        run = await wait_for_status(agio, run_id, "cancelled")
        assert run.response and run.response.startswith("1 2 3")
        await wait_for(pilot, lambda: chat.shown_status == "cancelled", what="chat sees cancel")
        assert chat.query_one(StatusBar).status == "cancelled"
        assert any(n.has_class("cancelled") for n in chat.query(Notice))


async def test_control_without_a_run_says_why(agio: Agio) -> None:
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        await pilot.press("ctrl+z")
        assert any("No run to pause" in n.message for n in app._notifications)


async def test_runs_panel_controls_and_watches_a_run_started_elsewhere(
    agio: Agio, slow_tools: str
) -> None:
    await slow_agent(agio, "clock", tools=[slow_tools])
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        # Started outside the TUI (as `agio chat` in another terminal would).
        handle = await agio.start_chat("clock", "What time is it?")
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen), what="runs panel")
        runs = app.screen
        assert isinstance(runs, RunsScreen)
        await wait_for(pilot, lambda: runs.target_run_id == handle.run_id, what="run listed")

        await pilot.press("ctrl+z")
        await wait_for_status(agio, handle.run_id, "paused")
        await wait_for(pilot, lambda: "paused" in str(runs.table.get_cell(handle.run_id, "status")))

        await pilot.press("w")  # watch it in the chat
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen), what="back in chat")
        chat = app.chat
        await wait_for(pilot, lambda: chat.shown_status == "paused", what="chat follows run")
        assert chat.follower.run_id == handle.run_id
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: chat.shown_status == "completed", what="resumed run ends")
        assert chat.query(RunView).last().answer == "The current time is 12:00 UTC."
        assert (await agio.get_run(handle.run_id)).status == "completed"
