"""Approvals from the CLI: the prompt at a terminal, and `runs approve|deny` from any terminal."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import time
from pathlib import Path

from .conftest import Cli
from .test_processes import in_terminal, without_ansi

ASKER = "id: asker\nmodel: offline/demo\nmodel_params: {delay_ms: 0}\ntools: [calculator]\n"
ASKER += "approval: {calculator: ask}\n"


def make_asker(cli: Cli) -> str:
    path = cli.home.parent / "asker.yaml"
    path.write_text(ASKER)
    cli.ok("agents", "create", "-f", str(path))
    return "asker"


def test_without_a_terminal_the_run_waits_and_any_terminal_decides(cli: Cli) -> None:
    agent = make_asker(cli)
    chat = cli.process("chat", "-a", agent, "What is 2+3 and 4*5?")
    assert chat.returncode == 1, chat.stderr
    run_id = cli.ok("runs", "list", "-q", "--status", "awaiting_approval").strip()
    assert run_id.startswith("run_")
    assert f"agio runs approve {run_id}" in chat.stderr and "Traceback" not in chat.stderr
    shown = cli.ok("runs", "show", run_id)
    assert "status: awaiting_approval" in shown
    assert "calculator(expression='2+3') (undecided)" in shown
    first, second = (
        p["tool_call_id"] for p in cli.json("runs", "show", run_id)["pending_approvals"]
    )

    # The chat's process has exited; others decide, one call at a time.
    partly = cli.process("runs", "approve", run_id, first)
    assert (
        partly.returncode == 0 and cli.json("runs", "show", run_id)["status"] == "awaiting_approval"
    )
    denied = cli.process("runs", "deny", run_id, second, "--reason", "no products today")
    assert denied.returncode == 0, denied.stderr
    # Then it followed the run like `runs resume`: the answer, with the reason the model saw.
    assert "2+3 = 5" in denied.stdout and "no products today" in denied.stdout
    run = cli.json("runs", "show", run_id)
    assert run["status"] == "completed" and run["pending_approvals"] == []
    again = cli.process("runs", "approve", run_id)
    assert again.returncode == 1 and "no tool call waits" in again.stderr


def readme_agent(cli: Cli) -> str:
    """The agent of the README's Approvals section, created as it says."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Approvals\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
    path = cli.home.parent / "calc.yaml"
    path.write_text(block)
    return cli.ok("agents", "create", "-f", str(path)).strip()


def test_the_prompt_at_a_terminal(cli: Cli) -> None:
    agent = readme_agent(cli)
    code, screen = in_terminal(["chat", "-a", agent, "What is 2+3 and 4*5?"], "y\nn\n")
    text = without_ansi(screen)
    assert code == 0, text
    assert text.count("wants to run. Allow?") == 2
    assert "2+3 = 5" in text and "denied" in text

    # `a`lways: this call and the session's later calls of the tool run without asking.
    code, screen = in_terminal(["chat", "-a", agent, "What is 1+1 and 2+2?"], "a\n")
    text = without_ansi(screen)
    assert code == 0 and text.count("Allow?") == 1 and "2+2 = 4" in text, text
    session = cli.json("runs", "list")["items"][0]["session_id"]
    code, screen = in_terminal(["chat", "-a", agent, "-s", session, "What is 3*3?"])
    assert code == 0 and "Allow?" not in screen and "3*3 = 9" in without_ansi(screen)


def test_approved_from_another_terminal_while_the_prompt_waits(cli: Cli) -> None:
    agent = make_asker(cli)
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "40"}
    leader, follower = pty.openpty()
    chat = subprocess.Popen(
        Cli.command("chat", "-a", agent, "What is 6*7?"),
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    screen = b""
    try:
        deadline = time.monotonic() + 20
        while b"Allow?" not in screen and time.monotonic() < deadline:
            if select.select([leader], [], [], 0.5)[0]:
                screen += os.read(leader, 65536)
        assert b"Allow?" in screen, screen
        run_id = cli.ok("runs", "list", "-q", "--status", "awaiting_approval").strip()
        other = cli.process("runs", "approve", run_id)
        assert other.returncode == 0 and "6*7 = 42" in other.stdout, other.stderr
        while select.select([leader], [], [], 10)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        assert chat.wait(timeout=10) == 0
    finally:
        os.close(leader)
        if chat.poll() is None:
            chat.kill()
    text = without_ansi(screen.decode(errors="replace"))
    assert "decided elsewhere" in text and "6*7 = 42" in text


def test_a_decider_killed_mid_call_leaves_the_run_resumable_with_its_decision(cli: Cli) -> None:
    path = cli.home.parent / "sheller.yaml"
    path.write_text(
        "id: sheller\nmodel: offline/demo\nmodel_params: {delay_ms: 0}\ntools: [shell]\n"
    )
    cli.ok("agents", "create", "-f", str(path))  # shell asks by default
    # Slow the first time only: the resumed run finds the marker and goes on at once.
    command = "test -f marker || { touch marker; sleep 3; }; echo ran"
    chat = cli.process("chat", "-a", "sheller", "call shell " + json.dumps({"command": command}))
    assert chat.returncode == 1, chat.stderr
    run_id = cli.ok("runs", "list", "-q", "--status", "awaiting_approval").strip()

    decider = cli.spawn("runs", "approve", run_id)
    deadline = time.monotonic() + 20
    while "tool_call_started" not in cli.ok("runs", "events", run_id):
        assert time.monotonic() < deadline and decider.poll() is None, "the call never started"
        time.sleep(0.05)
    decider.send_signal(signal.SIGKILL)
    decider.wait(timeout=10)

    run = cli.json("runs", "show", run_id)
    assert run["status"] == "interrupted"  # its process died while it was running
    assert [p["decision"] for p in run["pending_approvals"]] == ["approve"]
    resumed = cli.process("runs", "resume", run_id)
    assert resumed.returncode == 0, resumed.stderr
    assert "ran" in resumed.stdout
    events = cli.ok("runs", "events", run_id)
    assert events.count('"tool_approval_requested"') == 1  # decided once, never asked again
