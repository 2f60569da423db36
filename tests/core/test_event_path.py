"""The event path's batching: the log's writer, its readers, TinyDB's open logs and its
control signal. (Its speed is measured by bench/serve_capacity.py, not here.)"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from pathlib import Path

import pytest

from agio_core import Agio, ContentDelta, Run, RunPaused, Settings, StepStarted
from agio_core import _eventlog as engine
from agio_core.events import Event
from agio_core.ids import new_run_id
from agio_core.runs import ControlRequest
from agio_core.store import _tinydb_events
from agio_core.store.tinydb import TinyDBStore


async def new_run(store: TinyDBStore) -> Run:
    run = Run(id=new_run_id(), agent_id="assistant", session_id="s", input="hi")
    await store.create_run(run)
    return run


@pytest.fixture
async def store(home: Path) -> TinyDBStore:
    store = TinyDBStore(home)
    await store.open()
    yield store  # type: ignore[misc]
    await store.close()


# A coalescing interval no test waits out: only a pile of events or the end ends a wait.
NEVER_S = 3600.0


async def new_log(store: TinyDBStore) -> engine.EventLog:
    return engine.EventLog((await new_run(store)).id, store, last_seq=0)


def stored_lines(store: TinyDBStore, run_id: str) -> int:
    path = store.runs_dir / run_id / "events.jsonl"
    return len(path.read_bytes().splitlines()) if path.exists() else 0


async def test_the_writer_batches_what_comes_while_it_rests_and_flush_never_waits(
    store: TinyDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An interval no test waits out: if flush() waited for it, the test would time out.
    monkeypatch.setattr(engine, "STORE_EVERY_S", 3600.0)
    run = await new_run(store)
    log = engine.EventLog(run.id, store, last_seq=0)
    await log.emit(StepStarted(**log.envelope(), step=1))
    for _ in range(3):
        await asyncio.sleep(0)  # the writer stores the first event, then rests
    assert stored_lines(store, run.id) == 1
    for word in ["a", "b", "c"]:
        await log.emit(ContentDelta(**log.envelope(), content=word, step=1))
    for _ in range(3):
        await asyncio.sleep(0)
    assert stored_lines(store, run.id) == 1  # piled up while the writer rests
    await log.flush()
    assert [e.seq for e in await store.read_events(run.id)] == [1, 2, 3, 4]
    await log.emit(ContentDelta(**log.envelope(), content="d", step=1))
    await log.flush()  # right after a write: does not rest either
    assert stored_lines(store, run.id) == 5


async def test_a_reader_that_goes_away_does_not_stop_the_others(store: TinyDBStore) -> None:
    run = await new_run(store)
    log = engine.EventLog(run.id, store, last_seq=0)

    async def read(into: list[Event]) -> None:
        async for batch in log.follow(0):
            into.extend(batch)

    leaving: list[Event] = []
    leaver = asyncio.create_task(read(leaving))
    received: list[Event] = []
    stayer = asyncio.create_task(read(received))
    await asyncio.sleep(0)  # both wait for the first event
    leaver.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await leaver
    await log.emit(StepStarted(**log.envelope(), step=1))
    await log.emit(ContentDelta(**log.envelope(), content="x", step=1))
    log.close()
    await asyncio.wait_for(stayer, 10)
    assert [e.seq for e in received] == [1, 2] and leaving == []
    await log.flush()


async def test_a_coalescing_reader_gets_tokens_in_batches_and_the_end_at_once(
    store: TinyDBStore,
) -> None:
    log = await new_log(store)
    batches: list[list[int]] = []
    arrived = asyncio.Event()

    async def read() -> None:
        async for batch in log.follow(0, coalesce_s=NEVER_S):
            batches.append([e.seq for e in batch])
            arrived.set()

    async def emit_tokens(count: int) -> None:
        for _ in range(count):
            await log.emit(ContentDelta(**log.envelope(), content="w ", step=1))

    async def next_batch() -> list[int]:
        await asyncio.wait_for(arrived.wait(), 10)
        arrived.clear()
        return batches[-1]

    async def nothing_read_yet() -> bool:
        for _ in range(5):
            await asyncio.sleep(0)
        return not arrived.is_set()

    reader = asyncio.create_task(read())
    await asyncio.sleep(0)
    await emit_tokens(1)
    assert await next_batch() == [1]  # the first token at once
    await emit_tokens(engine.COALESCE_MAX_EVENTS - 1)
    assert await nothing_read_yet()  # fewer than a pile: they wait for the tick
    await emit_tokens(1)
    assert await next_batch() == list(range(2, engine.COALESCE_MAX_EVENTS + 2))
    await emit_tokens(2)
    await log.emit(StepStarted(**log.envelope(), step=2))  # neither a pile nor the end
    assert await nothing_read_yet()
    await log.emit(RunPaused(**log.envelope()))  # the end of this stretch: at once
    last = engine.COALESCE_MAX_EVENTS + 5
    assert await next_batch() == list(range(last - 3, last + 1))
    await asyncio.wait_for(reader, 10)  # which ends the stream
    assert log._coalescing == []
    await log.flush()


async def test_a_log_that_closes_ends_a_coalescing_wait(store: TinyDBStore) -> None:
    log = await new_log(store)
    batches: list[list[int]] = []

    async def read() -> None:
        async for batch in log.follow(0, coalesce_s=NEVER_S):
            batches.append([e.seq for e in batch])

    reader = asyncio.create_task(read())
    await asyncio.sleep(0)
    for _ in range(3):
        await log.emit(ContentDelta(**log.envelope(), content="w ", step=1))
        await asyncio.sleep(0)
    log.close()  # no end event (e.g. the process shuts down): what piled up, then the end
    await asyncio.wait_for(reader, 10)
    assert [seq for batch in batches for seq in batch] == [1, 2, 3]
    await log.flush()


async def test_a_reader_that_goes_away_while_coalescing_leaves_nothing_behind(
    store: TinyDBStore,
) -> None:
    log = await new_log(store)

    async def read() -> None:
        async for _ in log.follow(0, coalesce_s=NEVER_S):
            pass

    reader = asyncio.create_task(read())
    await asyncio.sleep(0)
    await log.emit(ContentDelta(**log.envelope(), content="w ", step=1))
    for _ in range(3):
        await asyncio.sleep(0)
    assert len(log._coalescing) == 1  # waiting for more tokens
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    assert log._coalescing == []
    await log.emit(ContentDelta(**log.envelope(), content="w ", step=1))  # wakes no one
    await log.flush()


def open_event_logs() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
            count += os.readlink(f"/proc/self/fd/{fd}").endswith("events.jsonl")
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors in /proc")
async def test_event_logs_stay_open_between_syncs_up_to_a_limit(
    store: TinyDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_tinydb_events, "MAX_OPEN_EVENT_LOGS", 2)
    runs = [await new_run(store) for _ in range(4)]
    before = open_event_logs()
    for round_ in range(3):
        for run in runs:
            delta = ContentDelta(seq=round_ + 1, run_id=run.id, content=f"{round_}", step=1)
            await store.append_events(run.id, [delta])
    assert open_event_logs() - before == 2  # the others opened and closed each append
    for run in runs:
        assert [e.content for e in await store.read_events(run.id)] == ["0", "1", "2"]  # type: ignore[union-attr]
    await store.sync_events(runs[0].id)
    assert open_event_logs() - before == 1
    await store.close()
    assert open_event_logs() == before


async def test_a_torn_line_left_by_another_process_is_cut_at_the_next_open(
    store: TinyDBStore,
) -> None:
    run = await new_run(store)
    await store.append_events(run.id, [StepStarted(seq=1, run_id=run.id, step=1)])
    await store.sync_events(run.id)  # closes this process's descriptor
    with (store.runs_dir / run.id / "events.jsonl").open("ab") as handle:
        handle.write(b'{"seq": 2, "ty')  # a crash mid-append, elsewhere
    await store.append_events(run.id, [StepStarted(seq=2, run_id=run.id, step=2)])
    assert [e.seq for e in await store.read_events(run.id)] == [1, 2]


async def test_a_control_request_made_while_nobody_waits_wakes_the_next_wait(
    store: TinyDBStore, home: Path
) -> None:
    run = await new_run(store)
    await store.wait_for_control(run.id, 0.01)  # the signal's state is known from here on
    other = TinyDBStore(home)  # as another process would
    await other.request_control(run.id, ControlRequest(action="cancel"))
    # Not the 10 s timeout: the change is seen at the first poll.
    await asyncio.wait_for(store.wait_for_control(run.id, 3600), 10)
    assert (await store.get_control(run.id)).action == "cancel"  # type: ignore[union-attr]
    await other.close()


async def test_a_live_reader_has_the_end_without_waiting_for_the_runs_last_sync(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's end event reaches its readers once its record is durable, not after the
    log's own last fsync too (the record is the truth: a reader rebuilds a lost end event)."""
    syncing_the_end, release = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        if path.endswith("events.jsonl") and b'"run_completed"' in Path(path).read_bytes():
            syncing_the_end.set()
            release.wait(10)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    async with Agio(Settings(home=home)) as agio:
        handle = await agio.start_chat("assistant", "count to 3")
        seen: list[Event] = []

        async def read_all() -> None:
            async for batch in agio.event_batches(handle.run_id):
                seen.extend(batch)

        try:
            await asyncio.wait_for(read_all(), 5)  # ends while the last fsync is held
            assert seen[-1].type == "run_completed"
            assert syncing_the_end.wait(5)
        finally:
            release.set()
        assert (await handle.wait()).status == "completed"
        assert [e.seq for e in await agio.store.read_events(handle.run_id)] == [e.seq for e in seen]
