"""Several `agio serve` workers on one PostgreSQL database behave as one server.

Every request goes over a new connection, so the kernel hands it to any of the workers: a run
is started by one, paused, resumed, cancelled and joined through others. The store's control
log records who asked (`requested_by`) and who drove the run then (`run_owner`), which shows
that requests really crossed workers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from helpers.agents import stepper_agent
from serve_helpers import (
    STREAM_END,
    TERMINAL,
    AgioServer,
    fresh_connections_client,
    server_env,
    sse_events,
)

if TYPE_CHECKING:  # psycopg may be missing: then the PostgreSQL tests skip, this one runs
    from agio_core.store.postgres import PostgresStore

CHATS = 50
ROLES = ["complete"] * 10 + ["pause_resume"] * 15 + ["cancel"] * 15 + ["pause_cancel"] * 10
EXPRESSIONS = 10


def stepper(agent_id: str, delay_ms: int) -> dict[str, Any]:
    return stepper_agent(agent_id, delay_ms=delay_ms, max_steps=40)


def question(i: int) -> str:
    return "What are " + ", ".join(f"{i}+{k}" for k in range(1, EXPRESSIONS + 1)) + "?"


def assert_answers(i: int, response: str | None) -> None:
    assert response is not None
    for k in range(1, EXPRESSIONS + 1):
        assert f"{i}+{k} = {i + k}" in response, response


@dataclass
class Outcome:
    index: int
    role: str
    run_id: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    owner_after_resume: str | None = None


async def join(client: httpx.AsyncClient, run_id: str, after: int) -> list[dict[str, Any]]:
    """The run's events after seq `after`, until its stream ends (via any worker)."""
    async with client.stream(
        "GET", f"/api/runs/{run_id}/events", headers={"Last-Event-ID": str(after)}
    ) as response:
        assert response.status_code == 200
        return [event async for event in sse_events(response)]


async def drive(client: httpx.AsyncClient, store: PostgresStore, index: int, role: str) -> Outcome:
    outcome = Outcome(index, role)
    await asyncio.sleep(index * 0.02)  # a ramp: connections are accepted one at a time
    control: asyncio.Task[httpx.Response] | None = None
    body = {"agent_id": "mw-stepper", "message": question(index)}
    async with client.stream("POST", "/api/chat", json=body) as response:
        assert response.status_code == 200, await response.aread()
        async for event in sse_events(response):
            outcome.received.append(event)
            outcome.run_id = event["run_id"]
            if role != "complete" and control is None and event["type"] == "tool_call_completed":
                action = "cancel" if role == "cancel" else "pause"
                control = asyncio.create_task(client.post(f"/api/runs/{outcome.run_id}/{action}"))
    run_id = outcome.run_id
    if control is not None:
        answer = await control
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == ("cancelled" if role == "cancel" else "paused")
    last = outcome.received[-1]
    if role in {"pause_resume", "pause_cancel"}:
        assert last["type"] == "run_paused", (role, last)
    if role == "pause_resume":
        resumed = await client.post(f"/api/runs/{run_id}/resume")
        assert resumed.status_code == 200, resumed.text
        run = await store.get_run(run_id)
        outcome.owner_after_resume = run.owner if run else None
        outcome.received += await join(client, run_id, last["seq"])
    elif role == "pause_cancel":
        cancelled = await client.post(f"/api/runs/{run_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        outcome.received += await join(client, run_id, last["seq"])
    return outcome


async def test_fifty_chats_controlled_through_other_workers(
    served: AgioServer, database_url: str
) -> None:
    from agio_core.store.postgres import PostgresStore

    store = PostgresStore(database_url)
    await store.open()
    async with fresh_connections_client(served.url) as client:
        created = await client.post("/api/agents", json=stepper("mw-stepper", 50))
        assert created.status_code in {200, 201}, created.text
        outcomes = await asyncio.wait_for(
            asyncio.gather(*(drive(client, store, i, role) for i, role in enumerate(ROLES))),
            timeout=90,
        )
        assert len(outcomes) == CHATS

        listed = (await client.get("/api/runs", params={"agent_id": "mw-stepper"})).json()
        assert listed["total"] == CHATS

        crossed = same = resumed_elsewhere = 0
        owners: set[str] = set()
        for outcome in outcomes:
            run = (await client.get(f"/api/runs/{outcome.run_id}")).json()
            expected = (
                "completed"
                if "resume" in outcome.role or outcome.role == "complete"
                else ("cancelled")
            )
            assert run["status"] == expected, (outcome.role, run)
            if expected == "completed":
                assert_answers(outcome.index, run["response"])

            # Nothing lost: what the clients saw live (through several workers) is the
            # complete, gap-free log that any worker replays.
            replay_response = await client.get(
                f"/api/runs/{outcome.run_id}/events", params={"follow": "false"}
            )
            replay = [e async for e in sse_events(replay_response)]
            assert [e["seq"] for e in replay] == list(range(1, len(replay) + 1))
            assert outcome.received == replay, outcome.role
            types = [e["type"] for e in replay]
            assert [t for t in types if t in TERMINAL] == [types[-1]]
            assert types.count("run_paused") == (1 if "pause" in outcome.role else 0)
            assert types.count("run_resumed") == (1 if outcome.role == "pause_resume" else 0)

            # Where each request landed: the worker that took it vs the one driving the run.
            history = await store.control_history(outcome.run_id)
            for record in history:
                assert record.requested_by and record.run_owner and record.cleared_at
                owners.add(record.run_owner)
                if record.requested_by != record.run_owner:
                    crossed += 1
                else:
                    same += 1
            if outcome.role == "pause_resume":
                assert history and history[0].action == "pause"
                if outcome.owner_after_resume not in {None, history[0].run_owner}:
                    resumed_elsewhere += 1
    await store.close()

    controlled = sum(1 for r in ROLES if r != "complete")
    # pause_cancel runs: the cancel of a paused run needs no owner, so it is not logged.
    assert crossed + same == controlled
    spread = Counter(crossed=crossed, same=same, resumed_elsewhere=resumed_elsewhere)
    assert len(owners) >= 2, (owners, spread)  # the chats themselves went to several workers
    assert crossed >= controlled // 4, (owners, spread)
    assert resumed_elsewhere >= 1, (owners, spread)


async def test_runs_of_a_killed_worker_are_interrupted_and_resume_elsewhere(
    served: AgioServer, database_url: str
) -> None:
    from agio_core.store.postgres import PostgresStore

    store = PostgresStore(database_url)
    await store.open()
    try:
        async with fresh_connections_client(served.url) as client:
            await client.post("/api/agents", json=stepper("mw-survivor", 60))
            started = await client.post(
                "/api/runs", json={"agent_id": "mw-survivor", "message": question(7)}
            )
            assert started.status_code == 201, started.text
            run_id = started.json()["id"]

            seen: list[dict[str, Any]] = []
            async with client.stream("GET", f"/api/runs/{run_id}/events") as response:
                async for event in sse_events(response):
                    seen.append(event)
                    if [e["type"] for e in seen].count("tool_call_completed") == 2:
                        break
            run = await store.get_run(run_id)
            assert run is not None and run.owner is not None
            victim = int(run.owner.rsplit(":", 1)[1])
            assert victim in served.worker_pids()
            os.kill(victim, signal.SIGKILL)

            # Any other worker sees the owner is gone and says so.
            deadline = asyncio.get_running_loop().time() + 30
            while (status := (await client.get(f"/api/runs/{run_id}")).json()["status"]) not in {
                "interrupted"
            }:
                assert status == "running", status
                assert asyncio.get_running_loop().time() < deadline, "never interrupted"
                await asyncio.sleep(0.2)

            resumed = await client.post(f"/api/runs/{run_id}/resume")
            assert resumed.status_code == 200, resumed.text
            run = await store.get_run(run_id)
            assert run is not None
            if run.owner is not None:
                assert int(run.owner.rsplit(":", 1)[1]) != victim

            # Join the rest from wherever we left, through any worker.
            rest = await join(client, run_id, seen[-1]["seq"])
            assert rest[-1]["type"] == "run_completed"
            final = (await client.get(f"/api/runs/{run_id}")).json()
            assert final["status"] == "completed"
            assert_answers(7, final["response"])

            replay_response = await client.get(
                f"/api/runs/{run_id}/events", params={"follow": "false"}
            )
            replay = [e async for e in sse_events(replay_response)]
            assert [e["seq"] for e in replay] == list(range(1, len(replay) + 1))
            assert replay[: len(seen)] == seen and replay[-len(rest) :] == rest
            types = [e["type"] for e in replay]
            assert types.count("run_started") == 1 and types.count("run_resumed") == 1
            assert [t for t in types if t in TERMINAL] == ["run_completed"]
            assert not [t for t in types[:-1] if t in STREAM_END]
    finally:
        await store.close()


async def test_restore_and_fork_through_any_worker(served: AgioServer) -> None:
    """Checkpoints written by one worker are listed, forked and restored by the others."""
    async with fresh_connections_client(served.url) as client:
        await client.post("/api/agents", json=stepper("mw-brancher", 0))
        done = await client.post(
            "/api/chat",
            json={"agent_id": "mw-brancher", "message": question(3), "stream": False},
        )
        assert done.status_code == 200 and done.json()["status"] == "completed", done.text
        run_id = done.json()["run_id"]
        checkpoints = (await client.get(f"/api/checkpoints/runs/{run_id}/checkpoints")).json()[
            "items"
        ]
        assert len(checkpoints) >= EXPRESSIONS

        forks = await asyncio.gather(
            *(
                client.post(
                    f"/api/checkpoints/{checkpoints[k]['id']}/fork",
                    json={"modifications": {"modified_query": question(k + 10)}},
                )
                for k in range(4)
            )
        )
        for k, fork in enumerate(forks):
            assert fork.status_code == 200, fork.text
            new = fork.json()["run_id"]
            events = await join(client, new, 0)
            assert events[-1]["type"] == "run_completed"
            final = (await client.get(f"/api/runs/{new}")).json()
            assert final["parent_run_id"] == run_id
            assert_answers(k + 10, final["response"])

        middle = checkpoints[len(checkpoints) // 2]["id"]
        restored = await client.post(
            f"/api/checkpoints/{middle}/restore", json={"create_new_run": False}
        )
        assert restored.status_code == 200, restored.text
        first_seq = restored.json()["first_seq"]
        rest = await join(client, run_id, first_seq - 1)
        assert rest[0]["seq"] == first_seq and rest[-1]["type"] == "run_completed"
        assert_answers(3, (await client.get(f"/api/runs/{run_id}")).json()["response"])
        after = (await client.get(f"/api/checkpoints/runs/{run_id}/checkpoints")).json()["items"]
        assert any(c["superseded"] for c in after)
        tree = (await client.get(f"/api/runs/{run_id}/tree")).json()
        assert len(tree["children"]) == 4


def test_tinydb_refuses_several_workers(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agio_cli", "serve", "--workers", "2", "--port", "0"],
        env=server_env(tmp_path / "home"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "PostgreSQL" in result.stderr and "Traceback" not in result.stderr
