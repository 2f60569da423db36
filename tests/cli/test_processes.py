"""`agio` as real processes: pipes, Ctrl-C, another terminal pausing a run, exit codes, start-up."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading
import time

import pytest
from helpers.agents import sums_question

from .conftest import Cli

HEAVY = ("fastapi", "uvicorn", "openai", "textual")


def test_piped_stdin_and_streaming_into_a_pipe(cli: Cli) -> None:
    piped = cli.process("chat", "-a", cli.agent("fast"), input="count to 3\n")
    assert (piped.returncode, piped.stdout, piped.stderr) == (0, "1 2 3.\n", "")

    streaming = cli.spawn("chat", "-a", cli.agent("slow"), "count to 50")
    assert streaming.stdout is not None
    assert streaming.stdout.read(4) == "1 2 "  # arrives while the run is still going
    assert streaming.poll() is None
    rest, _ = streaming.communicate(timeout=20)
    assert streaming.returncode == 0 and rest.endswith("49 50.\n")


def test_events_ndjson_from_a_process(cli: Cli) -> None:
    result = cli.process("chat", "--events", "-a", cli.agent("fast"), "What is 12*7?")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    types = [event["type"] for event in events]
    assert types[0] == "run_started" and types[-1] == "run_completed"
    assert sum(t in {"run_completed", "run_failed", "run_cancelled"} for t in types) == 1
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)


def test_ctrl_c_cancels_the_run_and_exits_130(cli: Cli) -> None:
    chat = cli.spawn("chat", "--events", "-a", cli.agent("slow"), "count to 400")
    assert chat.stdout is not None
    run_id = json.loads(chat.stdout.readline())["run_id"]
    while json.loads(chat.stdout.readline())["type"] != "content_delta":
        pass
    chat.send_signal(signal.SIGINT)
    out, err = chat.communicate(timeout=15)
    assert chat.returncode == 130, err
    assert err == f"agio: interrupted: run {run_id} cancelled\n"
    last = json.loads(out.splitlines()[-1])
    assert last["type"] == "run_cancelled" and last["reason"] == "interrupted (Ctrl-C)"
    record = cli.json("runs", "show", run_id)
    assert record["status"] == "cancelled"
    assert record["response"].startswith("1 ") and len(record["response"]) < 400 * 4


def test_pause_from_another_terminal_then_resume(cli: Cli) -> None:
    chat = cli.spawn("chat", "--events", "-a", cli.agent("stepper"), sums_question(250))
    assert chat.stdout is not None and chat.stderr is not None
    run_id = json.loads(chat.stdout.readline())["run_id"]
    lines: list[str] = []  # drained meanwhile: a full pipe would stall the run
    drain = threading.Thread(target=lambda: lines.extend(chat.stdout or []))
    drain.start()

    paused = cli.process("runs", "pause", run_id)  # "another terminal"
    assert (paused.returncode, paused.stdout) == (0, f"{run_id}\n"), paused.stderr

    assert chat.wait(timeout=20) == 1
    drain.join()
    assert json.loads(lines[-1])["type"] == "run_paused"
    err = chat.stderr.read()
    assert "was paused at checkpoint ck_" in err and f"agio runs resume {run_id}" in err
    assert cli.json("runs", "show", run_id)["status"] == "paused"

    resumed = cli.process("runs", "resume", run_id)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.endswith("249+249 = 498. 250+250 = 500.\n")
    assert cli.json("runs", "show", run_id)["status"] == "completed"


def test_a_reader_that_stops_reading_does_not_stall_run_control(cli: Cli) -> None:
    # Nobody reads this chat's stdout: the pipe fills up after a few dozen steps.
    chat = cli.spawn("chat", "--events", "-a", cli.agent("stepper"), sums_question(2000))
    assert chat.stdout is not None and chat.stderr is not None
    run_id = json.loads(chat.stdout.readline())["run_id"]
    time.sleep(1.5)

    paused = cli.process("runs", "pause", run_id, timeout=15)  # "another terminal"
    assert (paused.returncode, paused.stdout) == (0, f"{run_id}\n"), paused.stderr
    assert cli.json("runs", "show", run_id)["status"] == "paused"

    lines = chat.stdout.readlines()  # now read it all: the chat ends, noting the pause
    assert chat.wait(timeout=20) == 1
    assert json.loads(lines[-1])["type"] == "run_paused"


def test_events_follow_tails_a_run_of_another_process(cli: Cli) -> None:
    chat = cli.spawn("chat", "-a", cli.agent("slow"), "count to 100")
    assert chat.stdout is not None
    chat.stdout.read(2)
    (run_id,) = cli.ok("runs", "list", "--status", "running", "-q").split()
    follow = cli.process("runs", "events", run_id, "--follow")
    assert chat.wait(timeout=20) == 0
    events = [json.loads(line) for line in follow.stdout.splitlines()]
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_completed"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["runs", "show", "run_0123456789abcdef"], 3, "agio: error: run not found"),
        (["chat", "--bogus", "hi"], 2, "agio: error: No such option: --bogus"),
        (["chat", "-a", "one-step", "What is 2+2?"], 1, "failed: max_steps_exceeded"),
    ],
)
def test_exit_codes(cli: Cli, args: list[str], code: int, message: str) -> None:
    cli.agent("one-step")
    result = cli.process(*args)
    assert result.returncode == code
    assert result.stderr.startswith("agio: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["chat", "--help"], ["runs"]])
def test_help_and_version_import_nothing_heavy(args: list[str]) -> None:
    probe = (
        "import sys\n"
        "from agio_cli.main import app\n"
        "try:\n"
        f"    app({args!r}, prog_name='agio')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print([m for m in {(*HEAVY, 'agio_core', 'rich')!r} if m in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def in_terminal(args: list[str], typed: str = "", timeout: float = 20) -> tuple[int, str]:
    """Run `agio` with a pseudo-terminal as stdin, stdout and stderr."""
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "40"}
    env.pop("NO_COLOR", None)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        Cli.command(*args), stdin=follower, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    if typed:
        os.write(leader, typed.encode())
    output = b""
    while select.select([leader], [], [], timeout)[0]:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return process.wait(timeout=5), output.decode(errors="replace")


def without_ansi(screen: str) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)


def test_terminal_shows_tool_calls_markdown_and_a_footer(cli: Cli) -> None:
    fast = cli.agent("fast")
    code, screen = in_terminal(["chat", "-a", fast, "What is 12*7?"])
    assert code == 0, screen
    assert "\x1b[" in screen  # colour and cursor control: it is a terminal
    text = without_ansi(screen)
    assert "calculator(expression='12*7') → 84" in text
    assert "12*7 = 84." in text
    assert re.search(r"run_[0-9a-f]{16} · offline/demo \(offline model\) · \d+ tokens", text)

    code, screen = in_terminal(["chat", "-a", fast, "--no-stream", "say **loud**"])
    text = without_ansi(screen)
    assert code == 0 and "loud" in text and "**loud**" not in text  # rendered Markdown


def test_interactive_chat_keeps_one_session(cli: Cli) -> None:
    typed = "My name is Ada\nWhat is my name?\n/exit\n"
    code, screen = in_terminal(["chat", "-a", cli.agent("fast")], typed)
    assert code == 0, screen
    assert "/help for commands, /exit to quit" in screen and "Your name is Ada." in screen
    runs = cli.json("runs", "list")["items"]
    assert len(runs) == 2 and runs[0]["session_id"] == runs[1]["session_id"]
