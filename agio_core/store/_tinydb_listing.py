"""The embedded store's run listing: `runs.jsonl`, one line per run creation or change.

No write rewrites history: a line is appended each time a run is created or its status
changes, and the last line of a run wins; a deleted run's last line is a tombstone. So
creating a run costs the same with 10,000 runs as with none. The listing is compacted (each
run's latest line only) once every `COMPACT_EVERY` appends. Lines hold only what listings
filter and sort on; a page's runs are then read from their own records.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import logging
import threading
from collections.abc import Callable, Collection, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..runs import Run
from ._tinydb_files import REPAIR_HINT, fsync_path, locked, store_error, write_atomic
from ._tinydb_lines import append_lines, lines_newest_first

log = logging.getLogger("agio.store")
INDEX_FIELDS = ("id", "agent_id", "session_id", "user_id", "status", "created_at", "parent_run_id")
# What every listing line has had, whichever agio wrote it (later fields may be missing).
LISTED_ALWAYS = ("id", "agent_id", "session_id", "status", "created_at")
# Rewrite the run listing without its superseded lines once per this many appends.
COMPACT_EVERY = 1000


def listing_entry(line: bytes) -> dict[str, Any]:
    """A run-listing line: a run's summary, or the tombstone its deletion left."""
    entry = json.loads(line)
    if not isinstance(entry, dict):
        raise ValueError("not a listing entry")
    if entry.get("deleted") is True and isinstance(entry.get("id"), str):
        return entry
    if any(field not in entry for field in LISTED_ALWAYS):
        raise ValueError("not a listing entry")
    return entry


class RunListing:
    """The listing of one store. An append goes to the file, not to the disk: the listing
    is an index of the run records, each of which is durable before its line is appended,
    and what a crash of the machine takes of its last lines is appended again from the
    records when the store next opens (`_tinydb_check.reconcile`, which makes the listing
    durable before it says which records it has seen). A run's creation and each of its
    status changes therefore wait for one fsync less."""

    def __init__(self, path: Path, lock_path: Path, skipped: Callable[[str], None]) -> None:
        self.path = path
        self.lock_path = lock_path  # also the agent index's: one writer of either at a time
        self._skipped = skipped  # says once that a damaged line was left out
        self._appends = 0  # since the last compaction
        self.compact_every = COMPACT_EVERY
        # This process's threads queue here for the file lock: a thread that waits on the
        # file lock itself polls it (open, flock, close, sleep), and wakes late.
        self._thread_lock = threading.RLock()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """The listing's (and agent index's) lock."""
        with self._thread_lock, locked(self.lock_path, make_folder=True):
            yield

    def append(self, run: Run) -> None:
        """Log the run's listing fields (see the class: not fsynced). Called with the run's
        lock held, so the listing sees a run's changes in the order they were made."""
        # Only the listed fields dumped: a whole run (its input, its metrics) costs more.
        line = run.model_dump_json(include=set(INDEX_FIELDS)) + "\n"
        with self.locked():
            append_lines(self.path, line.encode(), durable=False)
            self._appends += 1
            if self._appends >= self.compact_every:
                self._compact_now()

    def sync(self) -> None:
        """Make every line appended so far durable. Takes no lock and changes nothing: a
        line another process is appending meanwhile is not taken for a torn one."""
        try:
            fsync_path(self.path)
        except FileNotFoundError:
            pass  # nothing listed yet
        except OSError as exc:
            raise store_error(exc, self.path) from exc

    def _compact_now(self) -> None:
        # The lines are written already: a compaction that fails (it leaves the listing as
        # it was) fails none of their appends, and is tried again after the next append.
        try:
            self.compact()
            self._appends = 0
        except StoreError as exc:
            log.warning("could not compact the run listing: %s", exc.message)

    def tombstone(self, run_id: str) -> None:
        """Log the run's deletion: it is listed no more."""
        line = json.dumps({"id": run_id, "deleted": True}) + "\n"
        with self.locked():
            append_lines(self.path, line.encode(), durable=True)

    def compact(self, drop: Collection[str] = ()) -> None:
        """Rewrite the listing with only each run's latest line (and not the runs in `drop`).
        Called with the lock held."""
        # Newest first: any order works, later appends supersede by coming later.
        latest = (
            f"{listed.decode()}\n" for listed, entry in self.latest() if entry["id"] not in drop
        )
        write_atomic(self.path, latest)

    def latest(self) -> Iterator[tuple[bytes, dict[str, Any]]]:
        """Each run's latest line and entry, most recently changed first. Holds the ids seen,
        not the entries: listing 100,000 runs must not cost their weight in memory (the peak
        of each scan stays in the process's resident size)."""
        seen: set[str] = set()
        for line in lines_newest_first(self.path):
            try:
                entry = listing_entry(line)
            except ValueError:
                self._skipped(f"{self.path} has a damaged line ({REPAIR_HINT})")
                continue
            if entry["id"] not in seen:  # else superseded by the line already seen
                seen.add(entry["id"])
                if not entry.get("deleted"):  # a deleted run's last line is a tombstone
                    yield line, entry

    def newest(
        self,
        filters: dict[str, str | None],
        *,
        created_before: datetime | None,
        also: Callable[[str], bool] | None,
        limit: int,
        offset: int,
    ) -> tuple[int, list[str]]:
        """(how many runs match, the ids of the page), newest first. `filters`: listing
        field -> the value it must have (None: any); `also`: a last test of a run's id,
        made only for runs that match everything else."""
        wanted = {field: value for field, value in filters.items() if value is not None}
        total = 0
        # (created_at, id) of the newest matches up to the page's end: a min-heap.
        newest: list[tuple[str, str]] = []
        end = offset + limit
        for _, entry in self.latest():
            if (
                # Lines written before a field existed (user_id, ...) have none.
                all(entry.get(field) == value for field, value in wanted.items())
                and (
                    created_before is None
                    or datetime.fromisoformat(entry["created_at"]) < created_before
                )
                and (also is None or also(entry["id"]))
            ):
                total += 1
                item = (entry["created_at"], entry["id"])
                if len(newest) < end:
                    heapq.heappush(newest, item)
                elif end and item > newest[0]:
                    heapq.heapreplace(newest, item)
        return total, [run_id for _, run_id in sorted(newest, reverse=True)[offset:]]
