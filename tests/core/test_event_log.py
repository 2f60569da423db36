"""A live run's events: bounded memory, and readers that fall behind lose nothing (issue 13).

The EventLog keeps only a tail of stored events in memory; a reader further behind reads
what it missed from the store. Also: the offline model says when it shortens an answer.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from agio_core import Agio, ContentDelta, Settings
from agio_core._eventlog import EventLog
from agio_core.ids import new_run_id
from agio_core.providers import ModelRequest, ModelResponse
from agio_core.providers.offline import MAX_COUNT, OfflineProvider
from agio_core.runs import Run
from agio_core.store.tinydb import TinyDBStore


async def test_memory_holds_a_tail_and_late_readers_read_the_rest_from_the_store(
    home: Path,
) -> None:
    store = TinyDBStore(home)
    await store.open()
    run = Run(id=new_run_id(), agent_id="assistant", session_id="s", input="x")
    await store.create_run(run)
    log = EventLog(run.id, store, last_seq=0, tail=16)
    for index in range(1000):
        await log.emit(ContentDelta(**log.envelope(), content=f"{index} ", step=1))
        if index % 50 == 0:
            await log.flush()
            assert len(log.events) <= 16, len(log.events)
    await log.flush()
    assert len(log.events) <= 16
    log.close()
    late = [event.seq async for batch in log.follow(0) for event in batch]
    assert late == list(range(1, 1001))
    middle = [event.seq async for batch in log.follow(500) for event in batch]
    assert middle == list(range(501, 1001))


async def test_a_slow_reader_of_a_long_live_stream_gets_every_event(settings: Settings) -> None:
    async with Agio(settings) as agio:
        await agio.create_agent(
            {"id": "fast", "model": "offline/demo", "model_params": {"delay_ms": 0}}
        )
        handle = await agio.start_chat("fast", "count to 20000")
        seqs: list[int] = []
        async for event in handle.events():
            seqs.append(event.seq)
            if len(seqs) % 500 == 0:
                await asyncio.sleep(0.02)  # falls behind the run by far more than the tail
        run = await handle.wait()
    assert run.status == "completed"
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) > 20000


async def test_the_offline_model_says_when_it_stops_counting_short() -> None:
    async def answer(message: str) -> str:
        request = ModelRequest(
            model="demo",
            messages=[{"role": "user", "content": message}],
            params={"delay_ms": 0},
        )
        parts = [part async for part in OfflineProvider().stream(request)]
        final = parts[-1]
        assert isinstance(final, ModelResponse)
        return final.content

    capped = await answer(f"count to {MAX_COUNT * 2}")
    assert capped.startswith("1 2 3 ") and f" {MAX_COUNT}." in capped
    assert capped.endswith("it stopped there instead of at 200,000.)")
    exact = await answer(f"count to {MAX_COUNT}")
    assert exact.endswith(f" {MAX_COUNT}.")  # nothing shortened, nothing said


async def test_paced_offline_streams_share_timers_and_a_cancelled_one_cancels_no_other() -> None:
    """Streams paced together wait on the same ticks (one timer each): cancelling some of
    them mid-stream must leave every other stream with all its words, in order."""
    provider = OfflineProvider()
    words = [f"{i} " for i in range(1, 30)] + ["30."]
    request = ModelRequest(
        model="demo", messages=[{"role": "user", "content": "count to 30"}], params={"delay_ms": 1}
    )
    started = [asyncio.Event() for _ in range(12)]

    async def read(index: int) -> list[str]:
        texts = []
        async for part in provider.stream(request):
            if isinstance(part, ModelResponse):
                break
            texts.append(part.content)
            if len(texts) == 3:
                started[index].set()
        return texts

    tasks = [asyncio.create_task(read(i)) for i in range(12)]
    for index in range(0, 12, 2):
        await started[index].wait()
        tasks[index].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for index, result in enumerate(results):
        if index % 2 == 0:
            assert isinstance(result, asyncio.CancelledError)
        else:
            assert result == words, (index, result)
