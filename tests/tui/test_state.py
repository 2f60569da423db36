"""Run state that never lies: pending labels until the event, the last known state back after
a failed call, a lost server shown as such (the clock stops), cut-short output marked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability.support import ServerProcess

from agio_cli.remote import RemoteAgio
from agio_cli.tui.app import AgioApp
from agio_cli.tui.screens.chat import ChatScreen
from agio_cli.tui.widgets.conversation import Answer, RunView
from agio_core import Agio

from .tui_helpers import SIZE, at_tool_call, chatting, send, slow_agent, started_app, wait_for


def record_statuses(chat: ChatScreen) -> list[str | None]:
    shown: list[str | None] = []

    def record(status: str | None) -> None:
        shown.append(status)

    chat.watch(chat.status_bar, "status", record, init=False)
    return shown


async def test_pausing_stays_until_the_run_pauses(agio: Agio, slower_tools: str) -> None:
    async with at_tool_call(agio, slower_tools) as (pilot, chat):
        shown = record_statuses(chat)
        await pilot.press("ctrl+z")
        await wait_for(
            pilot,
            lambda: any("Pause requested" in n.message for n in pilot.app._notifications),
            what="the call to return with the run still going",
        )
        assert chat.shown_status == "pausing…"  # not "running": the pause is still coming
        await wait_for(pilot, lambda: chat.shown_status == "paused", what="paused", timeout=15)
        assert shown[0] == "pausing…" and shown[-1] == "paused"
        assert "running" not in shown  # it never fell back while the pause was pending
        assert (await agio.get_run(chat.follower.run_id or "")).status == "paused"


async def test_a_failed_control_call_brings_the_last_state_back(agio: Agio) -> None:
    async with chatting(agio, "count to 3") as (pilot, chat):
        await wait_for(pilot, lambda: chat.shown_status == "completed", what="completed")
        shown = record_statuses(chat)
        await pilot.press("ctrl+x")  # a completed run cannot be cancelled
        await wait_for(
            pilot,
            lambda: any("already completed" in n.message for n in pilot.app._notifications),
            what="the error",
        )
        await wait_for(pilot, lambda: chat.shown_status == "completed")
        assert shown == ["cancelling…", "completed"]


async def test_cancel_marks_the_partial_answer(agio: Agio) -> None:
    async with chatting(agio, "count to 500") as (pilot, chat):
        await wait_for(pilot, lambda: "1 2 3" in chat.answer_shown(), what="some text")
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: chat.shown_status == "cancelled", what="cancelled")
        answer = chat.query(RunView).last().query_one(Answer)
        assert answer.has_class("partial")
        assert "cut short" in str(answer.border_title)
        run = await agio.get_run(chat.follower.run_id or "")
        assert answer.text == run.response  # what was kept is what is shown


@pytest.fixture
def server(home: Path, tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(home, tmp_path / "serve.log").start()
    yield process
    process.stop()


async def test_a_lost_server_shows_disconnected_and_the_clock_stops(
    server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stream gives up after its 5 reconnects either way; without their 7.5 s of backoff.
    monkeypatch.setattr("agio_cli.remote.RECONNECT_DELAY_S", 0.05)
    async with RemoteAgio(server.url) as remote:
        await slow_agent(remote)  # type: ignore[arg-type]
    app = AgioApp(agent="slow", server=server.url)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        chat = app.chat
        await send(pilot, "count to 2000")
        await wait_for(pilot, lambda: "1 2 3" in chat.answer_shown(), what="streaming")
        server.kill()
        await wait_for(
            pilot, lambda: chat.shown_status == "disconnected", what="disconnected", timeout=20
        )
        bar = chat.status_bar
        assert server.url in str(bar.render())
        stopped_at = bar.elapsed_ms
        await pilot.pause(1.2)  # two ticks of the clock
        assert bar.elapsed_ms == stopped_at  # no news from the run: no time counted

        await pilot.press("ctrl+x")  # cannot reach the server: the state it had comes back
        await wait_for(
            pilot,
            lambda: any(n.title == "Cannot cancel" for n in app._notifications),
            what="the failed cancel",
            timeout=15,
        )
        await wait_for(pilot, lambda: chat.shown_status == "disconnected")
        assert chat.follower.pending is None


async def test_a_run_that_cannot_start_gives_the_text_back_with_the_cursor_at_the_end(
    agio: Agio,
) -> None:
    await slow_agent(agio, "gone")
    app = AgioApp(backend=agio, agent="gone")
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        await agio.delete_agent("gone")  # deleted elsewhere, after the chat picked it
        await send(pilot, "hello")
        chat = app.chat
        await wait_for(pilot, lambda: chat.prompt.text == "hello", what="the text back")
        assert any(n.title == "Not sent" for n in app._notifications)
        assert chat.prompt.cursor_location == chat.prompt.document.end
        await pilot.press(*" again")
        assert chat.prompt.text == "hello again"
        assert not chat.query(RunView)
        assert (await agio.list_runs()).items == []
