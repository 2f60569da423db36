"""Cross-process wakeups of the PostgreSQL store: LISTEN/NOTIFY, not polling.

`append_events` notifies the run's channel `agio_ev_<run hex>` with the last seq,
`request_control` notifies `agio_control` with the run id. Each process keeps one listening
connection, opened on the first wait; it LISTENs to a run's channel only while someone in
this process follows that run from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg import sql

from ..control import CONTROL_POLL_S
from ..errors import StoreError
from ..ids import check_run_id
from ._postgres_db import connect_kwargs

log = logging.getLogger("agio.store.postgres")

CONTROL_CHANNEL = "agio_control"
LISTENER_TICK_S = 0.1  # how long the listener waits for notifications between housekeeping
LISTEN_LINGER_S = 15.0  # keep LISTENing to a run's channel this long after its last waiter
MAX_CONTROL_FLAGS = 10_000


def events_channel(run_id: str) -> str:
    return f"agio_ev_{check_run_id(run_id)[4:]}"


class _Channel:
    """A run's event channel as seen by this process's listener."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.refs = 0
        self.idle_since = time.monotonic()
        self.listening = asyncio.Event()  # LISTEN is in force on the current connection
        self.changed = asyncio.Event()  # replaced after every wakeup
        # The last seq is max(stored, notified): `stored` read from the database once LISTEN
        # was in force (None: not yet), `notified` from notifications since then.
        self.stored: int | None = None
        self.notified = 0
        self.epoch = 0  # connections lost so far

    def reset(self) -> None:
        self.epoch += 1
        self.listening.clear()
        self.stored = None
        self.notified = 0
        self.wake()

    def wake(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


class _Listener:
    """One LISTEN connection per process: wakes local waiters when other processes write."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._closed = False
        self.ready = asyncio.Event()
        self.channels: dict[str, _Channel] = {}
        # Runs with a control request notified since their waiter last looked (set events)
        # or with a waiter right now (unset events).
        self.control: OrderedDict[str, asyncio.Event] = OrderedDict()
        self._task = asyncio.create_task(self._run(), name="agio-postgres-listener")

    async def close(self) -> None:
        self._closed = True
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task

    # waiters' side

    def acquire(self, name: str) -> _Channel:
        channel = self.channels.get(name)
        if channel is None:
            channel = self.channels[name] = _Channel(name)
        channel.refs += 1
        return channel

    def release(self, channel: _Channel) -> None:
        channel.refs -= 1
        if channel.refs == 0:
            channel.idle_since = time.monotonic()

    def control_event(self, run_id: str) -> asyncio.Event:
        event = self.control.get(run_id)
        if event is None:
            event = self.control[run_id] = asyncio.Event()
        return event

    # the connection's side

    async def _run(self) -> None:
        backoff = 0.1
        while not self._closed:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, **connect_kwargs(self._url, "agio-listener")
                ) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CONTROL_CHANNEL)))
                    self.ready.set()
                    backoff = 0.1
                    while not self._closed:
                        await self._sync_channels(conn)
                        async for notify in conn.notifies(timeout=LISTENER_TICK_S):
                            self._dispatch(notify.channel, notify.payload)
            except (psycopg.Error, OSError) as exc:
                if not self._closed:
                    log.warning("PostgreSQL listener: %s; reconnecting", exc)
            except Exception:  # never leave this process without wakeups for good
                log.exception("PostgreSQL listener failed; restarting it")
            finally:
                # Whatever was notified while we were away is lost: everyone looks again.
                self.ready.clear()
                for channel in self.channels.values():
                    channel.reset()
                for event in self.control.values():
                    event.set()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _sync_channels(self, conn: psycopg.AsyncConnection[Any]) -> None:
        now = time.monotonic()
        wanted = [c for c in self.channels.values() if c.refs > 0 and not c.listening.is_set()]
        idle = [
            c
            for c in self.channels.values()
            if c.refs == 0 and now - c.idle_since > LISTEN_LINGER_S
        ]
        statements = [sql.SQL("LISTEN {}").format(sql.Identifier(c.name)) for c in wanted]
        statements += [sql.SQL("UNLISTEN {}").format(sql.Identifier(c.name)) for c in idle]
        if statements:
            await conn.execute(sql.SQL("; ").join(statements))
        for channel in wanted:
            channel.listening.set()
        for channel in idle:
            if channel.refs == 0:
                del self.channels[channel.name]

    def _dispatch(self, channel_name: str, payload: str) -> None:
        if channel_name == CONTROL_CHANNEL:
            self.control_event(payload).set()
            self.control.move_to_end(payload)
            excess = len(self.control) - MAX_CONTROL_FLAGS
            if excess > 0:  # forget old requests nobody here waited for (other owners' runs)
                for run_id in [r for r, e in self.control.items() if e.is_set()][:excess]:
                    del self.control[run_id]
            return
        channel = self.channels.get(channel_name)
        if channel is None or not payload.isdigit():
            return
        channel.notified = max(channel.notified, int(payload))
        channel.wake()


class Wakeups:
    """What the store's `wait_for_events` and `wait_for_control` wait on."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._listener: _Listener | None = None

    def _get_listener(self) -> _Listener:
        if self._listener is None:
            self._listener = _Listener(self._url)
        return self._listener

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.close()

    async def wait_for_events(
        self,
        run_id: str,
        after_seq: int,
        timeout: float,
        last_seq: Callable[[str], Awaitable[int]],
    ) -> None:
        """The store's `wait_for_events`; `last_seq` reads a run's last stored seq."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        listener = self._get_listener()
        channel = listener.acquire(events_channel(run_id))
        try:
            while (remaining := deadline - loop.time()) > 0:
                if not channel.listening.is_set():
                    # First wait, or reconnecting: wait until LISTEN is in force.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            channel.listening.wait(), min(remaining, 10 * CONTROL_POLL_S)
                        )
                    if not channel.listening.is_set():
                        return  # the listener is down: the caller polls
                    continue
                changed = channel.changed
                if channel.stored is None:
                    # Events committed before LISTEN took effect were never notified to us.
                    epoch = channel.epoch
                    stored = await last_seq(run_id)
                    if channel.epoch == epoch:
                        channel.stored = stored
                    continue
                if max(channel.stored, channel.notified) > after_seq:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), remaining)
        except StoreError as exc:
            log.warning("waiting for events of %s: %s", run_id, exc)
            await asyncio.sleep(min(max(deadline - loop.time(), 0.0), CONTROL_POLL_S))
        finally:
            listener.release(channel)

    async def wait_for_control(self, run_id: str, timeout: float) -> None:
        listener = self._get_listener()
        if not listener.ready.is_set():
            # Starting or reconnecting: requests made meanwhile were not notified to us, so
            # return soon and let the caller look (it polls until we listen again).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(listener.ready.wait(), min(timeout, CONTROL_POLL_S))
            return
        event = listener.control_event(run_id)
        try:
            if not event.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout)
        finally:
            if listener.control.get(run_id) is event:
                del listener.control[run_id]
