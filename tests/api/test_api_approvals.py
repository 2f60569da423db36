"""`POST /api/runs/{id}/approvals` and RemoteAgio's decisions, against real servers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import sse_events, wait_for_status
from helpers.servers import Server, agio_serve, clean_env

from agio_cli.remote import RemoteAgio
from agio_core import ApprovalDecision, ConflictError, InvalidInputError

ASKER: dict[str, Any] = {
    "id": "asker",
    "model": "offline/demo",
    "model_params": {"delay_ms": 0},
    "tools": ["calculator"],
    "approval": {"calculator": "ask"},
}


@pytest.fixture
def asker(client: httpx.Client) -> str:
    response = client.put(f"/api/agents/{ASKER['id']}", json=ASKER)
    if response.status_code == 404:
        response = client.post("/api/agents", json=ASKER)
    assert response.status_code in {200, 201}, response.text
    return str(ASKER["id"])


def waiting_run(client: httpx.Client, agent: str, message: str = "What is 2+3 and 4*5?") -> dict:
    body = {"agent_id": agent, "message": message, "stream": False}
    answer = client.post("/api/chat", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "awaiting_approval", answer.json()
    return client.get(f"/api/runs/{answer.json()['run_id']}").json()


def decide(client: httpx.Client, run_id: str, *decisions: dict, **extra: Any) -> httpx.Response:
    return client.post(
        f"/api/runs/{run_id}/approvals", json={"decisions": list(decisions), **extra}
    )


def test_a_streamed_chat_ends_awaiting_and_the_api_decides(
    client: httpx.Client, asker: str
) -> None:
    body = {"agent_id": asker, "message": "What is 2+3 and 4*5?"}
    with client.stream("POST", "/api/chat", json=body) as stream:
        events = sse_events(stream)
    assert [e["type"] for e in events][-4:] == [
        "tool_approval_requested",
        "tool_approval_requested",
        "checkpoint_created",
        "run_awaiting_approval",
    ]
    run_id = events[-1]["run_id"]
    run = client.get(f"/api/runs/{run_id}").json()
    assert run["status"] == "awaiting_approval"
    pending = run["pending_approvals"]
    assert [(p["name"], p["decision"]) for p in pending] == [("calculator", None)] * 2
    assert pending[0]["arguments"] == '{"expression": "2+3"}'
    listed = client.get("/api/runs", params={"status": "awaiting_approval"}).json()
    assert run_id in [r["id"] for r in listed["items"]]

    first, second = (p["tool_call_id"] for p in pending)
    # Bad bodies are 422 and change nothing.
    assert (
        decide(client, run_id, {"tool_call_id": "call_x", "decision": "approve"}).status_code == 422
    )
    assert decide(client, run_id, {"tool_call_id": first, "decision": "maybe"}).status_code == 422
    extra = decide(client, run_id, {"tool_call_id": first, "decision": "approve", "why": 1})
    assert extra.status_code == 422
    assert client.post(f"/api/runs/{run_id}/approvals", json={"decisions": []}).status_code == 422
    assert client.post(f"/api/runs/{run_id}/resume").status_code == 409

    partly = decide(client, run_id, {"tool_call_id": first, "decision": "approve"})
    assert partly.status_code == 200 and partly.json()["status"] == "awaiting_approval"
    assert [p["decision"] for p in partly.json()["pending_approvals"]] == ["approve", None]
    assert partly.json()["first_seq"] is None  # nothing goes on yet
    last = decide(
        client, run_id, {"tool_call_id": second, "decision": "deny", "reason": "no products"}
    )
    assert last.status_code == 200 and last.json()["status"] in {"running", "completed"}
    # The continuation's events start right after the wait's, at the answer's first_seq.
    first_seq = last.json()["first_seq"]
    assert first_seq == events[-1]["seq"] + 1
    params = {"after_seq": first_seq - 1}
    with client.stream("GET", f"/api/runs/{run_id}/events", params=params) as stream:
        continued = sse_events(stream)
    assert continued[0]["type"] == "run_resumed" and continued[0]["seq"] == first_seq
    assert continued[-1]["type"] == "run_completed"
    done = wait_for_status(client, run_id, {"completed", "failed", "cancelled"})
    assert done["status"] == "completed" and done["pending_approvals"] == []
    assert "2+3 = 5" in done["response"] and "no products" in done["response"]
    again = decide(client, run_id, {"tool_call_id": first, "decision": "approve"})
    assert again.status_code == 409 and "no tool call waits" in again.json()["detail"]
    assert (
        decide(
            client, "run_0123456789abcdef", {"tool_call_id": first, "decision": "approve"}
        ).status_code
        == 404
    )


def test_cancel_a_waiting_run_over_http(client: httpx.Client, asker: str) -> None:
    run = waiting_run(client, asker)
    cancelled = client.post(f"/api/runs/{run['id']}/cancel", json={"reason": "no"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    with client.stream("GET", f"/api/runs/{run['id']}/events") as stream:
        assert sse_events(stream)[-1]["type"] == "run_cancelled"
    call = run["pending_approvals"][0]["tool_call_id"]
    assert (
        decide(client, run["id"], {"tool_call_id": call, "decision": "approve"}).status_code == 409
    )


async def test_remote_agio_decides(server: Server, client: httpx.Client, asker: str) -> None:
    async with RemoteAgio(server.url) as remote:
        run = await (await remote.start_chat(asker, "What is 6*7?")).wait()
        assert run.status == "awaiting_approval" and len(run.pending_approvals) == 1
        call = run.pending_approvals[0].tool_call_id
        with pytest.raises(InvalidInputError, match="not pending"):
            await remote.decide(run.id, [ApprovalDecision(tool_call_id="nope", decision="deny")])
        handle = await remote.decide_and_continue(
            run.id, [ApprovalDecision(tool_call_id=call, decision="approve")], remember=True
        )
        assert handle is not None
        # The server says where the continuation starts: the handle follows from there.
        shown = [event async for event in handle.events(after_seq=handle.first_seq - 1)]
        assert shown[0].type == "run_resumed" and shown[0].seq == handle.first_seq
        assert shown[-1].type == "run_completed"
        done = await handle.wait()
        assert done.status == "completed" and "42" in (done.response or "")
        assert done.approval_rules == {"calculator": "allow"}
        with pytest.raises(ConflictError):
            await remote.decide(run.id, [ApprovalDecision(tool_call_id=call, decision="approve")])
        # The rule holds for the session's next run, asked through the same server.
        later = await (
            await remote.start_chat(asker, "What is 1+1?", session_id=run.session_id)
        ).wait()
        assert later.status == "completed" and later.pending_approvals == []


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[tuple[Path, list[Server]]]:
    servers: list[Server] = []
    yield tmp_path, servers
    for server in servers:
        server.stop()


def test_decided_after_the_server_restarted(own_server: tuple[Path, list[Server]]) -> None:
    workdir, servers = own_server
    servers.append(agio_serve(workdir, "before"))
    with httpx.Client(base_url=servers[0].url, timeout=30) as client:
        assert client.post("/api/agents", json=ASKER).status_code == 201
        run = waiting_run(client, "asker", "What is 8+8?")
    assert servers[0].stop() in {0, -15}
    servers.append(agio_serve(workdir, "after"))  # the same AGIO_HOME, a new process
    with httpx.Client(base_url=servers[1].url, timeout=30) as client:
        waiting = client.get(f"/api/runs/{run['id']}").json()
        assert waiting["status"] == "awaiting_approval"  # not taken for interrupted
        call = waiting["pending_approvals"][0]["tool_call_id"]
        assert (
            decide(client, run["id"], {"tool_call_id": call, "decision": "approve"}).status_code
            == 200
        )
        done = wait_for_status(client, run["id"], {"completed", "failed", "cancelled"})
    assert done["status"] == "completed" and "8+8 = 16" in done["response"]


def test_the_cli_decides_against_a_server(
    server: Server, client: httpx.Client, asker: str, tmp_path: Path
) -> None:
    env = clean_env(tmp_path / "cli-home", AGIO_SERVER_URL=server.url)

    def agio(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agio_cli", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )

    chat = agio("chat", "-a", asker, "What is 5*5?")
    assert chat.returncode == 1 and "agio runs approve run_" in chat.stderr, chat.stderr
    run_id = chat.stderr.split("agio runs approve ", 1)[1].split()[0]
    assert agio("runs", "list", "-q", "--status", "awaiting_approval").stdout.count(run_id) == 1
    approved = agio("runs", "approve", run_id)
    assert approved.returncode == 0, approved.stderr
    assert "5*5 = 25" in approved.stdout  # followed over SSE until it completed
    assert client.get(f"/api/runs/{run_id}").json()["status"] == "completed"
