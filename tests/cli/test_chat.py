"""`agio chat` in this process: plain output, --json, --events, sessions, stdin and errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from agio_core.events import parse_event

from .conftest import Cli


def test_plain_chat_prints_only_the_answer(cli: Cli) -> None:
    result = cli("chat", "What is 12*7?")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "12*7 = 84.\n"
    assert result.stderr == ""


def test_json_prints_the_run_record(cli: Cli) -> None:
    record = cli.chat("-a", cli.agent("fast"), "What is 12*7?")
    assert record["status"] == "completed"
    assert record["response"] == "12*7 = 84."
    assert record["id"].startswith("run_") and record["session_id"].startswith("sess_")
    assert record["agent_id"] == "fast"
    assert record["metrics"]["steps"] == 2 and record["metrics"]["tool_calls"] == 1
    assert "owner" not in record


def test_events_are_spec_shaped_ndjson(cli: Cli) -> None:
    lines = cli.ok("chat", "--events", "-a", cli.agent("fast"), "What is 12*7?").splitlines()
    events = [json.loads(line) for line in lines]
    # Flat (SPEC §2): the envelope, then the fields of the event's own model.
    assert all(list(e)[:4] == ["seq", "type", "run_id", "ts"] and "data" not in e for e in events)
    assert [parse_event(line).to_json() for line in lines] == lines
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    types = [e["type"] for e in events]
    assert types[0] == "run_started" and types[-1] == "run_completed"
    assert {"tool_call_started", "tool_call_completed", "usage", "checkpoint_created"} <= set(types)
    assert events[-1]["response"] == "12*7 = 84."
    assert set(events[-1]["metrics"]) >= {"duration_ms", "total_tokens", "first_token_ms"}


def test_no_stream_prints_the_same_answer(cli: Cli) -> None:
    assert cli.ok("chat", "--no-stream", "-a", cli.agent("fast"), "count to 5") == "1 2 3 4 5.\n"


def test_session_and_continue_keep_the_conversation(cli: Cli) -> None:
    agent = cli.agent("fast")
    first = cli.chat("-a", agent, "My name is Ada.")
    second = cli.chat("-a", agent, "-s", first["session_id"], "What is my name?")
    assert second["session_id"] == first["session_id"]
    assert second["response"] == "Your name is Ada."
    third = cli.chat("-a", agent, "-c", "What is my name?")
    assert third["session_id"] == first["session_id"]
    assert cli.chat("-a", agent, "What is my name?")["response"].startswith("You have not")


def test_piped_stdin_is_the_message_or_follows_it(cli: Cli) -> None:
    agent = cli.agent("fast")
    assert cli.ok("chat", "-a", agent, input="count to 3\n") == "1 2 3.\n"
    record = json.loads(cli.ok("chat", "-a", agent, "--json", "Summarise:", input="some text\n"))
    assert record["input"] == "Summarise:\n\nsome text"


def test_a_failed_run_exits_1_with_the_reason(cli: Cli) -> None:
    result = cli("chat", "-a", cli.agent("one-step"), "What is 2+2?")
    assert result.exit_code == 1
    assert "failed: max_steps_exceeded" in result.stderr
    assert result.stderr.count("\n") == 1


def test_usage_errors_exit_2(cli: Cli) -> None:
    for args, message in [
        (["chat", "--json", "--events", "hi"], "--json and --events cannot be combined"),
        (["chat", "-s", "sess_1", "-c", "hi"], "--session and --continue cannot be combined"),
        (["chat"], "nothing to send"),
        (["chat", "-s", "bad session!", "hi"], "session_id"),
        (["chat", "--bogus", "hi"], "No such option"),
    ]:
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("agio: error: ") and message in result.stderr
        assert "Traceback" not in result.output


def test_unknown_agent_exits_3(cli: Cli) -> None:
    result = cli("chat", "-a", "nobody", "hi")
    assert result.exit_code == 3
    assert result.stderr == "agio: error: agent not found: 'nobody'\n"


@pytest.mark.parametrize("locale", ["C", "C.UTF-8"])
def test_piped_bytes_that_are_not_utf8_become_replacement_characters(cli: Cli, locale: str) -> None:
    """`printf 'caf\\xe9' | agio chat` crashed (surrogates not allowed); an argument too."""
    env = {**os.environ, "LC_ALL": locale, "PYTHONUTF8": "0"}
    for argv, stdin in [([], b"caf\xe9 \xff\xfe"), ([b"na\xefve"], b"")]:
        result = subprocess.run(
            [sys.executable.encode(), b"-m", b"agio_cli", b"chat", b"--json", *argv],
            input=stdin,
            capture_output=True,
            env=env,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        run = json.loads(result.stdout)
        assert run["status"] == "completed"
        # An ASCII-only stdout (LC_ALL=C, no UTF-8 mode) shows U+FFFD as '?'.
        shown = "?" if locale == "C" else "\ufffd"
        assert run["input"] in {f"caf{shown} {shown}{shown}", f"na{shown}ve"}, run["input"]
