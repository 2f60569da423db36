"""A run's event log: written in the process that drives it (numbering, live readers,
batched stores), read from any process (`EventReader`: replay, follow, end-of-stream rules)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from ._ticks import ticks
from ._time import utcnow
from .events import Envelope, Event, RunCancelled, RunCompleted, RunFailed
from .runs import FINISHED, Run, RunError

if TYPE_CHECKING:
    from .store import Store  # whose modules import `control`, which imports this one

# A run's events go to the store at most once per this interval (and at every `flush()`):
# a stream of 50 tokens/s costs 10 appends a second, not 50. Live readers of this process
# are handed each event at once; readers in other processes see the store's batches.
STORE_EVERY_S = 0.1
REST_TICK_S = 0.01  # a rest ends on the first such tick after its interval


# A reader that coalesces tokens (`follow(coalesce_s=...)`) waits for no more than this many
# to pile up: a fast model's tokens then go out in steady batches as they come, not in
# bursts one tick apart that the reader's client would sit idle between.
COALESCE_MAX_EVENTS = 64

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
        # Readers letting tokens pile up: (the seq that ends the wait, the wait's future).
        self._coalescing: list[tuple[int, asyncio.Future[None]]] = []

    def envelope(self) -> Envelope:
        """The numbering of the next event: `emit(ContentDelta(**log.envelope(), ...))`."""
        self.seq += 1
        return {"seq": self.seq, "run_id": self.run_id, "ts": utcnow()}

    async def emit(self, event: Event) -> None:
        """Hand `event` to live readers and queue it for the store. It must carry the envelope
        just taken from `envelope()`: the log has no gaps and no other run's events."""
        if event.seq != self.seq or event.run_id != self.run_id:
            raise ValueError(f"event {event.seq} of {event.run_id} is not the next of this log")
        self.events.append(event)
        self._unstored.append(event)
        if len(self.events) > self.tail:
            self._trim()
        if self._writer is None or self._writer.done():
            self._ensure_writer()
        if self._waiters:
            self._notify()
        if self._coalescing:
            self._end_coalescing(urgent=event.type in STREAM_END_EVENTS)

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
        # On a shared tick: the writers of all live runs then share a timer per tick.
        self._resting = ticks(REST_TICK_S).after(STORE_EVERY_S)
        try:
            await self._resting
        finally:
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
        self._end_coalescing(urgent=True)

    def _notify(self) -> None:
        if self._waiters:
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self._waiters = []

    def _end_coalescing(self, *, urgent: bool) -> None:
        if not urgent and self.seq < self._coalescing[0][0]:
            return  # the usual case while tokens stream: the oldest wait ends first
        waiting = []
        for ends_at, wake in self._coalescing:
            if wake.done():
                continue
            if urgent or self.seq >= ends_at:
                wake.set_result(None)
            else:
                waiting.append((ends_at, wake))
        self._coalescing = waiting

    async def _coalesce(self, interval: float) -> None:
        """Let events pile up until the next shared tick of `interval`, until
        `COALESCE_MAX_EVENTS` have, or until the event that ends the stream comes (the end
        of an answer is not held back for a tick; the usage and checkpoint just before it
        go out with it)."""
        # On a tick shared by every stream: one timer per tick for hundreds of slow streams,
        # and a deadline that does not move when the loop is late. (A wait of a whole
        # interval from each reader's last write, on finer ticks, spread the writes but let
        # a busy loop's lateness add up from one write to the next: p99 added delay at 500
        # streams 84-121 ms against 41-85, bench/serve_capacity.py.)
        entry = (self.seq + COALESCE_MAX_EVENTS, ticks(interval).after(0))
        self._coalescing.append(entry)
        try:
            await entry[1]
        finally:
            with contextlib.suppress(ValueError):
                self._coalescing.remove(entry)

    async def follow(self, after_seq: int, coalesce_s: float = 0.0) -> AsyncIterator[list[Event]]:
        """The events after `after_seq` (from this log's `first_seq` on) until the event that
        ends this stretch of the run (or the log closes without one), in batches of what
        piled up since the reader last looked. A reader that fell behind the tail kept in
        memory reads what it missed from the store.

        With `coalesce_s`, a batch that ends with a token is followed by a wait of at most
        that long for more events (see `_coalesce`): a relay that writes each batch then
        writes at most once per interval while a model streams slowly, in batches of
        `COALESCE_MAX_EVENTS` while it streams fast, and the stream's end at once."""
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
            newest = self.events[-1].seq if self.events else self.seq
            if wanted <= newest:
                # Taken from the end: the new events are the last ones, and skipping the
                # stored tail from the front would cost up to `tail` steps per read.
                batch = list(itertools.islice(reversed(self.events), newest - wanted + 1))
                batch.reverse()
                wanted = newest + 1
                yield batch
                if batch[-1].type in STREAM_END_EVENTS:
                    # Nothing follows it in this log. Not waiting for the log to close spares
                    # the reader the run's last sync: its record, which says how it ended,
                    # was durable before this event was logged.
                    return
                if coalesce_s and batch[-1].type == "content_delta" and not self.closed:
                    await self._coalesce(coalesce_s)
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


# End-of-stream rules. A finished run's log ends with one of TERMINAL_EVENTS; a stream also
# ends at a pause (nothing happens until someone resumes) or a wait for approval (until
# someone decides).
TERMINAL_EVENTS = frozenset({"run_completed", "run_failed", "run_cancelled"})
STREAM_END_EVENTS = TERMINAL_EVENTS | {"run_paused", "run_awaiting_approval"}
EVENTS_WAIT_S = 1.0  # longest wait for a remote run's next event before looking again
# A run's owner records a new status (paused, completed, ...) just before it logs the event
# that ends that stretch of the run: readers and new writers give that event this long.
END_EVENT_GRACE_S = 2.0


def terminal_event(run: Run, seq: int, reason: str = "cancelled") -> Event:
    """The end event of a finished run, numbered `seq`, as its record says it ended (and
    when)."""
    envelope: Envelope = {"seq": seq, "run_id": run.id, "ts": run.finished_at or run.updated_at}
    if run.status == "completed":
        response, metrics = run.response or "", run.metrics.model_copy()
        return RunCompleted(**envelope, response=response, metrics=metrics)
    if run.status == "failed":
        error = run.error.model_copy() if run.error else RunError(type="unknown", message="")
        return RunFailed(**envelope, error=error)
    return RunCancelled(**envelope, reason=reason)


class EventReader:
    """A run's events for any reader, whichever process drives the run.

    A run driven here is followed in memory (its `EventLog`); any other is read from the
    store, polling while it runs. `live` finds the log of a run driven here; `get_run` reads
    a run's record (reconciled: a run of a dead process is `interrupted`).
    """

    def __init__(
        self,
        store: Store,
        live: Callable[[str], EventLog | None],
        get_run: Callable[[str], Awaitable[Run]],
    ) -> None:
        self.store = store
        self._live = live
        self._get_run = get_run

    async def batches(
        self, run_id: str, *, after_seq: int = 0, follow: bool = True, coalesce_s: float = 0.0
    ) -> AsyncGenerator[list[Event]]:
        """The run's events after `after_seq`, in batches of whatever was there to read;
        with `follow`, wait for more until it stops. `coalesce_s` lets the tokens of a run
        driven here pile up between batches (`EventLog.follow`); a run driven elsewhere
        comes in the store's batches already.

        A finished run always ends with its terminal event: if its process died between
        recording the end and logging the event, the event is rebuilt from the run record.
        """
        last: Event | None = None
        batches = self._logged(run_id, after_seq=after_seq, follow=follow, coalesce_s=coalesce_s)
        async for batch in batches:
            if batch:
                last = batch[-1]
                yield batch
        if last is not None and last.type in TERMINAL_EVENTS:
            return
        run = await self._get_run(run_id)
        if run.status not in FINISHED:
            return
        if last is None:
            # Nothing is logged after `after_seq`: only the event at `after_seq` can be the end.
            logged = await self.store.read_events(run_id, max(after_seq - 1, 0))
            if logged and logged[-1].type in TERMINAL_EVENTS:
                return
            last = logged[-1] if logged else None
        seq = (last.seq if last else 0) + 1
        if seq > after_seq:
            yield [terminal_event(run, seq)]

    async def _logged(
        self, run_id: str, *, after_seq: int = 0, follow: bool = True, coalesce_s: float = 0.0
    ) -> AsyncIterator[list[Event]]:
        log = self._live(run_id)
        if log is not None and follow:
            # Driven here: what this process logged is in memory, so a stream of a new run
            # starts without waiting on the store.
            if after_seq + 1 < log.first_seq:
                stored = await self.store.read_events(run_id, after_seq)
                yield [event for event in stored if event.seq < log.first_seq]
                after_seq = max(after_seq, log.first_seq - 1)
            async for batch in log.follow(after_seq, coalesce_s):
                yield batch
            return
        await self._get_run(run_id)
        while True:
            batch = await self.store.read_events(run_id, after_seq)
            if batch:
                yield batch
                after_seq = batch[-1].seq
            if not follow:
                return
            run = await self._get_run(run_id)
            if run.status != "running":
                yield await self.settled(run_id, run.status, after_seq)
                return
            if self._live(run_id) is not None:  # started here meanwhile (resumed): follow it
                resumed = self._logged(run_id, after_seq=after_seq, coalesce_s=coalesce_s)
                async for batch in resumed:
                    yield batch
                return
            await self.store.wait_for_events(run_id, after_seq, EVENTS_WAIT_S)

    async def settled(self, run_id: str, status: str | None, after_seq: int = 0) -> list[Event]:
        """The run's events after `after_seq`, including the one that ends the stretch that
        left it in `status` (run_paused, or the terminal event), which its owner logs just
        after recording `status`: other processes (workers) can look in between."""
        events = await self.store.read_events(run_id, after_seq)
        if status is None or status in {"running", "interrupted"}:
            return events  # nothing ended, or its process died: no such event is coming
        if not events and after_seq > 0:  # the caller read up to after_seq: was that the end?
            last = await self.store.read_events(run_id, after_seq - 1)
            ended = not last or last[0].type in STREAM_END_EVENTS
        else:
            ended = not events or events[-1].type in STREAM_END_EVENTS
        loop = asyncio.get_running_loop()
        deadline = loop.time() + END_EVENT_GRACE_S
        while not ended and (remaining := deadline - loop.time()) > 0:
            seen = events[-1].seq if events else after_seq
            await self.store.wait_for_events(run_id, seen, remaining)
            events += await self.store.read_events(run_id, seen)
            ended = bool(events) and events[-1].type in STREAM_END_EVENTS
        return events

    async def end_seq(self, run_id: str, status: str | None) -> int:
        """The seq of the run's last event, once the stretch that left it in `status` has
        logged its end (see `settled`): a continuation's events follow it."""
        events = await self.settled(run_id, status)
        return events[-1].seq if events else 0

    async def log_end(self, run: Run, ended_from: str, reason: str = "cancelled") -> None:
        """Log the terminal event of `run`, which ended outside any runner (a run nobody
        drives, cancelled while it waited in `ended_from`): the one place outside the
        engine that writes such an event. It comes after the stretch that left the run in
        `ended_from` has logged its own end, so the log stays in order."""
        log = EventLog(run.id, self.store, await self.end_seq(run.id, ended_from))
        await log.emit(terminal_event(run, log.envelope()["seq"], reason))
        await log.flush()
        await self.store.sync_events(run.id)
