"""`agio tui --server URL`: the real Textual app driving a real `agio serve` over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from helpers.servers import Server
from textual.pilot import Pilot

from agio_cli.remote import RemoteAgio
from agio_cli.tui.app import AgioApp
from agio_cli.tui.screens.chat import ChatScreen
from agio_cli.tui.widgets.conversation import RunView, ToolCallView
from agio_cli.tui.widgets.prompt import Prompt
from agio_cli.tui.widgets.status import StatusBar


async def wait_for(pilot: Pilot[Any], predicate: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + 15
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


async def test_tui_chats_and_controls_runs_through_a_server(server: Server) -> None:
    async with RemoteAgio(server.url) as remote:
        app = AgioApp(backend=remote)  # type: ignore[arg-type]  # RemoteAgio: the same methods
        async with app.run_test(size=(110, 36)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen), "chat screen")
            app.screen.query_one("#prompt", Prompt).text = "What is 12*7?"
            await pilot.press("enter")
            chat = app.chat
            await wait_for(pilot, lambda: chat.shown_status == "completed", "run completes")
            view = chat.query(RunView).last()
            assert view.answer == "12*7 = 84."
            assert view.query_one(ToolCallView).result == "84"
            assert "OFFLINE" in str(chat.query_one(StatusBar).render())

            run = await remote.get_run(view.run_id or "")
            assert run.status == "completed" and run.response == "12*7 = 84."

            # Run control from the keyboard reaches the server's run.
            chat.query_one("#prompt", Prompt).text = "count to 400"
            await pilot.press("enter")
            await wait_for(pilot, lambda: "1 2 3" in chat.query(RunView).last().answer, "stream")
            await pilot.press("ctrl+x")
            await wait_for(pilot, lambda: chat.shown_status == "cancelled", "run cancelled")
            cancelled = await remote.get_run(chat.follower.run_id or "")
            assert cancelled.status == "cancelled"
