"""`agio runs list | show | events | pause | resume | cancel` in this process."""

from __future__ import annotations

import asyncio
import json

from helpers.agents import sums_question

from agio_core import Agio, Settings

from .conftest import Cli


def paused_run(cli: Cli, steps: int = 30) -> str:
    """A run of the `stepper` agent paused after a few steps (driven here through the core)."""
    agent = cli.agent("stepper")

    async def start_and_pause() -> str:
        async with Agio(Settings(home=cli.home)) as agio:
            handle = await agio.start_chat(agent, sums_question(steps))
            checkpoints = 0
            async for event in handle.events():
                checkpoints += event.type == "checkpoint_created"
                if checkpoints == 3:
                    break
            run = await handle.pause()
            assert run.status == "paused"
            return run.id

    return asyncio.run(start_and_pause())


def test_list_show_and_filters(cli: Cli) -> None:
    fast = cli.agent("fast")
    first = cli.chat("-a", fast, "count to 2")["id"]
    second = cli.chat("hello")["id"]
    rows = [line.split("\t") for line in cli.ok("runs", "list").splitlines()]
    assert [row[:3] for row in rows] == [
        [second, "completed", "assistant"],
        [first, "completed", fast],
    ]
    assert rows[1][-1] == "count to 2"
    assert cli.ok("runs", "list", "-a", fast, "-q") == f"{first}\n"
    assert cli.ok("runs", "list", "--status", "failed") == ""
    page = cli.json("runs", "list", "-n", "1")
    assert page["total"] == 2 and [r["id"] for r in page["items"]] == [second]
    shown = cli.ok("runs", "show", first)
    assert f"id: {first}\nstatus: completed\nagent: fast\n" in shown
    assert shown.endswith("response: 1 2.\n")
    assert cli.json("runs", "show", first)["response"] == "1 2."


def test_events_replays_what_chat_streamed(cli: Cli) -> None:
    streamed = cli.ok("chat", "--events", "-a", cli.agent("fast"), "What is 12*7?")
    run_id = json.loads(streamed.splitlines()[0])["run_id"]
    assert cli.ok("runs", "events", run_id) == streamed
    assert cli.ok("runs", "events", run_id, "--follow") == streamed  # finished: returns
    later = cli.ok("runs", "events", run_id, "--after", "3").splitlines()
    assert json.loads(later[0])["seq"] == 4


def test_resume_streams_the_rest_of_a_paused_run(cli: Cli) -> None:
    run_id = paused_run(cli)
    assert cli.json("runs", "show", run_id)["status"] == "paused"
    events = [
        json.loads(line) for line in cli.ok("runs", "resume", run_id, "--events").splitlines()
    ]
    assert events[0]["type"] == "run_resumed"
    assert events[-1]["type"] == "run_completed"
    assert events[-1]["response"].endswith("30+30 = 60.")
    assert cli.json("runs", "show", run_id)["status"] == "completed"


def test_resume_plain_prints_the_answer(cli: Cli) -> None:
    run_id = paused_run(cli, steps=10)
    assert cli.ok("runs", "resume", run_id).endswith("10+10 = 20.\n")


def test_cancel_a_paused_run(cli: Cli) -> None:
    run_id = paused_run(cli, steps=10)
    assert cli.ok("runs", "cancel", run_id) == f"{run_id}\n"
    assert cli.json("runs", "show", run_id)["status"] == "cancelled"
    last = json.loads(cli.ok("runs", "events", run_id).splitlines()[-1])
    assert last["type"] == "run_cancelled" and last["reason"] == "cancelled by user"


def test_control_of_a_finished_run_is_a_conflict(cli: Cli) -> None:
    run_id = cli.chat("hello")["id"]
    for action in ("pause", "resume", "cancel"):
        result = cli("runs", action, run_id)
        assert result.exit_code == 1, action
        assert result.stderr.startswith(f"agio: error: run {run_id} is")
        assert result.stderr.count("\n") == 1


def test_bad_ids_and_filters(cli: Cli) -> None:
    assert cli("runs", "show", "run_0123456789abcdef").exit_code == 3
    assert cli("runs", "show", "nonsense").exit_code == 3
    result = cli("runs", "list", "--status", "sleeping")
    assert result.exit_code == 2 and "sleeping" in result.stderr
