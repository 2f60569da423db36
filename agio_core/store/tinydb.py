"""The embedded store: TinyDB under `AGIO_HOME`, safe for several processes.

TinyDB as shipped rewrites its whole file on every write and knows nothing of other
processes. So every file is replaced atomically and written under a file lock
(`_tinydb_files`), and no write rewrites history: `index.json` (TinyDB) holds the agents
only; the run listing is an append-only log, `runs.jsonl` (`_tinydb_listing`); each run has
its own folder with `run.json`, one small file per checkpoint, an append-only `events.jsonl`
(`_tinydb_events`) and a `control.json` that other processes write to pause or cancel it
(and then touch `control.signal`, which one task per process watches for all its runs:
`_signal`). What a crash leaves behind is set right when the store opens (`_tinydb_check`).

    AGIO_HOME/
      index.json, runs.jsonl, runs.reconciled, index.lock, control.signal
      runs/<run_id>/run.json, checkpoints/<checkpoint_id>.json, events.jsonl, control.json, lock
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from tinydb import Query, TinyDB

from ..agents import Agent
from ..checkpoints import CheckpointRecord
from ..control import CONTROL_POLL_S
from ..errors import StoreError
from ..events import Event
from ..ids import check_checkpoint_id, check_run_id, checkpoint_number, run_of_checkpoint
from ..runs import ControlRequest, Run
from ._base import Damage, RunChanges, Skipped, Store
from ._signal import FileSignal
from ._tinydb_events import EventLogs
from ._tinydb_files import (
    AtomicJSONStorage,
    RunDeleted,
    locked,
    read_model,
    store_error,
    write_atomic,
)
from ._tinydb_listing import RunListing

T = TypeVar("T")
log = logging.getLogger("agio.store")
# Threads for the store's blocking writes, its own pool rather than the loop's default (as
# many as CPUs + 4): most of a write is waiting on fsync, which a thread does without the GIL.
# Few: each thread also runs Python between its system calls (records dumped, locks, paths),
# and every thread that wants the GIL back takes it from the event loop, which then waits to
# get it again (futex calls per short run: ~580 with 8 threads). 500 chats at once in `agio
# serve` (bench/serve_capacity.py): p99 added delay between tokens 51-62 ms with 8 threads,
# 46-56 with 4, 26-30 with 3, 17-27 with 2, 20-32 with 1 (750 chats: 26-32 ms with 1 to 3);
# CPU per short chat (user + sys) 7.7 ms with 8, 5.5 with 2. The price: a burst of runs
# waits longer for their creation (first token p99 of 500 chats at once: 2.5-3.0 s with 8,
# 3.5-6.0 s with 2; the median ~1.6 s either way), and under heavy mixed load a control
# request queues behind the writes ahead of it (bench/load_test.py, 16 users: cancel p50
# 55-80 ms with 8, 118-139 with 2; docs/performance.md, round 5). Two, not one: a write that
# waits (a lock another process holds, a slow disk) does not hold up every other.
IO_THREADS = 2


class TinyDBStore(Store):
    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.runs_dir = self.home / "runs"
        self.index_path = self.home / "index.json"
        self.skipped = Skipped()
        self.listing = RunListing(self.home / "runs.jsonl", self.home / "index.lock", self.skipped)
        # Touched by every control request: one file for the runs of this process to watch.
        self._control_signal = FileSignal(self.home / "control.signal", CONTROL_POLL_S)
        self._event_logs = EventLogs(
            lambda run_id: self._run_dir(run_id) / "events.jsonl", self._io
        )
        self._executor: ThreadPoolExecutor | None = None
        # The agents as last read, with the identity of the index file they were read from.
        self._agents_read: tuple[tuple[int, ...] | None, list[Agent]] | None = None

    # plumbing

    async def open(self) -> None:
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise store_error(exc, self.runs_dir) from exc
        try:
            await self.reconcile()
        except StoreError as exc:  # e.g. read-only: reading must still work
            log.warning("could not reconcile the run listing: %s", exc.message)

    async def reconcile(self) -> int:
        from ._tinydb_check import reconcile

        return await self._io(reconcile, self)

    async def check(self, *, repair: bool = False) -> list[Damage]:
        from ._tinydb_check import check

        return await self._io(check, self, repair)

    async def close(self) -> None:
        self._event_logs.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False)  # a write still going finishes in its thread
            self._executor = None

    async def _io(self, function: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(IO_THREADS, thread_name_prefix="agio-tinydb")
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    @contextlib.contextmanager
    def _index(self) -> Iterator[TinyDB]:
        with self.listing.locked():
            db = TinyDB(str(self.index_path), storage=AtomicJSONStorage)
            try:
                yield db
            finally:
                db.close()

    def _index_read(self) -> TinyDB:
        # Reads need no lock: files are only ever replaced whole.
        return TinyDB(str(self.index_path), storage=AtomicJSONStorage)

    def _run_dir(self, run_id: str) -> Path:
        return self.runs_dir / check_run_id(run_id)

    def _run_lock(self, run_id: str) -> contextlib.AbstractContextManager[None]:
        return locked(self._run_dir(run_id) / "lock")

    # agents

    def _index_identity(self) -> tuple[int, ...] | None:
        """What changes whenever `index.json` does (it is only ever replaced, by a new
        file): its inode, size and times; None while there is none (raises OSError)."""
        try:
            st = os.stat(self.index_path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def _cached_agents(self) -> list[Agent] | None:
        """The agents as last read, if the index is still the file they were read from:
        a run's start looks its agent up twice, and the index rarely changes. A stat on
        the loop's thread costs less than a hop to the store's threads (and the parse)."""
        read = self._agents_read
        with contextlib.suppress(OSError):  # then read it in full, and say what is wrong
            if read is not None and read[0] == self._index_identity():
                return read[1]
        return None

    async def _agents(self) -> list[Agent]:
        """Every readable agent (shared with other callers: read-only)."""
        cached = self._cached_agents()
        return cached if cached is not None else await self._io(self._stored_agents)

    def _stored_agents(self) -> list[Agent]:
        """Every readable agent; a damaged index (or entry) is skipped with a warning, so
        the built-in default agent still answers."""
        # Taken before the read: a write landing meanwhile leaves a stale identity, read
        # again next time, never a stale list under the new file's identity.
        try:
            identity = self._index_identity()
        except OSError:
            return self._parse_agents()
        agents = self._parse_agents()
        self._agents_read = (identity, agents)
        return agents

    def _parse_agents(self) -> list[Agent]:
        try:
            docs = self._index_read().table("agents").all()
        except StoreError as exc:
            self.skipped(exc.message)
            return []
        agents = []
        for doc in docs:
            try:
                agents.append(Agent.model_validate(doc))
            except ValidationError:
                self.skipped(f"{self.index_path}: agent {doc.get('id')!r} is damaged")
        return agents

    async def get_agent(self, agent_id: str) -> Agent | None:
        return next((a for a in await self._agents() if a.id == agent_id), None)

    async def put_agent(self, agent: Agent) -> None:
        def write() -> None:
            with self._index() as db:
                db.table("agents").upsert(agent.model_dump(mode="json"), Query().id == agent.id)

        await self._io(write)

    async def delete_agent(self, agent_id: str) -> bool:
        def delete() -> bool:
            with self._index() as db:
                return bool(db.table("agents").remove(Query().id == agent_id))

        return await self._io(delete)

    async def list_agents(self, tag: str | None = None) -> list[Agent]:
        agents = [a for a in await self._agents() if tag is None or tag in a.tags]
        return sorted(agents, key=lambda a: a.id)

    # runs

    def _write_run(self, run: Run) -> None:
        write_atomic(self._run_dir(run.id) / "run.json", run.model_dump_json())

    def _read_run(self, run_id: str) -> Run | None:
        return read_model(self._run_dir(run_id) / "run.json", Run)

    def _listed_run(self, run_id: str) -> Run | None:
        """A run for a listing: a damaged record is left out (with a warning), not fatal."""
        try:
            return self._read_run(run_id)
        except StoreError as exc:
            self.skipped(exc.message)
            return None

    async def create_run(self, run: Run, first_checkpoint: CheckpointRecord | None = None) -> None:
        def create() -> None:
            run_dir = self._run_dir(run.id)
            try:
                (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
                # Made here, in the store's thread: the run's first append (on the event
                # loop's thread) then opens a file, rather than creating one in a folder
                # whose lock the threads writing this run's files contend for.
                (run_dir / "events.jsonl").touch()
            except OSError as exc:
                raise store_error(exc, run_dir) from exc
            # No run lock: until `run.json` and its listing line exist, nobody knows this run.
            try:
                if first_checkpoint is not None:
                    self._write_checkpoint(first_checkpoint)
                self._write_run(run)
                self.listing.append(run)
            except BaseException:
                # Not created, so not left behind half made (an empty folder, a lone record).
                shutil.rmtree(run_dir, ignore_errors=True)
                raise

        await self._io(create)

    async def save_run(self, run: Run) -> None:
        await self._io(self._save_run, run)

    def _save_run(self, run: Run) -> None:
        with self._run_lock(run.id):
            previous = self._read_run(run.id)
            self._write_run(run)
            if previous is None or previous.status != run.status:
                self.listing.append(run)

    async def save_checkpoint(self, record: CheckpointRecord, run: Run) -> None:
        sync_events = self._event_logs.syncer(run.id)

        def save() -> None:
            sync_events()
            self._write_checkpoint(record)
            self._save_run(run)

        await self._io(save)

    async def get_run(self, run_id: str) -> Run | None:
        check_run_id(run_id)
        return await self._io(self._read_run, run_id)

    async def transition_run(
        self, run_id: str, expected: Collection[str], changes: RunChanges
    ) -> Run | None:
        def transition() -> Run | None:
            if not self._run_dir(run_id).is_dir():
                return None
            try:
                with self._run_lock(run_id):
                    run = self._read_run(run_id)
                    if run is None or run.status not in expected:
                        return None
                    run = run.model_copy(update=changes(run) if callable(changes) else changes)
                    self._write_run(run)
                    self.listing.append(run)
            except RunDeleted:
                return None
            return run

        return await self._io(transition)

    async def list_runs(
        self,
        *,
        agent_id: str | None = None,
        status: str | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
        parent_run_id: str | None = None,
        search: str | None = None,
        created_before: datetime | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[int, list[Run]]:
        needle = search.casefold() if search else None

        def found(run_id: str) -> bool:
            # Inputs and answers are not in the listing (it would grow with them): read the
            # run's own file, only for runs that match everything else.
            run = self._read_run(run_id)
            return run is not None and any(
                (needle or "") in (text or "").casefold() for text in (run.input, run.response)
            )

        def read() -> tuple[int, list[Run]]:
            total, page = self.listing.newest(
                {
                    "agent_id": agent_id,
                    "status": status,
                    "session_id": session_id,
                    "user_id": user_id,
                    "parent_run_id": parent_run_id,
                },
                created_before=created_before,
                also=found if needle is not None else None,
                limit=limit,
                offset=offset,
            )
            runs = [self._listed_run(run_id) for run_id in page]
            return total, [run for run in runs if run is not None]

        return await self._io(read)

    async def delete_run(self, run_id: str, expected: Collection[str]) -> bool:
        def delete() -> bool:
            try:
                return delete_locked()
            except RunDeleted:  # by someone else, meanwhile
                return False

        def delete_locked() -> bool:
            run_dir = self._run_dir(run_id)
            if not run_dir.is_dir():
                return False
            trash = self.runs_dir / f".deleted-{run_id}-{os.getpid()}"
            with self._run_lock(run_id):
                run = self._read_run(run_id)
                if run is None or run.status not in expected:
                    return False
                self.listing.tombstone(run_id)
                # Out of its place while the lock is held: a transition waiting for the lock
                # finds no run once it has it.
                try:
                    os.replace(run_dir, trash)
                except OSError as exc:
                    raise store_error(exc, run_dir) from exc
            shutil.rmtree(trash, ignore_errors=True)
            return True

        return await self._io(delete)

    # checkpoints

    def _checkpoint_path(self, checkpoint_id: str) -> Path:
        run_dir = self._run_dir(run_of_checkpoint(checkpoint_id))
        return run_dir / "checkpoints" / f"{check_checkpoint_id(checkpoint_id)}.json"

    def _write_checkpoint(self, record: CheckpointRecord) -> None:
        write_atomic(self._checkpoint_path(record.id), record.model_dump_json())

    async def put_checkpoint(self, record: CheckpointRecord) -> None:
        await self._io(self._write_checkpoint, record)

    async def get_checkpoint(self, checkpoint_id: str) -> CheckpointRecord | None:
        def read() -> CheckpointRecord | None:
            return read_model(self._checkpoint_path(checkpoint_id), CheckpointRecord)

        return await self._io(read)

    def _checkpoint_paths(self, run_id: str) -> list[Path]:
        """The run's checkpoint files in creation order (listing names reads no file)."""
        folder = self._run_dir(run_id) / "checkpoints"
        if not folder.is_dir():
            return []
        return sorted(folder.glob("ck_*.json"), key=lambda p: checkpoint_number(p.stem))

    def _read_checkpoints(self, paths: list[Path]) -> list[CheckpointRecord]:
        """The records in `paths`; a damaged one is skipped with a warning."""
        records = []
        for path in paths:
            try:
                record = read_model(path, CheckpointRecord)
            except StoreError as exc:
                self.skipped(exc.message)
                continue
            if record is not None:
                records.append(record)
        return records

    async def list_checkpoints(self, run_id: str) -> list[CheckpointRecord]:
        return await self._io(lambda: self._read_checkpoints(self._checkpoint_paths(run_id)))

    async def page_checkpoints(
        self, run_id: str, *, limit: int, offset: int = 0
    ) -> tuple[int, list[CheckpointRecord]]:
        def read() -> tuple[int, list[CheckpointRecord]]:
            paths = self._checkpoint_paths(run_id)
            return len(paths), self._read_checkpoints(paths[offset : offset + limit])

        return await self._io(read)

    async def mark_superseded(self, run_id: str, checkpoint_ids: Collection[str]) -> None:
        def mark() -> None:
            with self._run_lock(run_id):
                for checkpoint_id in checkpoint_ids:
                    path = self._checkpoint_path(checkpoint_id)
                    record = read_model(path, CheckpointRecord)
                    if record is None:
                        continue
                    record.superseded = True
                    write_atomic(path, record.model_dump_json())

        await self._io(mark)

    # events (see `_tinydb_events`)

    async def append_events(self, run_id: str, events: list[Event]) -> None:
        self._event_logs.append(run_id, events)

    async def sync_events(self, run_id: str) -> None:
        await self._event_logs.sync(run_id)

    async def read_events(self, run_id: str, after_seq: int = 0) -> list[Event]:
        return await self._io(self._event_logs.read, run_id, after_seq)

    # control

    async def request_control(self, run_id: str, request: ControlRequest) -> None:
        def write() -> None:
            write_atomic(self._run_dir(run_id) / "control.json", request.model_dump_json())
            # The request is stored: if the signal cannot be given, the run still sees it,
            # at its next heartbeat rather than at once.
            with contextlib.suppress(OSError):
                self._control_signal.notify()

        await self._io(write)

    async def wait_for_control(self, run_id: str, timeout: float) -> None:
        await self._control_signal.wait(timeout)

    async def get_control(self, run_id: str) -> ControlRequest | None:
        # Polled several times a second by a running run: a plain read, no thread hop.
        try:
            return read_model(self._run_dir(run_id) / "control.json", ControlRequest)
        except StoreError as exc:  # polled: a damaged request is no request, said once
            self.skipped(exc.message)
            return None

    async def clear_control(self, run_id: str) -> None:
        path = self._run_dir(run_id) / "control.json"
        if not path.exists():
            # Almost always (no one paused or cancelled the run): a look-up, where an unlink
            # would wait for the folder's lock on the event loop's thread.
            return
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise store_error(exc, path) from exc
