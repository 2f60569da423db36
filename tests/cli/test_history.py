"""History you can search, delete and prune; lists that carry whole values and say when they
are cut; one shape per object in --json."""

from __future__ import annotations

import json

from .conftest import Cli


def test_search_finds_input_and_answer_ignoring_case(cli: Cli) -> None:
    agent = cli.agent("fast")
    asked = cli.chat("-a", agent, "What is 5+5?")["id"]
    answered = cli.chat("-a", agent, "count to 3")["id"]  # answer: "1 2 3."
    cli.chat("-a", agent, "hello")
    assert cli.ok("runs", "list", "--search", "WHAT IS 5+5", "-q") == f"{asked}\n"
    assert cli.ok("runs", "list", "--search", "2 3.", "-q") == f"{answered}\n"
    page = cli.json("runs", "list", "--search", "nothing like this")
    assert page == {"total": 0, "items": [], "limit": 20, "offset": 0}


def test_delete_keeps_the_session_going_and_reports_each_failure(cli: Cli) -> None:
    agent = cli.agent("fast")
    first = cli.chat("-a", agent, "My name is Ada.")
    second = cli.chat("-c", "hello")
    assert cli.ok("runs", "delete", str(first["id"])) == f"{first['id']}\n"
    assert cli("runs", "show", str(first["id"])).exit_code == 3
    assert cli.chat("-c", "What is my name?")["response"] == "Your name is Ada."
    both = cli("runs", "delete", "run_0123456789abcdef", str(second["id"]))
    assert both.exit_code == 3 and "run not found: 'run_0123456789abcdef'" in both.stderr
    assert both.stdout == f"{second['id']}\n"  # the other one is deleted all the same


def test_prune_by_age_and_status(cli: Cli) -> None:
    agent = cli.agent("fast")
    kept = cli.chat("-a", agent, "hello")["id"]
    failed = cli("chat", "-a", agent, "-m", "openai/gpt-4o-mini", "hello", "--json")
    assert failed.exit_code == 1  # no API key: the run fails
    failed_id = json.loads(failed.stdout)["id"]
    assert cli.ok("runs", "prune") == ""  # nothing is 30 days old
    assert cli.ok("runs", "prune", "--older-than", "0", "--status", "failed", "--dry-run") == (
        f"{failed_id}\n"
    )
    assert cli.ok("runs", "prune", "--older-than", "0", "--status", "failed") == f"{failed_id}\n"
    assert cli.ok("runs", "list", "-q") == f"{kept}\n"
    bad = cli("runs", "prune", "--older-than", "٣d")
    assert bad.exit_code == 2 and "--older-than" in bad.stderr
    running = cli("runs", "prune", "--status", "running")
    assert running.exit_code == 2 and "cannot be deleted" in running.stderr


def test_tab_separated_values_are_whole_and_a_cut_list_says_so(cli: Cli) -> None:
    long = "a long question " * 20 + "\twith a tab\nand a line break \\ and a backslash"
    record = cli.chat("-a", cli.agent("fast"), long)
    newer = cli.chat("hello")
    result = cli("runs", "list", "-n", "1", "--offset", "1")
    row = result.stdout.rstrip("\n").split("\t")
    assert row[0] == record["id"] and "…" not in result.stdout
    assert row[-1] == long.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    assert result.stderr == ""  # the end of the list
    cut = cli("runs", "list", "-n", "1", "-q")
    assert cut.stdout == f"{newer['id']}\n"
    assert "showing 1 of 2 (from 0); see --limit and --offset" in cut.stderr


def test_chat_json_is_the_record_runs_show_prints(cli: Cli) -> None:
    record = cli.chat("-a", cli.agent("fast"), "What is 12*7?")
    assert record == cli.json("runs", "show", str(record["id"]))
    assert "run_id" not in record


def test_in_place_restore_with_a_query_updates_the_runs_input(cli: Cli) -> None:
    record = cli.chat("-a", cli.agent("fast"), "What is 12*7?")
    first = cli.ok("checkpoints", "list", str(record["id"]), "-q").split()[0]
    answer = cli.ok("checkpoints", "restore", first, "--in-place", "--query", "What is 6*7?")
    assert answer == "6*7 = 42.\n"
    shown = cli.json("runs", "show", str(record["id"]))
    assert shown["input"] == "What is 6*7?" and shown["response"] == "6*7 = 42."
    assert cli.ok("runs", "list", "--search", "6*7", "-q") == f"{record['id']}\n"
