"""Chat screen: answers stream in live, tool calls show up, a busy run queues the next message."""

from __future__ import annotations

from agio_cli.tui.app import AgioApp
from agio_cli.tui.widgets.conversation import RunView, ToolCallView, UserMessage
from agio_cli.tui.widgets.status import StatusBar
from agio_core import Agio

from .tui_helpers import SIZE, chatting, send, started_app, wait_for


async def test_message_streams_answer_with_tool_call(agio: Agio) -> None:
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        await pilot.press(*"What is 12*7?", "enter")  # typed, key by key
        chat = app.chat
        await wait_for(pilot, lambda: chat.shown_status == "completed", what="run completes")
        view = chat.query(RunView).last()
        assert view.answer == "12*7 = 84."
        tool = view.query_one(ToolCallView)
        assert (tool.tool_name, tool.result) == ("calculator", "84")
        assert "12*7" in tool.arguments
        status = chat.query_one(StatusBar)
        assert (status.agent_id, status.model, status.status) == (
            "assistant",
            "offline/demo",
            "completed",
        )
        assert "OFFLINE" in str(status.render())
        assert status.tokens > 0 and status.elapsed_ms is not None
        run = await agio.get_run(view.run_id or "")
        assert run.status == "completed" and run.response == "12*7 = 84."
        assert status.tokens == run.metrics.total_tokens


async def test_answer_is_shown_while_it_streams(agio: Agio) -> None:
    # 5 s at 25 ms a word: long enough to look at
    async with chatting(agio, "count to 200") as (pilot, chat):
        await wait_for(pilot, lambda: "1 2 3 4" in chat.query(RunView).last().answer)
        run_id = chat.follower.run_id or ""
        assert (await agio.get_run(run_id)).status == "running"
        assert chat.query_one(StatusBar).status == "running"
        assert not chat.query(RunView).last().answer.endswith("200.")
        await agio.cancel_run(run_id)


async def test_second_message_waits_for_the_busy_run_then_continues_the_session(
    agio: Agio,
) -> None:
    async with chatting(agio, "count to 200") as (pilot, chat):
        await wait_for(pilot, lambda: chat.shown_status == "running", what="first run running")
        await send(pilot, "count to 3")
        queued = [m for m in chat.query(UserMessage) if m.has_class("queued")]
        assert [m.text for m in queued] == ["count to 3"]
        assert chat.query_one(StatusBar).queued == 1
        assert any("queued" in n.message for n in pilot.app._notifications)

        await pilot.press("ctrl+x")  # the first run ends (cancelled): the queued one goes
        await wait_for(pilot, lambda: len(chat.query(RunView)) == 2, what="queued message sent")
        await wait_for(pilot, lambda: chat.shown_status == "completed", what="second run completes")
        assert not [m for m in chat.query(UserMessage) if m.has_class("queued")]
        assert chat.query(RunView).last().answer == "1 2 3."
        second, first = (await agio.list_runs()).items
        assert (first.status, second.status) == ("cancelled", "completed")
        assert first.session_id == second.session_id  # the conversation goes on
