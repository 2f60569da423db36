"""A new run's first model request goes out while the run is being stored (`_readahead.py`):
what the run's events and record say, and what the model server sees."""

from __future__ import annotations

import asyncio
import errno
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_openai import FakeOpenAIServer, TextReply

from agio_core import Agio, Settings, StoreError

SLOW = TextReply(tuple(f"w{i} " for i in range(100)), delay=0.05)


@pytest.fixture
async def agio(home: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[Agio]:
    settings = Settings(home=home, openai_base_url=fake_openai.base_url, openai_api_key="sk-test")
    async with Agio(settings) as facade:
        await facade.create_agent(
            {"id": "gpt", "model": "openai/gpt-4o-mini", "tools": ["calculator"]}
        )
        yield facade


class ListingFsyncs:
    """Holds (or fails) the fsync of the run listing's line: the last write of a run's
    creation, so the run is being stored for as long as it is held."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, fail: bool = False) -> None:
        self.reached, self.release = threading.Event(), threading.Event()
        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            if os.readlink(f"/proc/self/fd/{fd}").endswith("runs.jsonl"):
                self.reached.set()
                self.release.wait(10)
                if fail:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)


async def test_the_first_request_goes_out_while_the_run_is_being_stored(
    agio: Agio, fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_openai.queue(TextReply(("Hel", "lo", " there")))
    listing = ListingFsyncs(monkeypatch)
    starting = asyncio.create_task(agio.start_chat("gpt", "hi"))
    try:
        await asyncio.to_thread(fake_openai.wait_for_requests, 1)
        # The model has the request; the run is not stored yet (its last write is held).
        assert await asyncio.to_thread(listing.reached.wait, 5)
        assert not starting.done()
    finally:
        listing.release.set()
    handle = await starting
    events = [event async for event in handle.events()]
    assert [e.type for e in events] == [
        "run_started",
        "checkpoint_created",
        "step_started",
        *["content_delta"] * 3,
        "usage",
        "checkpoint_created",
        "run_completed",
    ]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    run = await agio.get_run(handle.run_id)
    assert run.status == "completed" and run.response == "Hello there"
    assert fake_openai.chat_requests[0]["tools"][0]["function"]["name"] == "calculator"


async def test_a_run_that_cannot_be_stored_drops_its_early_request(
    agio: Agio, fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_openai.queue(SLOW)
    listing = ListingFsyncs(monkeypatch, fail=True)
    starting = asyncio.create_task(agio.start_chat("gpt", "hi"))
    await asyncio.to_thread(fake_openai.wait_for_requests, 1)
    listing.release.set()
    with pytest.raises(StoreError, match="disk full"):
        await starting
    await asyncio.to_thread(fake_openai.wait_for_clients_leaving, 1)  # the stream was closed
    assert (await agio.list_runs()).items == []


async def test_a_pause_at_once_drops_the_early_request_and_resume_asks_again(
    agio: Agio, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.queue(SLOW, TextReply(("done",)))
    handle = await agio.start_chat("gpt", "hi")
    assert (await agio.pause_run(handle.run_id)).status == "paused"
    await asyncio.to_thread(fake_openai.wait_for_clients_leaving, 1)
    resumed = await (await agio.resume_run(handle.run_id)).wait()
    assert resumed.status == "completed" and resumed.response == "done"
    assert len(fake_openai.chat_requests) == 2
