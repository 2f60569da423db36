"""Control calls racing a run's end: the call's answer, the run record and the event log agree.

One race: start a short offline run, follow its events, and at a seeded random moment around
its end (just before its last token, as it records its checkpoint, between its record and its
`run_completed`, after it) send `cancel` or `pause`. Then read the run record and the stored
event log (the raw log, not the API's view of it, which rebuilds a missing end event):

- the log has exactly one stream-ending event of the kind the record's status says
  (`completed` -> one `run_completed`, `cancelled` -> one `run_cancelled` last, `paused` ->
  `run_paused` last and no terminal event);
- the call answered the same: a cancel that lost the race is a 409 naming the end that won,
  one that won answers `cancelled`; a pause answers `paused`, or 409 if the run ended first.

Used by `test_races.py` (a few hundred races, embedded and through `agio serve`) and by
`bench/control_races.py` (as many as asked).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from agio_core import Agio, ConflictError, Settings
from agio_core.store.tinydb import TinyDBStore

Action = Literal["cancel", "pause"]
TERMINAL = {"run_completed", "run_failed", "run_cancelled"}
# A short run: one model step, a few tokens, no tool call.
AGENT = {"id": "racer", "model": "offline/demo", "model_params": {"delay_ms": 1}}
MESSAGE = "count to 8"
# Through `agio serve`: a relay writes a stream's tokens at most once per tick (30 ms,
# SEND_INTERVAL_S), so a run shorter than that reaches its client in one write, ending with
# the run's end, and no call made on seeing an event could land before that end. Spread over
# a few ticks, the events around the end reach the client at seeded-random moments before it.
SERVED_AGENT = {**AGENT, "model_params": {"delay_ms": 8}}
# Where the call goes out: after the n-th event from the end of a run of this shape, plus a
# few loop turns or a short sleep, so the whole end of the run is covered.
TRIGGERS = ("content_delta", "usage", "checkpoint_created", "run_completed")


@dataclass
class Tally:
    races: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    disagreements: list[str] = field(default_factory=list)

    def add(self, outcome: str, problem: str | None) -> None:
        self.races += 1
        self.outcomes[outcome] += 1
        if problem:
            self.disagreements.append(problem)

    def summary(self) -> dict[str, Any]:
        return {
            "races": self.races,
            "outcomes": dict(self.outcomes),
            "disagreements": len(self.disagreements),
            "samples": self.disagreements[:5],
        }


def judge(action: Action, answer: str, status: str, types: list[str]) -> str | None:
    """What is wrong with this outcome, or None. `answer` is the call's answered status, or
    `conflict:<status>` for a 409."""
    ends = [t for t in types if t in TERMINAL]
    last = types[-1] if types else None
    if status == "completed":
        ok_log = ends == ["run_completed"] and last == "run_completed"
    elif status == "cancelled":
        ok_log = ends == ["run_cancelled"] and last == "run_cancelled"
    elif status == "paused":
        ok_log = not ends and last == "run_paused"
    else:
        return f"unexpected status {status}"
    if not ok_log:
        return f"record {status}, log ends {ends} (last {last})"
    expected = {
        ("cancel", "cancelled"): {"cancelled"},
        ("cancel", "completed"): {"conflict:completed"},
        ("pause", "paused"): {"paused"},
        ("pause", "completed"): {"conflict:completed"},
    }.get((action, status), set())
    if answer not in expected:
        return f"{action} answered {answer}, record {status}"
    return None


def moment(rng: random.Random) -> tuple[str, float | int]:
    """After which event the call goes out, then either loop turns (int) or a sleep (s)."""
    trigger = rng.choice(TRIGGERS)
    delay: float | int = rng.randint(0, 3) if rng.random() < 0.5 else rng.uniform(0, 0.004)
    return trigger, delay


async def wait_a_moment(delay: float | int) -> None:
    if isinstance(delay, int):
        for _ in range(delay):
            await asyncio.sleep(0)
    else:
        await asyncio.sleep(delay)


async def embedded_race(agio: Agio, action: Action, rng: random.Random) -> tuple[str, str | None]:
    trigger, delay = moment(rng)
    handle = await agio.start_chat(AGENT["id"], MESSAGE)
    seen: list[str] = []
    async for event in handle.events():
        seen.append(event.type)
        if event.type == trigger and (trigger != "content_delta" or seen.count(trigger) >= 7):
            break
    await wait_a_moment(delay)
    try:
        call = agio.cancel_run if action == "cancel" else agio.pause_run
        answer = (await call(handle.run_id)).status
    except ConflictError as exc:
        answer = "conflict:" + ("completed" if "completed" in exc.message else exc.message)
    await handle.wait()
    run = await agio.get_run(handle.run_id)
    types = [e.type for e in await agio.store.read_events(handle.run_id)]
    return f"{action}:{answer}", judge(action, answer, run.status, types)


async def embedded_races(settings: Settings, count: int, seed: int) -> Tally:
    """`count` races, half cancel and half pause, in this process."""
    rng = random.Random(seed)
    tally = Tally()
    async with Agio(settings) as agio:
        await agio.create_agent(AGENT, replace=True)
        for index in range(count):
            action: Action = "cancel" if index % 2 == 0 else "pause"
            outcome, problem = await embedded_race(agio, action, rng)
            tally.add(outcome, problem)
    return tally


async def served_race(
    client: httpx.AsyncClient, store: TinyDBStore, action: Action, rng: random.Random
) -> tuple[str, str | None]:
    trigger, delay = moment(rng)
    created = await client.post("/api/runs", json={"agent_id": AGENT["id"], "message": MESSAGE})
    run_id = created.json()["id"]
    tokens = 0
    async with client.stream("GET", f"/api/runs/{run_id}/events") as stream:
        async for line in stream.aiter_lines():
            if not line.startswith("event: "):
                continue
            kind = line.removeprefix("event: ")
            tokens += kind == "content_delta"
            if kind == trigger and (trigger != "content_delta" or tokens >= 7):
                break
    await wait_a_moment(delay)
    response = await client.post(f"/api/runs/{run_id}/{action}")
    if response.status_code == 409:
        detail = response.json()["detail"]
        answer = "conflict:" + ("completed" if "completed" in detail else detail)
    elif response.status_code == 200:
        answer = response.json()["status"]
    else:
        answer = f"http {response.status_code}: {response.text[:200]}"
    run = (await client.get(f"/api/runs/{run_id}")).json()
    for _ in range(100):  # the owner may still be logging the end it recorded
        if run["status"] != "running":
            break
        await asyncio.sleep(0.02)
        run = (await client.get(f"/api/runs/{run_id}")).json()
    # The server flushes and syncs the end event before it answers for the run's end.
    types = [e.type for e in await store.read_events(run_id)]
    return f"{action}:{answer}", judge(action, answer, run["status"], types)


async def served_races(url: str, home: Path, count: int, seed: int) -> Tally:
    """`count` races against the `agio serve` at `url`, whose AGIO_HOME is `home`."""
    rng = random.Random(seed)
    tally = Tally()
    store = TinyDBStore(home)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        put = await client.post("/api/agents", params={"replace": "true"}, json=SERVED_AGENT)
        put.raise_for_status()
        for index in range(count):
            action: Action = "cancel" if index % 2 == 0 else "pause"
            outcome, problem = await served_race(client, store, action, rng)
            tally.add(outcome, problem)
    return tally
