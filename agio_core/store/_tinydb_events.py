"""Each run's event log in the embedded store: `runs/<run_id>/events.jsonl`, append-only.

The owner appends on the event loop's thread (an append is tiny and goes to the page cache;
a thread hop would cost more than the write) through a descriptor kept open from a run's
first append to its next sync: an open costs far more than the append itself. A line torn
by a crash is ignored by readers and cut off before the next append (see `_tinydb_lines`).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..events import Event
from ._base import parse_logged
from ._tinydb_files import fsync_path, store_error
from ._tinydb_lines import open_appending, read_lines, write_all

# Event logs kept open for appending. Beyond this many, each append opens its own.
MAX_OPEN_EVENT_LOGS = 512


class EventLogs:
    def __init__(
        self,
        path_of: Callable[[str], Path],
        io: Callable[..., Awaitable[Any]],
    ) -> None:
        self._path_of = path_of  # run id -> its log
        self._io = io  # runs a blocking function in the store's threads
        self._open: dict[str, int] = {}  # run id -> descriptor appending to its log

    def append(self, run_id: str, events: list[Event]) -> None:
        payload = b"".join([event.json_bytes + b"\n" for event in events])
        fd = self._open.pop(run_id, None)
        try:
            if fd is None:
                fd = open_appending(self._path_of(run_id))
            write_all(fd, payload)
        except OSError as exc:
            # Closed: a line this left half-written is cut off by the next append's open.
            if fd is not None:
                os.close(fd)
            raise store_error(exc, self._path_of(run_id)) from exc
        if len(self._open) < MAX_OPEN_EVENT_LOGS:
            self._open[run_id] = fd
        else:
            os.close(fd)

    async def sync(self, run_id: str) -> None:
        await self._io(self.syncer(run_id))

    def syncer(self, run_id: str) -> Callable[[], None]:
        """What makes the run's appended events durable, to call in a store thread (taken
        now, on the loop's thread: the log is closed by it, and the next append reopens it).
        The owner syncs before each checkpoint and at the run's end."""
        fd = self._open.pop(run_id, None)
        path = self._path_of(run_id)

        def sync() -> None:
            try:
                if fd is not None:
                    os.fsync(fd)
                else:
                    fsync_path(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise store_error(exc, path) from exc
            finally:
                if fd is not None:
                    os.close(fd)

        return sync

    def read(self, run_id: str, after_seq: int) -> list[Event]:
        """The events after `after_seq` (blocking: for the store's threads)."""
        events = []
        last = after_seq
        path = self._path_of(run_id)
        for event in parse_logged(read_lines(path), str(path)):
            # Strictly increasing: a batch retried after a partial write (disk full) may
            # have landed twice.
            if event.seq > last:
                events.append(event)
                last = event.seq
        return events

    def close(self) -> None:
        while self._open:
            os.close(self._open.popitem()[1])
