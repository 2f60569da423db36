"""A read-only AGIO_HOME (issue 13): every route that writes is a clean 503, reads still work.

AGIO_HOME lives on a real tmpfs, seeded with an agent, a completed run and a paused run,
then remounted read-only (root only, so skipped elsewhere): the store's lock files, run
records and control files cannot be written, which is what a read-only volume or a
permissions mistake does to a deployed `agio serve`.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agio_core import Agio, Settings

from .conftest import ServerFactory
from .support import no_traceback, run_agio

QUESTION = "What is " + ", ".join(f"{i}+{i}" for i in range(1, 12)) + "?"
STEPPER = {
    "id": "stepper",
    "model": "offline/demo",
    "model_params": {"delay_ms": 5, "parallel_tool_calls": False},
    "tools": ["calculator"],
}


async def seed(settings: Settings) -> dict[str, str]:
    async with Agio(settings) as agio:
        await agio.create_agent(STEPPER)
        done = await agio.chat("stepper", "What is 2+2?")
        handle = await agio.start_chat("stepper", QUESTION)
        paused = await handle.pause()
        assert paused.status == "paused"
        return {"done": done.id, "paused": paused.id, "checkpoint": str(done.last_checkpoint_id)}


@pytest.fixture
def read_only_home(small_disk: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    home = small_disk / "agio"
    ids = asyncio.run(seed(Settings(home=home)))
    remount = subprocess.run(
        ["mount", "-o", "remount,ro", str(small_disk)], capture_output=True, text=True
    )
    if remount.returncode != 0:
        pytest.skip(f"cannot remount read-only: {remount.stderr.strip()}")
    yield home, ids
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], capture_output=True)


def test_every_writing_route_is_a_503_on_a_read_only_home(
    read_only_home: tuple[Path, dict[str, str]], start_server: ServerFactory
) -> None:
    home, ids = read_only_home
    server = start_server(home)
    agent = {"id": "other", "model": "offline/demo"}
    writes = [
        ("POST", "/api/agents", agent),
        ("PUT", "/api/agents/stepper", {**STEPPER, "description": "changed"}),
        ("DELETE", "/api/agents/stepper", None),
        ("POST", "/api/chat", {"agent_id": "stepper", "message": "hi", "stream": False}),
        ("POST", "/api/chat", {"agent_id": "stepper", "message": "hi"}),
        ("POST", "/api/runs", {"agent_id": "stepper", "message": "hi"}),
        ("POST", f"/api/checkpoints/runs/{ids['paused']}/checkpoints", {"description": "m"}),
        ("POST", f"/api/checkpoints/{ids['checkpoint']}/restore", {"create_new_run": False}),
        ("POST", f"/api/checkpoints/{ids['checkpoint']}/restore", {}),
        ("POST", f"/api/checkpoints/{ids['checkpoint']}/fork", {}),
        ("POST", f"/api/runs/{ids['paused']}/resume", None),
        ("POST", f"/api/runs/{ids['paused']}/cancel", None),
    ]
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for method, path, body in writes:
            response = client.request(method, path, json=body)
            assert response.status_code == 503, (method, path, response.status_code, response.text)
            detail = response.json()["detail"]
            assert "Read-only file system" in detail and "\n" not in detail, detail
        # Reading still works, and nothing changed.
        assert client.get("/api/agents/stepper").json()["description"] == ""
        assert client.get(f"/api/runs/{ids['paused']}").json()["status"] == "paused"
        assert client.get(f"/api/runs/{ids['done']}").json()["status"] == "completed"
        assert len(client.get("/api/runs").json()["items"]) == 2
        events = client.get(f"/api/runs/{ids['done']}/events", params={"follow": "false"})
        assert events.status_code == 200 and "run_completed" in events.text
    log = server.log()
    assert no_traceback(log) and '" 500 ' not in log, log[-4000:]


@pytest.mark.parametrize(
    "args",
    [
        ["agents", "create", "-f", "AGENT"],
        ["agents", "delete", "stepper"],
        ["chat", "-a", "stepper", "hi"],
        ["checkpoints", "create", "PAUSED", "-d", "m"],
        ["runs", "cancel", "PAUSED"],
        ["runs", "resume", "PAUSED"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_the_cli_says_one_line_and_exits_1_on_a_read_only_home(
    read_only_home: tuple[Path, dict[str, str]], tmp_path: Path, args: list[str]
) -> None:
    home, ids = read_only_home
    agent = tmp_path / "agent.yaml"
    agent.write_text("id: other\nmodel: offline/demo\n")
    argv = [{"AGENT": str(agent), "PAUSED": ids["paused"]}.get(a, a) for a in args]
    result = run_agio(home, *argv)
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("agio: error:"), lines
    assert "Read-only file system" in lines[0] and no_traceback(result.stderr)
