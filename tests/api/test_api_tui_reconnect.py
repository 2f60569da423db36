"""`agio tui --server URL` follows a run again after its `agio serve` stops and comes back.

The run is made by `agio chat` in another process on the same AGIO_HOME, so it goes on
while the server is down; the server only relays its event log. The TUI (real Textual app,
Pilot) must show the whole answer once, without a gap or a repeat, having resumed the event
stream from the last event it had (`Last-Event-ID`)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from helpers.servers import Server, clean_env, free_port, start_server
from textual.pilot import Pilot

from agio_cli.remote import RemoteAgio
from agio_cli.tui.app import AgioApp
from agio_cli.tui.screens.chat import ChatScreen
from agio_cli.tui.widgets.conversation import RunView

COUNT = 300
ANSWER = " ".join(str(n) for n in range(1, COUNT + 1)) + "."


async def wait_for(
    pilot: Pilot[Any], predicate: Callable[[], bool], what: str, timeout: float = 30
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


def serve(workdir: Path, port: int) -> Server:
    argv = [sys.executable, "-m", "agio_cli", "serve", "--port", str(port)]
    return start_server(argv, workdir, port, clean_env(workdir / "home"), "agio-serve")


async def test_the_tui_follows_a_run_across_a_server_restart(tmp_path: Path) -> None:
    port = free_port()
    server = serve(tmp_path, port)
    agent = {"id": "counter", "model": "offline/demo", "model_params": {"delay_ms": 15}}
    httpx.post(f"{server.url}/api/agents", json=agent).raise_for_status()
    chat = subprocess.Popen(
        [sys.executable, "-m", "agio_cli", "chat", "-a", "counter", f"count to {COUNT}"],
        env=clean_env(server.home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        async with RemoteAgio(server.url) as remote:
            for _ in range(200):
                runs = (await remote.list_runs(agent_id="counter")).items
                if runs:
                    break
                await asyncio.sleep(0.05)
            [run] = runs
            app = AgioApp(backend=remote)  # type: ignore[arg-type]  # RemoteAgio: same methods
            async with app.run_test(size=(110, 36)) as pilot:
                await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen), "chat screen")
                await app.follower.watch(run.id)

                def shown() -> str:
                    views = app.chat.query(RunView)
                    return views.last().answer if views else ""

                await wait_for(pilot, lambda: shown().startswith("1 2 3 "), "the stream")
                assert chat.poll() is None, "the run ended before the server stopped"
                server.stop()
                # What was not shown yet can only come through a new connection.
                assert shown() != ANSWER
                await pilot.pause(1.0)  # the run goes on without the server
                assert chat.poll() is None, "the run ended while the server was down"
                server = serve(tmp_path, port)
                await wait_for(pilot, lambda: app.chat.shown_status == "completed", "the end")
                # Each number once, in order: nothing lost, nothing repeated.
                await wait_for(pilot, lambda: shown() == ANSWER, "the whole answer")
                assert (await remote.get_run(run.id)).response == ANSWER
            # The client resumes where it was (Last-Event-ID): the next event, then each once.
            replay = [e.seq async for e in remote.events(run.id, after_seq=5, follow=False)]
            assert replay == list(range(6, app.follower.last_seq + 1))
        out, err = chat.communicate(timeout=60)
        assert chat.returncode == 0, err
        assert out.strip() == ANSWER
    finally:
        if chat.poll() is None:
            chat.kill()
        server.stop()
    assert "Traceback" not in server.log()
