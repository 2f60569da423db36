"""A cross-process "something changed" signal through one file, watched by one poller.

Each run of a TinyDB store waits for pause / cancel requests from other processes. Polling
each run's own control file costs a wakeup per run every poll interval (500 live runs: 5,000
a second, a fair share of a core); instead, every request also appends a byte to one shared
file, and one task per process stats that file each interval and wakes every waiter when it
changed. The waiters then look at their own control files, which stay the truth: a request
this misses (an older agio that does not touch the file) is still seen at the waiter's
timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

# Cut the file back to nothing past this size: a change of size, inode or time is all a
# watcher looks for.
MAX_SIGNAL_BYTES = 1 << 16


class FileSignal:
    def __init__(self, path: Path, poll_s: float) -> None:
        self.path = path
        self.poll_s = poll_s
        # Taken now, not at the first wait: a request made before a run first waits counts.
        self._seen = self._stamp()
        self._waiters: set[asyncio.Future[None]] = set()
        self._poller: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _stamp(self) -> tuple[int, int, int]:
        try:
            stat = os.stat(self.path)
        except OSError:
            return (0, 0, 0)
        return (stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def notify(self) -> None:
        """Tell every watching process (this one too); blocking I/O, for a worker thread."""
        with open(self.path, "ab") as handle:
            if handle.tell() >= MAX_SIGNAL_BYTES:
                handle.truncate(0)
            handle.write(b".")

    async def wait(self, timeout: float) -> None:
        """Return once `notify` may have been called since the last wakeup, or after
        `timeout` s. May return early: callers look at what they wait for again."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (tests): nothing of the old one works
            self._loop, self._waiters, self._poller = loop, set(), None
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.add(waiter)
        if self._poller is None or self._poller.done():
            self._poller = loop.create_task(self._poll())
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, timeout)
        finally:
            self._waiters.discard(waiter)

    async def _poll(self) -> None:
        # Checks before the first sleep: a notify that came while nobody watched counts.
        while self._waiters:
            stamp = self._stamp()
            if stamp != self._seen:
                self._seen = stamp
                for waiter in self._waiters:
                    if not waiter.done():
                        waiter.set_result(None)
            await asyncio.sleep(self.poll_s)
