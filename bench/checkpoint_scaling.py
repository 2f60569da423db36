"""Does a checkpoint cost the same at step 1,000 as at step 10, and with 10,000 earlier runs?

Drives real runs of the offline model (one calculator call per step, no delay) through the
engine on the embedded TinyDB store, and times each checkpoint write as the engine does it
(checkpoint file + run record). Prints the figures; the last line is JSON.

    python bench/checkpoint_scaling.py [--steps 1000] [--earlier-runs 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from agio_core import Agio, Settings
from agio_core.checkpoints import CheckpointRecord
from agio_core.ids import new_run_id, new_session_id
from agio_core.runs import Run
from agio_core.store._tinydb_listing import INDEX_FIELDS
from agio_core.store.tinydb import TinyDBStore


class TimedStore(TinyDBStore):
    """The real store, timing what the engine writes per checkpoint, by step: the checkpoint
    file and the run record saved right after it."""

    def __init__(self, home: Path) -> None:
        super().__init__(home)
        self.write_ms: dict[int, float] = {}
        self._pending: tuple[int, float] | None = None

    async def put_checkpoint(self, record: CheckpointRecord) -> None:
        started = time.perf_counter()
        await super().put_checkpoint(record)
        self._pending = (record.step, time.perf_counter() - started)

    async def save_run(self, run: Run) -> None:
        started = time.perf_counter()
        await super().save_run(run)
        if self._pending is not None:
            step, checkpoint_s = self._pending
            self.write_ms[step] = (checkpoint_s + time.perf_counter() - started) * 1000
            self._pending = None


async def run_steps(home: Path, steps: int) -> dict[int, float]:
    store = TimedStore(home)
    async with Agio(Settings(home=home), store=store) as agio:
        await agio.create_agent(
            {
                "id": "stepper",
                "model": "offline/demo",
                "model_params": {"delay_ms": 0, "parallel_tool_calls": False},
                "tools": ["calculator"],
                "max_steps": steps + 10,
            },
            replace=True,
        )
        question = "What is " + ", ".join(f"{i}+{i}" for i in range(1, steps + 1)) + "?"
        run = await agio.chat("stepper", question)
        assert run.status == "completed", run.error
    return store.write_ms


def seed_runs(home: Path, count: int) -> None:
    """Put `count` finished runs in the store in one go (as if made over months)."""
    runs_dir = home / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    for i in range(count):
        run = Run(
            id=new_run_id(),
            agent_id="stepper",
            session_id=new_session_id(),
            status="completed",
            input=f"old question {i}",
            response="old answer",
        )
        (runs_dir / run.id / "checkpoints").mkdir(parents=True)
        (runs_dir / run.id / "run.json").write_text(run.model_dump_json())
        data = run.model_dump(mode="json")
        entries.append({k: data[k] for k in INDEX_FIELDS})
    (home / "runs.jsonl").write_text("".join(json.dumps(entry) + "\n" for entry in entries))


async def create_run_ms(home: Path, count: int = 21) -> float:
    """Median time to create a run (run file + listing entry) in the store at `home`."""
    store = TinyDBStore(home)
    await store.open()
    times = []
    for _ in range(count):
        run = Run(id=new_run_id(), agent_id="stepper", session_id=new_session_id(), input="x")
        started = time.perf_counter()
        await store.create_run(run)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def median_around(write_ms: dict[int, float], step: int, width: int = 5) -> float:
    return statistics.median(write_ms[s] for s in range(step - width, step + width + 1))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--earlier-runs", type=int, default=10_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        empty_home, full_home = Path(tmp) / "empty", Path(tmp) / "full"
        started = time.perf_counter()
        long_run = await run_steps(empty_home, args.steps)
        print(f"one run of {args.steps} steps: {time.perf_counter() - started:.1f} s")
        seed_runs(full_home, args.earlier_runs)
        crowded = await run_steps(full_home, 30)
        create_empty = await create_run_ms(Path(tmp) / "fresh")
        create_crowded = await create_run_ms(full_home)

    at_10 = median_around(long_run, 10)
    at_end = median_around(long_run, args.steps - 10)
    crowded_10 = median_around(crowded, 10)
    print(f"checkpoint write, step ~10:                     {at_10:7.2f} ms (median of 11)")
    print(f"checkpoint write, step ~{args.steps - 10}:                   {at_end:7.2f} ms")
    print(f"checkpoint write, step ~10, {args.earlier_runs} earlier runs: {crowded_10:7.2f} ms")
    print(f"run creation, empty store:                      {create_empty:7.2f} ms")
    print(f"run creation, {args.earlier_runs} earlier runs:             {create_crowded:7.2f} ms")
    print(f"ratio step {args.steps - 10} / step 10:       {at_end / at_10:.2f}")
    print(f"ratio crowded store / empty store:   {crowded_10 / at_10:.2f}")
    print(
        json.dumps(
            {"metric": "checkpoint_write_ratio_1000_vs_10", "value": round(at_end / at_10, 3)}
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
