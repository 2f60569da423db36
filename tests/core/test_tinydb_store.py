"""What is particular to the embedded store's files (the contract suite covers the rest)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agio_core import Agio, Settings
from agio_core.agents import Agent
from agio_core.errors import StoreError
from agio_core.ids import checkpoint_id, new_run_id
from agio_core.runs import Run
from agio_core.store import _tinydb_files
from agio_core.store._tinydb_files import RunDeleted, locked, write_atomic
from agio_core.store._tinydb_lines import lines_newest_first, read_lines
from agio_core.store.tinydb import TinyDBStore


async def test_run_listing_is_an_append_only_log_that_compacts(home: Path) -> None:
    store = TinyDBStore(home)
    store.listing.compact_every = 10
    async with Agio(Settings(home=home), store=store) as agio:
        runs = [await agio.chat("assistant", f"count to {i}") for i in range(1, 5)]
        listing = home / "runs.jsonl"
        # created + completed per run, minus what compaction folded: never more than 2 per run
        assert len(listing.read_text().splitlines()) <= 2 * len(runs)
        page = await agio.list_runs(limit=10)
        assert [r.id for r in page.items] == [r.id for r in reversed(runs)]
        assert {r.status for r in page.items} == {"completed"}


async def test_a_torn_last_line_is_ignored_then_cut_off(home: Path) -> None:
    async with Agio(Settings(home=home)) as agio:
        first = await agio.chat("assistant", "count to 2")
        listing = home / "runs.jsonl"
        with listing.open("ab") as handle:
            handle.write(b'{"id": "run_00000000')  # a crash in the middle of an append
        assert [r.id for r in (await agio.list_runs()).items] == [first.id]
        second = await agio.chat("assistant", "count to 3")
        assert [r.id for r in (await agio.list_runs()).items] == [second.id, first.id]
        assert listing.read_bytes().endswith(b"\n")


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"\n", b"x"))),
    torn=st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")),
    block_size=st.integers(min_value=1, max_value=64),
)
def test_lines_newest_first_reads_any_file_backwards(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], torn: bytes, block_size: int
) -> None:
    path = tmp_path_factory.mktemp("lines") / "log.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines) + torn)
    expected = [line for line in reversed(lines) if line.strip()]
    assert list(lines_newest_first(path, block_size)) == expected == read_lines(path)[::-1]


async def test_listing_many_runs_holds_ids_not_entries(home: Path) -> None:
    """The peak of a scan stays in a server's resident memory: it must not grow with the
    weight of every run's entry (it was ~1.4 KB a run, so `agio serve` kept growing)."""
    store = TinyDBStore(home)
    await store.open()
    runs = 20_000
    with store.listing.path.open("w") as listing:
        for n in range(runs):
            for status in ("running", "completed"):
                entry = {
                    "id": f"run_{n:016x}",
                    "agent_id": "assistant",
                    "session_id": f"session-{n}",
                    "status": status,
                    "created_at": f"2026-11-25T20:00:{n % 60:02d}.{n:06d}Z",
                    "parent_run_id": None,
                }
                listing.write(json.dumps(entry) + "\n")
    tracemalloc.start()
    try:
        total, page = await store.list_runs(status="completed", limit=5, offset=3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == runs and page == []  # listed, but no run records exist to read
    assert peak < 400 * runs, f"{peak / runs:.0f} bytes a run"  # was ~1,400


def test_a_file_written_in_pieces_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    path.write_text("old\n")

    def pieces() -> Iterator[str]:
        yield "new\n"
        raise StoreError("runs.jsonl has a corrupt line")

    with pytest.raises(StoreError):
        write_atomic(path, pieces())
    assert path.read_text() == "old\n" and list(tmp_path.iterdir()) == [path]
    write_atomic(path, iter(["a\n", "b\n"]))
    assert path.read_text() == "a\nb\n" and list(tmp_path.iterdir()) == [path]


def _listing_run(session: str, status: str = "running") -> Run:
    return Run(id=new_run_id(), agent_id="a", session_id=session, input="x", status=status)


def test_concurrent_listing_appends_keep_each_runs_order_in_whole_lines(home: Path) -> None:
    listing = TinyDBStore(home).listing
    runs = [_listing_run(f"ses_{i}") for i in range(40)]

    def create_then_complete(run: Run) -> None:
        listing.append(run)
        listing.append(run.model_copy(update={"status": "completed"}))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(create_then_complete, runs))
    lines = [json.loads(line) for line in read_lines(listing.path)]
    assert sorted(line["id"] for line in lines) == sorted([r.id for r in runs] * 2)
    for run in runs:  # each run's lines in the order they were appended
        assert [line["status"] for line in lines if line["id"] == run.id] == [
            "running",
            "completed",
        ]
    assert {e["id"]: e["status"] for _, e in listing.latest()} == {r.id: "completed" for r in runs}


def test_a_listing_append_the_full_disk_refused_fails_and_leaves_whole_lines(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listing = TinyDBStore(home).listing
    first = _listing_run("ses_first")
    listing.append(first)
    real_write = os.write

    def half_then_full(fd: int, data: bytes | memoryview) -> int:
        if len(data) > 1:  # the disk fills up in the middle of the line
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(StoreError, match="disk full"):
        listing.append(_listing_run("ses_refused"))
    monkeypatch.setattr(os, "write", real_write)
    later = _listing_run("ses_later")
    listing.append(later)  # the store works again once the disk has room
    assert [e["id"] for _, e in listing.latest()] == [later.id, first.id]
    assert all(json.loads(line) for line in read_lines(listing.path))


def _durability_trace(monkeypatch: pytest.MonkeyPatch, home: Path) -> list[str]:
    """What the store makes durable, in order: `fsync <path>` (a temp file by its final
    name), `replace <path>`, `write <path>` (appends), paths relative to `home`."""
    trace: list[str] = []
    real_fsync, real_replace, real_write = os.fsync, os.replace, os.write

    def name(path: str) -> str:
        relative = os.path.relpath(path, home)
        folder, base = os.path.split(relative)
        if base.startswith(".") and base.endswith(".tmp"):  # `.run.json.abc123.tmp`
            base = base[1:].rsplit(".", 2)[0]
        return os.path.join(folder, base) if folder else base

    def fsync(fd: int) -> None:
        trace.append("fsync " + name(os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(source: str | Path, target: str | Path) -> None:
        trace.append("replace " + name(str(target)))
        real_replace(source, target)

    def write(fd: int, data: bytes | memoryview) -> int:
        path = os.readlink(f"/proc/self/fd/{fd}")
        if path.startswith(str(home)):
            trace.append("write " + name(path))
        return real_write(fd, data)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "write", write)
    return trace


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
async def test_a_record_is_durable_only_after_what_it_points_at(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each file a record refers to, and its folder entry, is synced before the record
    replaces the old one; the listing line comes after the record, and is not fsynced."""
    async with Agio(Settings(home=home)) as agio:
        trace = _durability_trace(monkeypatch, home)
        run = await agio.chat("assistant", "count to 2")
    run_dir = f"runs/{run.id}"
    first = f"{run_dir}/checkpoints/{checkpoint_id(run.id, 0)}.json"
    # The run's creation: its first checkpoint, then its record.
    creation = trace[trace.index(f"fsync {first}") : trace.index("write runs.jsonl") + 1]
    assert creation == [
        f"fsync {first}",
        f"replace {first}",
        f"fsync {run_dir}/checkpoints",
        f"fsync {run_dir}/run.json",
        f"replace {run_dir}/run.json",
        f"fsync {run_dir}",
        "write runs.jsonl",
    ]
    # Its end: the events, the last checkpoint, then the record that points at it.
    last = run.last_checkpoint_id
    ending = trace[trace.index(f"fsync {run_dir}/checkpoints/{last}.json") - 1 :]
    assert ending[:8] == [
        f"fsync {run_dir}/events.jsonl",
        f"fsync {run_dir}/checkpoints/{last}.json",
        f"replace {run_dir}/checkpoints/{last}.json",
        f"fsync {run_dir}/checkpoints",
        f"fsync {run_dir}/run.json",
        f"replace {run_dir}/run.json",
        f"fsync {run_dir}",
        "write runs.jsonl",
    ]
    assert "fsync runs.jsonl" not in trace


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
async def test_reconciling_makes_the_listing_durable_before_saying_what_it_saw(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records older than the `runs.reconciled` stamp are not read again: their listing
    lines, appended without an fsync, must be on disk before the stamp moves."""
    async with Agio(Settings(home=home)) as agio:
        await agio.chat("assistant", "count to 2")
    trace = _durability_trace(monkeypatch, home)
    real_utime = os.utime

    def utime(path: str | Path, *args: Any, **kwargs: Any) -> None:
        trace.append("utime " + os.path.relpath(path, home))
        real_utime(path, *args, **kwargs)

    monkeypatch.setattr(os, "utime", utime)
    await TinyDBStore(home).reconcile()
    stamped = trace.index("utime runs.reconciled")
    assert "fsync runs.jsonl" in trace[:stamped], trace


def test_syncing_the_listing_leaves_a_line_being_appended_alone(home: Path) -> None:
    """Reconcile syncs the listing without its lock: a line another process is writing
    at that moment must not be cut off as if a crash had torn it."""
    listing = TinyDBStore(home).listing
    listing.append(_listing_run("ses_done"))
    with listing.path.open("ab") as other_process:
        other_process.write(b'{"id": "run_00000000')  # its append, half way through
    before = listing.path.read_bytes()
    listing.sync()
    assert listing.path.read_bytes() == before


async def test_an_agent_changed_by_another_process_is_seen_at_once(home: Path) -> None:
    ours, theirs = TinyDBStore(home), TinyDBStore(home)  # two processes' stores
    agent = Agent(id="writer", model="offline/demo", system_prompt="one")
    await ours.put_agent(agent)
    assert (await ours.get_agent("writer")) == agent
    for prompt in ("two", "six"):  # same size: told apart by the file, not by its length
        await theirs.put_agent(agent.model_copy(update={"system_prompt": prompt}))
        seen = await ours.get_agent("writer")
        assert seen is not None and seen.system_prompt == prompt
    assert await theirs.delete_agent("writer")
    assert await ours.get_agent("writer") is None
    assert [a.id for a in await ours.list_agents()] == []
    await ours.close()
    await theirs.close()


# The file lock: every writer of a store file holds it, from any thread or process.


def test_file_lock_excludes_threads_of_one_process(tmp_path: Path) -> None:
    inside, most = 0, 0
    guard = threading.Lock()

    def hold() -> None:
        nonlocal inside, most
        for _ in range(20):
            with locked(tmp_path / "lock"):
                with guard:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.0005)
                with guard:
                    inside -= 1

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(hold) for _ in range(4)]:
            future.result()
    assert most == 1


def _hold_lock_in_child(lock_path: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path\n"
            "from agio_core.store._tinydb_files import locked\n"
            "with locked(Path(sys.argv[1])):\n"
            "    print('held', flush=True); time.sleep(60)\n",
            str(lock_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline() == "held\n"
    return child


def test_file_lock_held_by_another_process_times_out_then_frees_when_it_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    child = _hold_lock_in_child(tmp_path / "lock")
    try:
        monkeypatch.setattr(_tinydb_files, "LOCK_TIMEOUT_S", 0.3)
        started = time.monotonic()
        too_long = "locked by another process for too long"
        with pytest.raises(StoreError, match=too_long), locked(tmp_path / "lock"):
            pass
        assert time.monotonic() - started >= 0.3
    finally:
        child.kill()  # SIGKILL: no cleanup of its own, the kernel drops its lock
        child.wait()
    with locked(tmp_path / "lock"):
        pass


def test_file_lock_of_a_deleted_run_folder_says_the_run_was_deleted(tmp_path: Path) -> None:
    with pytest.raises(RunDeleted), locked(tmp_path / "gone" / "lock"):
        pass
