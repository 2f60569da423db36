"""A separate OS process writing to a store, for the cross-process tests.

    python _writer.py BACKEND WHERE NAME SHARED_JSON

SHARED_JSON: {"counter": run id, "claimable": [run ids], "rounds": N}. Prints one JSON line:
{"claimed": [run ids this process won], "runs": [run ids it created]}.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from store_backends import make_store

from agio_core.agents import Agent
from agio_core.events import StepStarted
from agio_core.ids import new_run_id
from agio_core.runs import Run


async def main(backend: str, where: str, name: str, shared: dict[str, object]) -> None:
    store = make_store(backend, where)
    await store.open()
    rounds = int(str(shared["rounds"]))
    counter = str(shared["counter"])
    claimable = [str(r) for r in shared["claimable"]]  # type: ignore[attr-defined]
    claimed: list[str] = []
    created: list[str] = []
    try:
        for i in range(rounds):
            await store.put_agent(Agent(id=f"{name}-{i:03d}", model="offline/demo", tags=[name]))
            run = Run(id=new_run_id(), agent_id=name, session_id=f"sess-{name}", input=str(i))
            await store.create_run(run)
            created.append(run.id)
            await store.append_events(run.id, [StepStarted(seq=1, run_id=run.id, step=i)])
            # Read-modify-write of one shared run: a lost update would show in the total.
            await store.transition_run(
                counter,
                {"paused"},
                lambda current: {"checkpoint_count": current.checkpoint_count + 1},
            )
            if i < len(claimable):
                won = await store.transition_run(
                    claimable[i], {"paused"}, {"status": "running", "owner": name}
                )
                if won is not None:
                    claimed.append(won.id)
    finally:
        await store.close()
    print(json.dumps({"claimed": claimed, "runs": created}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])))
