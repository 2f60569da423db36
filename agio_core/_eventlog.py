"""A run's event log in the process that drives it: numbering, live readers, batched stores."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import AsyncIterator

from .events import Envelope, Event
from .store import Store

# A run's events go to the store at most once per this interval (and at every `flush()`):
# a stream of 50 tokens/s costs 10 appends a second, not 50. Live readers of this process
# are handed each event at once; readers in other processes see the store's batches.
STORE_EVERY_S = 0.1


# Stored events a live run keeps in memory for its readers: a reader further behind reads
# the rest from the store, so a long stream's memory stays bounded (issue 13).
TAIL_EVENTS = 4096


class EventLog:
    """Events of one run in this process.

    An event is numbered and handed to live readers at once; a single writer task stores
    what has piled up in batches, at most one write per `STORE_EVERY_S`, so a stream costs
    a store write per interval, not one per token. `flush()` waits until everything emitted
    is stored: the engine calls it before every checkpoint and at the end of the run, so no
    acknowledged state is ahead of its events. Memory holds the last `tail` stored events
    and every one not yet stored.
    """

    def __init__(self, run_id: str, store: Store, last_seq: int, tail: int = TAIL_EVENTS) -> None:
        self.run_id = run_id
        self.store = store
        self.seq = last_seq
        self.first_seq = last_seq + 1
        self.tail = tail
        self.events: deque[Event] = deque()  # seqs from events[0].seq to self.seq
        self._stored_seq = last_seq
        self.closed = False
        # One future per reader waiting for the next event (bare futures: an `asyncio.Event`
        # per token costs several times more); most emits find none.
        self._waiters: list[asyncio.Future[None]] = []
        self._unstored: list[Event] = []
        self._writer: asyncio.Task[None] | None = None
        # While the writer rests between writes: resolving it makes the writer go on now.
        self._resting: asyncio.Future[None] | None = None
        self._flushing = 0  # callers of `flush()` waiting: the writer does not rest for them

    def envelope(self) -> Envelope:
        """The numbering of the next event: `emit(ContentDelta(**log.envelope(), ...))`."""
        self.seq += 1
        return {"seq": self.seq, "run_id": self.run_id}

    async def emit(self, event: Event) -> None:
        """Hand `event` to live readers and queue it for the store. It must carry the envelope
        just taken from `envelope()`: the log has no gaps and no other run's events."""
        if event.seq != self.seq or event.run_id != self.run_id:
            raise ValueError(f"event {event.seq} of {event.run_id} is not the next of this log")
        self.events.append(event)
        self._unstored.append(event)
        self._trim()
        self._ensure_writer()
        self._notify()

    def _ensure_writer(self) -> None:
        if self._writer is not None and not self._writer.done():
            return
        if self._writer is not None and not self._writer.cancelled():
            # A failed write left its batch pending: the new writer tries it again, and
            # `flush()` raises if the store still refuses.
            self._writer.exception()
        self._writer = asyncio.create_task(self._store_pending())

    async def _store_pending(self) -> None:
        while self._unstored:
            count = len(self._unstored)
            await self.store.append_events(self.run_id, self._unstored[:count])
            self._stored_seq = self._unstored[count - 1].seq
            del self._unstored[:count]  # only once stored: a failed batch is not lost
            self._trim()
            if not self._flushing:
                await self._rest()

    def _trim(self) -> None:
        """Forget stored events beyond the tail (never one that is not stored yet)."""
        while len(self.events) > self.tail and self.events[0].seq <= self._stored_seq:
            self.events.popleft()

    async def _rest(self) -> None:
        """Let the next events pile up for one interval, unless `flush()` is waiting."""
        loop = asyncio.get_running_loop()
        self._resting = loop.create_future()
        timer = loop.call_later(STORE_EVERY_S, self._stop_resting)
        try:
            await self._resting
        finally:
            timer.cancel()
            self._resting = None

    def _stop_resting(self) -> None:
        if self._resting is not None and not self._resting.done():
            self._resting.set_result(None)

    async def flush(self) -> None:
        """Wait until every emitted event is stored (raises what the store raised)."""
        self._stop_resting()
        if self._unstored:
            self._ensure_writer()
        if self._writer is not None:
            self._flushing += 1
            try:
                # Shielded: a cancelled run still stores what its readers have already seen.
                await asyncio.shield(self._writer)
            finally:
                self._flushing -= 1

    def close(self) -> None:
        self.closed = True
        self._notify()

    def _notify(self) -> None:
        if self._waiters:
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self._waiters = []

    async def follow(self, after_seq: int) -> AsyncIterator[list[Event]]:
        """The events after `after_seq` (from this log's `first_seq` on) until the log
        closes, in batches of what piled up since the reader last looked. A reader that fell
        behind the tail kept in memory reads what it missed from the store."""
        wanted = max(after_seq + 1, self.first_seq)
        while True:
            oldest = self.events[0].seq if self.events else self.seq + 1
            if wanted < oldest:  # dropped from memory, so stored: read it there
                stored = await self.store.read_events(self.run_id, wanted - 1)
                batch = [event for event in stored if event.seq < oldest]
                wanted = batch[-1].seq + 1 if batch else oldest
                if batch:
                    yield batch
                continue
            if wanted <= self.seq:
                batch = list(itertools.islice(self.events, wanted - oldest, None))
                wanted = batch[-1].seq + 1
                yield batch
                continue  # more may have come while the reader was busy with this batch
            if self.closed:
                return
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if not waiter.done() or waiter.cancelled():  # this reader went away
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(waiter)
