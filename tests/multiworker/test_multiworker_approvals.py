"""Approvals through several `agio serve` workers on one PostgreSQL database: a run asked for
through one worker is decided, call by call, through others, and goes on in whichever worker
made the last decision."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from serve_helpers import AgioServer, fresh_connections_client, sse_events

RUNS = 12
ASKER: dict[str, Any] = {
    "id": "mw-asker",
    "model": "offline/demo",
    # Slow enough that the run is still going when its decider's worker is looked up.
    "model_params": {"delay_ms": 40},
    "tools": ["calculator"],
    "approval": {"calculator": "ask"},
}


async def ask_and_decide(client: httpx.AsyncClient, store: Any, i: int) -> tuple[str, str | None]:
    await asyncio.sleep(i * 0.02)
    body = {"agent_id": ASKER["id"], "message": f"What is {i}+1 and {i}*2?", "stream": False}
    started = await client.post("/api/chat", json=body)
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "awaiting_approval", started.json()
    run_id = started.json()["run_id"]
    run = (await client.get(f"/api/runs/{run_id}")).json()
    first, second = (p["tool_call_id"] for p in run["pending_approvals"])
    # Each request on a new connection: any worker takes it.
    one = await client.post(
        f"/api/runs/{run_id}/approvals",
        json={"decisions": [{"tool_call_id": first, "decision": "approve"}]},
    )
    assert one.status_code == 200 and one.json()["status"] == "awaiting_approval", one.text
    two = await client.post(
        f"/api/runs/{run_id}/approvals",
        json={"decisions": [{"tool_call_id": second, "decision": "deny", "reason": f"no {i}"}]},
    )
    assert two.status_code == 200 and two.json()["status"] != "awaiting_approval", two.text
    stored = await store.get_run(run_id)
    owner = stored.owner if stored is not None else None
    async with client.stream(
        "GET", f"/api/runs/{run_id}/events", headers={"Last-Event-ID": "0"}
    ) as response:
        events = [event async for event in sse_events(response)]
    assert events[-1]["type"] == "run_completed", events[-1]
    response_text = events[-1]["response"]
    assert f"{i}+1 = {i + 1}" in response_text and f"no {i}" in response_text
    resolved = [e["decision"] for e in events if e["type"] == "tool_approval_resolved"]
    assert resolved == ["approved", "denied"]
    return run_id, owner


async def test_decisions_through_any_worker(served: AgioServer, database_url: str) -> None:
    from agio_core.store.postgres import PostgresStore

    store = PostgresStore(database_url)
    await store.open()
    try:
        async with fresh_connections_client(served.url) as client:
            created = await client.post("/api/agents", json=ASKER)
            assert created.status_code in {200, 201}, created.text
            outcomes = await asyncio.wait_for(
                asyncio.gather(*(ask_and_decide(client, store, i) for i in range(RUNS))),
                timeout=90,
            )
    finally:
        await store.close()
    owners = {owner for _, owner in outcomes if owner is not None}
    # The runs went on in the workers that took their last decision: more than one of them.
    assert len(owners) >= 2, owners
