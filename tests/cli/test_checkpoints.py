"""`agio checkpoints list | show | create | restore | fork | tree | diff`."""

from __future__ import annotations

import json

from .conftest import Cli


def calculator_run(cli: Cli) -> str:
    return str(cli.chat("-a", cli.agent("fast"), "What is 12*7?")["id"])


def checkpoint(run_id: str, number: int) -> str:
    return f"ck_{run_id.removeprefix('run_')}_{number:04d}"


def test_list_and_show(cli: Cli) -> None:
    run_id = calculator_run(cli)
    rows = [line.split("\t") for line in cli.ok("checkpoints", "list", run_id).splitlines()]
    assert [(row[0], row[1], row[2], row[4]) for row in rows] == [
        (checkpoint(run_id, 0), "0", "auto", "2"),
        (checkpoint(run_id, 1), "1", "auto", "4"),
        (checkpoint(run_id, 2), "2", "auto", "5"),
    ]
    assert cli.ok("checkpoints", "list", run_id, "-q").split() == [r[0] for r in rows]
    page = cli.json("checkpoints", "list", run_id, "--limit", "1", "--offset", "1")
    assert (page["total"], page["limit"], page["offset"]) == (3, 1, 1)
    assert [c["id"] for c in page["items"]] == [checkpoint(run_id, 1)]
    shown = cli.ok("checkpoints", "show", checkpoint(run_id, 2), "--messages")
    assert f"run: {run_id}\nstep: 2\n" in shown and "model: offline/demo" in shown
    assert shown.endswith(
        "user: What is 12*7?\n"
        'assistant: → calculator({"expression": "12*7"})\n'
        "tool: 84\n"
        "assistant: 12*7 = 84.\n"
    )
    summary = cli.json("checkpoints", "show", checkpoint(run_id, 1))
    assert "messages" not in summary and summary["message_count"] == 4
    full = json.loads(cli.ok("checkpoints", "show", checkpoint(run_id, 1), "-m", "--json"))
    assert [m["role"] for m in full["messages"]] == ["system", "user", "assistant", "tool"]


def test_manual_checkpoint(cli: Cli) -> None:
    run_id = calculator_run(cli)
    created = cli.ok("checkpoints", "create", run_id, "-d", "before the big change").strip()
    assert created == checkpoint(run_id, 3)
    summaries = cli.json("checkpoints", "list", run_id)["items"]
    assert summaries[-1]["kind"] == "manual"
    assert summaries[-1]["description"] == "before the big change"


def test_fork_quiet_prints_the_new_run_id(cli: Cli) -> None:
    run_id = calculator_run(cli)
    forked = cli.ok("checkpoints", "fork", checkpoint(run_id, 0), "-q", "--query", "count to 3")
    new_run = forked.strip()
    assert forked == f"{new_run}\n" and new_run != run_id
    record = cli.json("runs", "show", new_run)
    assert record["response"] == "1 2 3."
    assert record["parent_run_id"] == run_id
    assert record["from_checkpoint_id"] == checkpoint(run_id, 0)
    assert cli.json("runs", "show", run_id)["response"] == "12*7 = 84."  # untouched


def test_fork_streams_like_chat_and_params_add_to_the_agents(cli: Cli) -> None:
    run_id = calculator_run(cli)
    out = cli.ok(
        "checkpoints", "fork", checkpoint(run_id, 1), "-p", "temperature=0.5", "--max-steps", "4"
    )
    assert out == "12*7 = 84.\n"
    new_run = cli.json("runs", "list", "-n", "1")["items"][0]
    last = cli.json("checkpoints", "show", new_run["last_checkpoint_id"])
    params = cli.ok("checkpoints", "show", last["id"]).split("model params: ")[1]
    assert json.loads(params) == {"delay_ms": 0, "temperature": 0.5}


def test_restore_in_place_rewinds_the_run(cli: Cli) -> None:
    run_id = calculator_run(cli)
    events = cli.ok("checkpoints", "restore", checkpoint(run_id, 0), "--in-place", "--events")
    parsed = [json.loads(line) for line in events.splitlines()]
    assert {e["run_id"] for e in parsed} == {run_id}
    assert parsed[0]["type"] == "run_resumed" and parsed[-1]["type"] == "run_completed"
    superseded = [s["superseded"] for s in cli.json("checkpoints", "list", run_id)["items"]]
    assert superseded[:3] == [False, True, True] and not any(superseded[3:])


def test_restore_makes_a_new_run_by_default(cli: Cli) -> None:
    run_id = calculator_run(cli)
    record = json.loads(
        cli.ok("checkpoints", "restore", checkpoint(run_id, 1), "--json", "--system-prompt", "Hi")
    )
    assert record["id"] != run_id and record["status"] == "completed"
    assert record["parent_run_id"] == run_id


def test_tree_and_diff(cli: Cli) -> None:
    run_id = calculator_run(cli)
    fork = cli.ok("checkpoints", "fork", checkpoint(run_id, 0), "-q", "--query", "count to 2")
    fork_id = fork.strip()
    tree = cli.ok("checkpoints", "tree", fork_id).splitlines()
    assert tree[0] == f'{run_id} completed "What is 12*7?"'
    assert tree[1] == f'  {fork_id} completed from {checkpoint(run_id, 0)} "count to 2"'
    assert cli.json("checkpoints", "tree", run_id)["children"][0]["run_id"] == fork_id
    differs = cli("checkpoints", "diff", checkpoint(run_id, 2), checkpoint(fork_id, 1))
    assert differs.exit_code == 1, differs.stderr  # as diff(1): they differ
    diff = differs.stdout
    assert f"--- {checkpoint(run_id, 2)}" in diff
    assert "-user: What is 12*7?" in diff and "+user: count to 2" in diff
    # tool calls and results read as calls, not as raw JSON
    assert '-assistant calls calculator({"expression": "12*7"}) [call_2_0]' in diff
    assert "-tool call_2_0: 84" in diff
    same = cli("checkpoints", "diff", checkpoint(run_id, 1), checkpoint(run_id, 1))
    assert same.exit_code == 0 and same.stdout == "" and "no difference" in same.stderr


def test_errors(cli: Cli) -> None:
    run_id = calculator_run(cli)
    missing = cli("checkpoints", "fork", checkpoint(run_id, 9))
    assert missing.exit_code == 3 and "checkpoint not found" in missing.stderr
    assert cli("checkpoints", "list", "run_0123456789abcdef").exit_code == 3
    bad_param = cli("checkpoints", "fork", checkpoint(run_id, 0), "-p", "oops")
    assert bad_param.exit_code == 2 and "KEY=VALUE" in bad_param.stderr
    bad_model = cli("checkpoints", "fork", checkpoint(run_id, 0), "--model", "nonsense")
    assert bad_model.exit_code == 2
    both = cli("checkpoints", "fork", checkpoint(run_id, 0), "-q", "--json")
    assert both.exit_code == 2
