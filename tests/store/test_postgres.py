"""What only the PostgreSQL store does: schema migration, errors, audit trail, facade on top."""

from __future__ import annotations

import asyncio

import pgserver
import pytest

from agio_core import Agio, Settings
from agio_core.errors import StoreError
from agio_core.events import Event, StepStarted
from agio_core.ids import new_run_id
from agio_core.runs import ControlRequest, Run
from agio_core.store import open_store

if reason := pgserver.unavailable_reason():
    pytest.skip(reason, allow_module_level=True)

import psycopg

from agio_core.store._postgres_db import describe_url
from agio_core.store._postgres_schema import SCHEMA_VERSION
from agio_core.store.postgres import PostgresStore


async def test_workers_starting_together_create_the_schema_once(postgres_url: str) -> None:
    stores = [PostgresStore(postgres_url) for _ in range(6)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        run = Run(id=new_run_id(), agent_id="a", session_id="s", input="x")
        await stores[0].create_run(run)
        assert await stores[5].get_run(run.id) == run
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    with psycopg.connect(postgres_url) as conn:
        versions = conn.execute("SELECT version FROM agio_schema_version").fetchall()
    assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]


async def test_a_version_1_database_is_migrated_with_its_runs(postgres_url: str) -> None:
    """Runs written before user_id existed are kept, listed, and get user_id on change."""
    from agio_core.store._postgres_schema import MIGRATIONS

    old = Run(id=new_run_id(), agent_id="a", session_id="s", input="from version 1")
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE agio_schema_version (version integer PRIMARY KEY,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("INSERT INTO agio_schema_version (version) VALUES (1)")
        conn.execute(
            "INSERT INTO agio_runs (id, agent_id, session_id, status, created_at, data)"
            " VALUES (%s, 'a', 's', 'running', now(), %s::jsonb)",
            (old.id, old.model_dump_json(exclude={"user_id"})),
        )
    store = PostgresStore(postgres_url)
    await store.open()
    try:
        assert (await store.get_run(old.id)) == old
        assert (await store.list_runs())[0] == 1
        assert (await store.list_runs(user_id="u"))[0] == 0
        await store.transition_run(old.id, {"running"}, {"user_id": "u"})
        assert [r.id for r in (await store.list_runs(user_id="u"))[1]] == [old.id]
    finally:
        await store.close()


async def test_a_newer_schema_is_refused(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    await store.open()
    await store.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO agio_schema_version (version) VALUES (%s)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="newer than this agio"):
        await PostgresStore(postgres_url).open()


async def test_unreachable_server_is_a_clear_store_error() -> None:
    url = f"postgresql://agio:s3cret-pw@127.0.0.1:{pgserver.free_port()}/nowhere"
    with pytest.raises(StoreError) as caught:
        await PostgresStore(url).open()
    message = str(caught.value)
    assert "agio@127.0.0.1" in message and "/nowhere" in message
    assert "s3cret-pw" not in message
    assert "s3cret" not in describe_url(url)


async def test_control_requests_are_kept_with_who_asked_and_who_owned(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    await store.open()
    try:
        run = Run(id=new_run_id(), agent_id="a", session_id="s", input="x", owner="host:1")
        await store.create_run(run)
        await store.request_control(run.id, ControlRequest(action="pause", requested_by="host:2"))
        await store.clear_control(run.id)
        await store.request_control(run.id, ControlRequest(action="cancel", requested_by="host:3"))
        history = await store.control_history(run.id)
        assert [(h.action, h.requested_by, h.run_owner) for h in history] == [
            ("pause", "host:2", "host:1"),
            ("cancel", "host:3", "host:1"),
        ]
        assert history[0].cleared_at is not None and history[1].cleared_at is None
    finally:
        await store.close()


def test_open_store_picks_postgres_for_postgresql_urls(postgres_url: str) -> None:
    store = open_store(Settings(database_url=postgres_url))
    assert isinstance(store, PostgresStore)
    assert "agio@127.0.0.1" in repr(store) and ":" not in repr(store).split("@")[0]


# One calculator call per step, so a pause has safe points to land on.
STEPPER = {
    "id": "stepper",
    "model": "offline/demo",
    "tools": ["calculator"],
    "model_params": {"delay_ms": 40, "parallel_tool_calls": False},
    "max_steps": 20,
}
QUESTION = "What are 1+1, 2*2, 3+3, 4*4, 5+5 and 6*6?"


async def test_facade_across_two_processes_worth_of_stores(
    postgres_url: str, home: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two facades on one database (as two workers): one runs, the other pauses, joins,
    resumes and forks it."""
    monkeypatch.setenv("AGIO_DATABASE_URL", postgres_url)
    async with Agio(Settings()) as a, Agio(Settings()) as b:
        await a.create_agent(STEPPER)
        handle = await a.start_chat("stepper", QUESTION)
        # b's view comes from the database only: a's runner is invisible to it.
        async for event in b.events(handle.run_id):
            if event.type == "tool_call_completed":
                break
        paused = await b.pause_run(handle.run_id)
        assert paused.status == "paused"
        resumed = await b.resume_run(handle.run_id)
        final = await resumed.wait()
        assert final.status == "completed" and final.response and "6*6 = 36" in final.response
        events = [e async for e in a.events(handle.run_id, follow=False)]
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        types = [e.type for e in events]
        assert types.count("run_paused") == 1 and types.count("run_resumed") == 1
        assert types[-1] == "run_completed"
        checkpoints = (await a.list_checkpoints(handle.run_id)).items
        fork = await a.fork_checkpoint(
            checkpoints[0].id, modifications={"model_params": {"delay_ms": 0}}
        )
        forked = await fork.wait()
        assert forked.status == "completed" and forked.parent_run_id == handle.run_id


async def test_wakeups_survive_a_lost_listener_connection(postgres_url: str) -> None:
    reader, writer = PostgresStore(postgres_url), PostgresStore(postgres_url)
    await reader.open()
    await writer.open()
    loop = asyncio.get_running_loop()
    try:
        run = Run(id=new_run_id(), agent_id="a", session_id="s", input="x")
        await writer.create_run(run)
        await reader.wait_for_events(run.id, 0, 0.3)  # the listener is up
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            killed = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'agio-listener' AND datname = current_database()"
            ).fetchall()
        assert killed

        async def append_later(seq: int) -> None:
            await asyncio.sleep(0.3)
            await writer.append_events(run.id, [event_of(run.id, seq)])

        for seq in (1, 2):  # the first append may happen while the listener reconnects
            appending = asyncio.create_task(append_later(seq))
            started = loop.time()
            while not await reader.read_events(run.id, seq - 1):
                await reader.wait_for_events(run.id, seq - 1, 10.0)
                assert loop.time() - started < 5.0
            await appending

        async def request_later() -> None:
            await asyncio.sleep(0.3)
            await writer.request_control(run.id, ControlRequest(action="cancel"))

        requesting = asyncio.create_task(request_later())
        started = loop.time()
        while await reader.get_control(run.id) is None:
            await reader.wait_for_control(run.id, 10.0)
            assert loop.time() - started < 5.0
        await requesting
    finally:
        await reader.close()
        await writer.close()


def event_of(run_id: str, seq: int) -> Event:
    return StepStarted(seq=seq, run_id=run_id, step=seq)


async def test_sync_events_flushes_with_or_without_logical_messages(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    await store.open()
    try:
        run = Run(id=new_run_id(), agent_id="a", session_id="s", input="x")
        await store.create_run(run)
        await store.append_events(run.id, [event_of(run.id, 1)])
        await store.sync_events(run.id)
        store._flush_by_message = False  # as where pg_logical_emit_message is not allowed
        await store.append_events(run.id, [event_of(run.id, 2)])
        await store.sync_events(run.id)
        assert [e.seq for e in await store.read_events(run.id)] == [1, 2]
        assert await store.get_run(run.id) == run
    finally:
        await store.close()
