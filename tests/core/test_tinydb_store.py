"""What is particular to the embedded store's files (the contract suite covers the rest)."""

from __future__ import annotations

from pathlib import Path

from agio_core import Agio, Settings
from agio_core.store.tinydb import TinyDBStore


async def test_run_listing_is_an_append_only_log_that_compacts(home: Path) -> None:
    store = TinyDBStore(home)
    store.compact_every = 10
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
