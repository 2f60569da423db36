"""The embedded store: TinyDB under `AGIO_HOME`, safe for several processes.

TinyDB as shipped rewrites its whole file on every write and knows nothing of other
processes. So:
- every file is written atomically (temp file, fsync, `os.replace`, fsync of the directory):
  a crash or a full disk leaves the previous version intact;
- writers of one file hold a file lock (`filelock`), so concurrent processes lose nothing;
- no write rewrites history: `index.json` (TinyDB) holds the agents only; the run listing is
  an append-only log, `runs.jsonl` (one line per run creation or status change, the last
  line of a run wins; compacted now and then), so creating a run costs the same with
  10,000 runs as with none; each run has its own folder with `run.json`, one small file per
  checkpoint, an append-only `events.jsonl` and a `control.json` that other processes write
  to pause or cancel it (and then touch `control.signal`, which one task per process
  watches for all its runs). A line torn by a crash mid-append is ignored, then cut off
  before the next append.

    AGIO_HOME/
      index.json, runs.jsonl, index.lock, control.signal
      runs/<run_id>/run.json, checkpoints/<checkpoint_id>.json, events.jsonl, control.json, lock
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import heapq
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock, Timeout
from pydantic import BaseModel, ValidationError
from tinydb import Query, TinyDB
from tinydb.storages import Storage

from ..agents import Agent
from ..checkpoints import CheckpointRecord
from ..control import CONTROL_POLL_S
from ..errors import NotFoundError, StoreError
from ..events import Event
from ..ids import check_checkpoint_id, check_run_id, checkpoint_number, run_of_checkpoint
from ..runs import ControlRequest, Run
from ._base import Damage, RunChanges, Store, parse_logged
from ._signal import FileSignal

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
log = logging.getLogger("agio.store")
REPAIR_HINT = "`agio store check --repair` moves it aside"
LOCK_TIMEOUT_S = 30.0
INDEX_FIELDS = ("id", "agent_id", "session_id", "user_id", "status", "created_at", "parent_run_id")
# What every listing line has had, whichever agio wrote it (later fields may be missing).
LISTED_ALWAYS = ("id", "agent_id", "session_id", "status", "created_at")
# Rewrite the run listing without its superseded lines once per this many appends.
COMPACT_EVERY = 1000
# Event logs kept open for appending (a run's, from its first append to its next sync): an
# open costs far more than the append itself. Beyond this many, each append opens its own.
MAX_OPEN_EVENT_LOGS = 512
# Threads for the store's blocking writes, its own pool rather than the loop's default (as
# many as CPUs + 4): most of a write is waiting on fsync, and the kernel commits the fsyncs
# of concurrent writers together, so 100 runs starting at once cost a few journal commits,
# not 100 in a row.
IO_THREADS = 32


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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str | Iterable[str]) -> None:
    """Replace `path` with `text` (or its pieces, written as they come) so that readers see
    the old or the new file, never a mix."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _store_error(exc, path) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.writelines([text] if isinstance(text, str) else text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as exc:  # also a piece that could not be made: no temp file is left
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _store_error(exc, path) from exc
        raise


def _store_error(exc: OSError, path: Path) -> StoreError:
    if exc.errno == errno.ENOSPC:
        return StoreError(f"disk full: cannot write {path}; nothing was changed")
    return StoreError(f"cannot write {path}: {exc.strerror or exc}")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError):
        raise StoreError(f"{path} is damaged: not valid JSON ({REPAIR_HINT})") from None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc


def read_model(path: Path, model: type[M]) -> M | None:
    """The record in `path` (None if there is none); a damaged one is a StoreError."""
    data = _read_json(path)
    if not data:
        return None
    try:
        return model.model_validate(data)
    except ValidationError:
        problem = f"{path} is damaged: not a valid {model.__name__} ({REPAIR_HINT})"
        raise StoreError(problem) from None


def open_appending(path: Path) -> int:
    """A descriptor appending to `path`, after cutting off a line a crash left half-written
    (raises OSError)."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        if size and os.lseek(fd, -1, os.SEEK_END) >= 0 and os.read(fd, 1) != b"\n":
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, os.read(fd, size).rfind(b"\n") + 1)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view) :]


def append_lines(path: Path, payload: bytes, *, durable: bool) -> None:
    """Append whole lines; first cut off a line a crash left half-written."""
    try:
        fd = open_appending(path)
        try:
            write_all(fd, payload)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise _store_error(exc, path) from exc


def read_lines(path: Path) -> list[bytes]:
    """The complete lines of an append-only file (a torn last line is left out)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    return [line for line in raw.split(b"\n")[:-1] if line.strip()]


def lines_newest_first(path: Path, block_size: int = 1 << 16) -> Iterator[bytes]:
    """The complete lines of an append-only file, last first, read backwards a block at a
    time: a scan holds one block, whatever the file's size (a torn last line is left out)."""
    with contextlib.suppress(FileNotFoundError), open(path, "rb") as handle:
        position = handle.seek(0, os.SEEK_END)
        carry = b""  # the start of the earliest line seen so far, which may begin further back
        torn = True  # what follows the file's last newline is not a whole line
        while position > 0:
            size = min(block_size, position)
            position -= size
            handle.seek(position)
            parts = (handle.read(size) + carry).split(b"\n")
            carry = parts[0]
            for line in reversed(parts[1:]):
                if torn:
                    torn = False
                elif line.strip():
                    yield line
        if carry.strip() and not torn:
            yield carry


class _RunDeleted(NotFoundError):
    """A run's lock could not be taken because the run's folder is gone (it was deleted)."""

    def __init__(self) -> None:
        super().__init__("run not found: it was deleted")


class AtomicJSONStorage(Storage):
    """TinyDB storage that never leaves a half-written file behind."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, dict[str, Any]] | None:
        data: dict[str, dict[str, Any]] | None = _read_json(self.path)
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        write_atomic(self.path, json.dumps(data, separators=(",", ":")))

    def close(self) -> None:
        pass


class TinyDBStore(Store):
    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.runs_dir = self.home / "runs"
        self.index_path = self.home / "index.json"
        self.runs_index_path = self.home / "runs.jsonl"
        self._index_appends = 0
        self.compact_every = COMPACT_EVERY
        self._warned: set[str] = set()
        # Touched by every control request: one file for the runs of this process to watch.
        self._control_signal = FileSignal(self.home / "control.signal", CONTROL_POLL_S)
        self._event_logs: dict[str, int] = {}  # run id -> descriptor appending to its log
        self._executor: ThreadPoolExecutor | None = None

    # plumbing

    async def open(self) -> None:
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _store_error(exc, self.runs_dir) from exc
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

    def skipped(self, problem: str) -> None:
        """A damaged file spoils only its own run (or agent): say so once, and go on."""
        if problem not in self._warned:
            self._warned.add(problem)
            log.warning("skipped: %s", problem)

    async def close(self) -> None:
        while self._event_logs:
            os.close(self._event_logs.popitem()[1])
        if self._executor is not None:
            self._executor.shutdown(wait=False)  # a write still going finishes in its thread
            self._executor = None

    async def _io(self, function: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(IO_THREADS, thread_name_prefix="agio-tinydb")
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    @contextlib.contextmanager
    def _locked(self, lock_path: Path) -> Iterator[None]:
        lock = FileLock(str(lock_path), timeout=LOCK_TIMEOUT_S)
        try:
            lock.acquire()
        except Timeout:
            raise StoreError(f"{lock_path} is locked by another process for too long") from None
        except FileNotFoundError:  # its folder went away meanwhile: the run was deleted
            raise _RunDeleted from None
        except OSError as exc:  # the lock file cannot be made: a read-only or full store
            raise _store_error(exc, lock_path) from exc
        try:
            yield
        finally:
            lock.release()

    @contextlib.contextmanager
    def _index(self) -> Iterator[TinyDB]:
        with self._locked(self.home / "index.lock"):
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
        return self._locked(self._run_dir(run_id) / "lock")

    # agents

    def _stored_agents(self) -> list[Agent]:
        """Every readable agent; a damaged index (or entry) is skipped with a warning, so
        the built-in default agent still answers."""
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
        def read() -> Agent | None:
            return next((a for a in self._stored_agents() if a.id == agent_id), None)

        return await self._io(read)

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
        def read() -> list[Agent]:
            agents = [a for a in self._stored_agents() if tag is None or tag in a.tags]
            return sorted(agents, key=lambda a: a.id)

        return await self._io(read)

    # runs

    def _write_run(self, run: Run) -> None:
        write_atomic(self._run_dir(run.id) / "run.json", run.model_dump_json())

    def _index_run(self, run: Run) -> None:
        """Log the run's listing fields. Called with the run's lock held, so the listing
        sees a run's changes in the order they were made."""
        data = run.model_dump(mode="json")
        line = json.dumps({field: data[field] for field in INDEX_FIELDS}) + "\n"
        with self._locked(self.home / "index.lock"):
            append_lines(self.runs_index_path, line.encode(), durable=True)
            self._index_appends += 1
            if self._index_appends % self.compact_every == 0:
                self._compact_listing()

    def _compact_listing(self, drop: Collection[str] = ()) -> None:
        """Rewrite the run listing with only each run's latest line (and not the runs in
        `drop`). Called with the index lock held."""
        # Newest first: any order works, later appends supersede by coming later.
        latest = (
            f"{listed.decode()}\n"
            for listed, entry in self._runs_listing()
            if entry["id"] not in drop
        )
        write_atomic(self.runs_index_path, latest)

    def _runs_listing(self) -> Iterator[tuple[bytes, dict[str, Any]]]:
        """Each run's latest listing line and entry, most recently changed first. Holds the
        ids seen, not the entries: listing 100,000 runs must not cost their weight in memory
        (the peak of each scan stays in the process's resident size)."""
        seen: set[str] = set()
        for line in lines_newest_first(self.runs_index_path):
            try:
                entry = listing_entry(line)
            except ValueError:
                self.skipped(f"{self.runs_index_path} has a damaged line ({REPAIR_HINT})")
                continue
            if entry["id"] not in seen:  # else superseded by the line already seen
                seen.add(entry["id"])
                if not entry.get("deleted"):  # a deleted run's last line is a tombstone
                    yield line, entry

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
            except OSError as exc:
                raise _store_error(exc, run_dir) from exc
            # No run lock: until `run.json` and its listing line exist, nobody knows this run.
            try:
                if first_checkpoint is not None:
                    self._write_checkpoint(first_checkpoint)
                self._write_run(run)
                self._index_run(run)
            except BaseException:
                # Not created, so not left behind half made (an empty folder, a lone record).
                shutil.rmtree(run_dir, ignore_errors=True)
                raise

        await self._io(create)

    async def save_run(self, run: Run) -> None:
        def save() -> None:
            with self._run_lock(run.id):
                previous = self._read_run(run.id)
                self._write_run(run)
                if previous is None or previous.status != run.status:
                    self._index_run(run)

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
                    self._index_run(run)
            except _RunDeleted:
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
            total = 0
            # (created_at, id) of the newest matches up to the page's end: a min-heap.
            newest: list[tuple[str, str]] = []
            wanted = offset + limit
            for _, entry in self._runs_listing():
                if (
                    (agent_id is None or entry["agent_id"] == agent_id)
                    and (status is None or entry["status"] == status)
                    and (session_id is None or entry["session_id"] == session_id)
                    # Lines written before user_id existed have none.
                    and (user_id is None or entry.get("user_id") == user_id)
                    and (parent_run_id is None or entry.get("parent_run_id") == parent_run_id)
                    and (
                        created_before is None
                        or datetime.fromisoformat(entry["created_at"]) < created_before
                    )
                    and (needle is None or found(entry["id"]))
                ):
                    total += 1
                    item = (entry["created_at"], entry["id"])
                    if len(newest) < wanted:
                        heapq.heappush(newest, item)
                    elif wanted and item > newest[0]:
                        heapq.heapreplace(newest, item)
            page = sorted(newest, reverse=True)[offset:]
            runs = [self._listed_run(run_id) for _, run_id in page]
            return total, [run for run in runs if run is not None]

        return await self._io(read)

    async def delete_run(self, run_id: str, expected: Collection[str]) -> bool:
        def delete() -> bool:
            try:
                return delete_locked()
            except _RunDeleted:  # by someone else, meanwhile
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
                tombstone = json.dumps({"id": run_id, "deleted": True}) + "\n"
                with self._locked(self.home / "index.lock"):
                    append_lines(self.runs_index_path, tombstone.encode(), durable=True)
                # Out of its place while the lock is held: a transition waiting for the lock
                # finds no run once it has it.
                try:
                    os.replace(run_dir, trash)
                except OSError as exc:
                    raise _store_error(exc, run_dir) from exc
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

    # events: an append-only log; a torn last line (crash mid-write) is ignored and repaired

    def _events_path(self, run_id: str) -> Path:
        return self._run_dir(run_id) / "events.jsonl"

    async def append_events(self, run_id: str, events: list[Event]) -> None:
        # Appends are tiny and go to the page cache; a thread hop would cost more than the write.
        payload = b"".join([event.json_bytes + b"\n" for event in events])
        fd = self._event_logs.pop(run_id, None)
        try:
            if fd is None:
                fd = open_appending(self._events_path(run_id))
            write_all(fd, payload)
        except OSError as exc:
            # Closed: a line this left half-written is cut off by the next append's open.
            if fd is not None:
                os.close(fd)
            raise _store_error(exc, self._events_path(run_id)) from exc
        if len(self._event_logs) < MAX_OPEN_EVENT_LOGS:
            self._event_logs[run_id] = fd
        else:
            os.close(fd)

    async def sync_events(self, run_id: str) -> None:
        # The log is closed here: the owner syncs before each checkpoint and at the run's end.
        fd = self._event_logs.pop(run_id, None)

        def sync() -> None:
            path = self._events_path(run_id)
            try:
                if fd is not None:
                    os.fsync(fd)
                else:
                    with open(path, "rb") as handle:
                        os.fsync(handle.fileno())
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise _store_error(exc, path) from exc
            finally:
                if fd is not None:
                    os.close(fd)

        await self._io(sync)

    async def read_events(self, run_id: str, after_seq: int = 0) -> list[Event]:
        def read() -> list[Event]:
            events = []
            last = after_seq
            path = self._events_path(run_id)
            for event in parse_logged(read_lines(path), str(path)):
                # Strictly increasing: a batch retried after a partial write (disk full) may
                # have landed twice.
                if event.seq > last:
                    events.append(event)
                    last = event.seq
            return events

        return await self._io(read)

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
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _store_error(exc, path) from exc
