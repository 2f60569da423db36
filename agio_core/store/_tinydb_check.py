"""Keeping the embedded store consistent after crashes and damage.

`reconcile`: a run's record (`run.json`) and its listing line (`runs.jsonl`) are written in
two steps, record first (and only the record fsynced), so a crash in between, or a crash of
the machine that takes the listing's last lines, leaves the listing behind the record (a run
listed `running` whose record says `completed`; a finished run rewound in place, listed
`completed` while its record says `running`), or the run not listed at all; a crash while a
run is created can leave a folder with no record. Reconciling appends the record's line
where the listing is behind, and removes half-created folders and listing lines of runs that
no longer exist. It stays cheap enough to run whenever the store opens: it reads the records
of runs the listing does not show as finished, and of finished ones only if their record was
written since the last complete reconcile began (the mtime of `runs.reconciled`), which
covers a rewind whose listing line was never written; the others cost one `stat`.

`check`: every file the store reads, validated; with `repair`, what is damaged is moved
under `AGIO_HOME/damaged/<time>/` (whole run folders when their record is damaged), and
logs with damaged lines are rewritten without them (the original moved aside first).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from .._time import utcnow
from ..agents import Agent
from ..checkpoints import CheckpointRecord
from ..errors import StoreError
from ..events import parse_event
from ..ids import RUN_ID
from ..runs import FINISHED, ControlRequest, Run
from ._base import Damage
from ._tinydb_files import read_model, write_atomic
from ._tinydb_lines import read_lines
from ._tinydb_listing import listing_entry

if TYPE_CHECKING:
    from .tinydb import TinyDBStore

# A folder without a record younger than this may be a run being created right now.
HALF_CREATED_AFTER_S = 60.0
# File times lag the clock (coarse kernel timestamps, a file system of another host): a
# record this much older than the last reconcile's start is still read again.
CLOCK_SLACK_NS = 10 * 10**9


def reconcile(store: TinyDBStore, half_created_after_s: float = HALF_CREATED_AFTER_S) -> int:
    started = time.time_ns()
    stamp = store.home / "runs.reconciled"
    try:  # records written before this were seen by a reconcile that went to its end
        seen_before: int | None = stamp.stat().st_mtime_ns - CLOCK_SLACK_NS
    except FileNotFoundError:
        seen_before = None  # never reconciled (or by an older agio): every record once
    listed = {entry["id"]: entry["status"] for _, entry in store.listing.latest()}
    fixed = 0
    present: set[str] = set()
    for folder in _run_folders(store):
        record = folder / "run.json"
        try:
            written = record.stat().st_mtime_ns
        except FileNotFoundError:
            if time.time() - folder.stat().st_mtime > half_created_after_s:
                # Killed while being created: nothing refers to it, nobody can resume it.
                shutil.rmtree(folder, ignore_errors=True)
                fixed += 1
            continue
        present.add(folder.name)
        status = listed.get(folder.name)
        if status in FINISHED and seen_before is not None and written < seen_before:
            continue  # finished, and its record not written since a reconcile read it
        if _status_of(store, record) in {None, status}:
            continue  # agrees (or unreadable: skipped): nothing to write, no lock to take
        with store._run_lock(folder.name):  # the record's latest state, in order with others
            run = _read(store, record)
            if run is not None and run.status != status:
                store.listing.append(run)
                fixed += 1
    gone = set(listed) - present
    if gone:
        with store.listing.locked():
            store.listing.compact(drop=gone)
        fixed += len(gone)
    with contextlib.suppress(OSError, StoreError):  # read-only: read them again next time
        # Appends to the listing are not fsynced (`RunListing`): a record this stamp says
        # was seen must not keep a line that a crash of the machine could still take.
        store.listing.sync()
        stamp.touch()
        os.utime(stamp, ns=(started, started))
    return fixed


def _read(store: TinyDBStore, record: Path) -> Run | None:
    try:
        return read_model(record, Run)
    except StoreError as exc:
        store.skipped(exc.message)
        return None


def _status_of(store: TinyDBStore, record: Path) -> str | None:
    run = _read(store, record)
    return run.status if run is not None else None


def _run_folders(store: TinyDBStore) -> list[Path]:
    try:
        entries = list(os.scandir(store.runs_dir))
    except FileNotFoundError:
        return []
    return [Path(e.path) for e in entries if e.is_dir() and RUN_ID.match(e.name)]


class _Checker:
    def __init__(self, store: TinyDBStore, repair: bool) -> None:
        self.store = store
        self.repair = repair
        self.found: list[Damage] = []
        stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
        self.aside = store.home / "damaged" / stamp

    def damaged(self, path: Path, problem: str, *, move: Path | None = None) -> None:
        """Report `path`; with repair, move `move` (default: `path`) aside."""
        moved_to = None
        if self.repair:
            target = move or path
            destination = self.aside / target.relative_to(self.store.home)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(target, destination)
            moved_to = str(destination)
        self.found.append(Damage(path=str(path), problem=problem, moved_to=moved_to))

    def json_file(self, path: Path, valid: Callable[[object], object]) -> bool:
        """Whether `path` (if it exists) holds valid JSON that `valid` accepts."""
        try:
            valid(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return True
        except (ValueError, UnicodeDecodeError):  # ValidationError is a ValueError
            return False
        return True

    def lines(self, path: Path, valid: Callable[[bytes], object]) -> None:
        """A log of one JSON document per line: damaged lines reported; with repair, the
        log is rewritten without them (the original is moved aside first)."""
        good, bad = [], 0
        for line in read_lines(path):
            try:
                valid(line)
                good.append(line)
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                bad += 1
        if not bad:
            return
        self.damaged(path, f"{bad} damaged line(s); the other {len(good)} are kept")
        if self.repair:  # the original is aside now: the log goes on with the good lines
            write_atomic(path, (line.decode() + "\n" for line in good))

    def run(self, folder: Path) -> None:
        record = folder / "run.json"
        if not record.exists():
            return  # half created: reconcile's business
        if not self.json_file(record, Run.model_validate):
            self.damaged(record, "not a valid run record; the run is unreadable", move=folder)
            return
        for path in sorted((folder / "checkpoints").glob("*.json")):
            if not self.json_file(path, CheckpointRecord.model_validate):
                self.damaged(path, "not a valid checkpoint")
        control = folder / "control.json"
        if not self.json_file(control, ControlRequest.model_validate):
            self.damaged(control, "not a valid control request")
        with self.store._run_lock(folder.name):
            self.lines(folder / "events.jsonl", parse_event)


def _agents(data: object) -> None:
    if not isinstance(data, dict):
        raise ValueError("not a TinyDB document")
    for doc in (data.get("agents") or {}).values():
        Agent.model_validate(doc)


def check(store: TinyDBStore, repair: bool) -> list[Damage]:
    checker = _Checker(store, repair)
    try:
        with store.listing.locked():
            if not checker.json_file(store.index_path, _agents):
                checker.damaged(store.index_path, "not a valid agent index; agents are hidden")
            checker.lines(store.listing.path, listing_entry)
        for folder in _run_folders(store):
            checker.run(folder)
    except (OSError, ValidationError) as exc:
        raise StoreError(f"cannot check {store.home}: {exc}") from exc
    if repair:
        reconcile(store)
    return checker.found
