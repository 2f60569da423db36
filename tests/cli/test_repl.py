"""Interactive `agio chat` in a real pseudo-terminal (pexpect): slash commands, bracketed
paste as one message, $EDITOR, and the banner and prompt on stderr, not stdout."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from pathlib import Path

import pytest

from .conftest import Cli

pexpect = pytest.importorskip("pexpect")

# prompt_toolkit turns bracketed paste on as it shows the prompt: the prompt is ready.
READY = r"\x1b\[\?2004h"
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"


def spawn_chat(cli: Cli, tmp_path: Path, *args: str, editor: str = "") -> tuple[object, Path]:
    """`agio chat` with stdin and stderr on a terminal and stdout into a file."""
    stdout = tmp_path / "stdout.txt"
    command = " ".join(shlex.quote(a) for a in [*cli.command("chat", *args)])
    env = {**os.environ, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "EDITOR": editor}
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(
        "/bin/sh",
        ["-c", f"exec {command} > {shlex.quote(str(stdout))}"],
        env=env,
        encoding="utf-8",
        timeout=20,
        dimensions=(40, 120),
    )
    return child, stdout


def runs(cli: Cli) -> list[dict[str, object]]:
    return list(cli.json("runs", "list")["items"])


def test_commands_paste_and_stderr(cli: Cli, tmp_path: Path) -> None:
    agent = cli.agent("fast")
    notes = tmp_path / "notes.txt"
    notes.write_text("remember the milk\n")
    child, stdout = spawn_chat(cli, tmp_path, "-a", agent)
    child.expect("chatting with fast")
    child.expect(READY)
    child.sendline("/help")
    child.expect("/edit")
    child.expect(READY)
    assert runs(cli) == []  # /help went to nobody's model
    # a pasted two-line text is one message, sent by one Enter
    child.send(f"{PASTE_START}My name is Ada.\nWhat is 2+3?{PASTE_END}")
    child.send("\r")
    child.expect(READY)
    [pasted] = runs(cli)
    assert pasted["input"] == "My name is Ada.\nWhat is 2+3?"
    assert pasted["response"] == "2+3 = 5."
    child.sendline("/system Answer like a pirate.")
    child.expect("system prompt: Answer like a pirate.")
    child.expect(READY)
    child.sendline(f"/file {notes}")
    child.expect("attached notes.txt")
    child.expect(READY)
    child.sendline("What is my name?")
    child.expect(READY)
    latest = runs(cli)[0]
    assert (
        latest["session_id"] == pasted["session_id"] and latest["response"] == "Your name is Ada."
    )
    checkpoint = cli.json("checkpoints", "show", str(latest["last_checkpoint_id"]), "--messages")
    assert checkpoint["agent"]["system_prompt"] == "Answer like a pirate."
    assert "File: notes.txt" in checkpoint["messages"][-2]["content"]
    child.sendline("/retry")
    child.expect(READY)
    assert len(runs(cli)) == 2  # the same run answered again, in place
    child.sendline("/new")
    child.expect("new conversation")
    child.expect(READY)
    child.sendline("What is my name?")
    child.expect(READY)
    assert runs(cli)[0]["response"] == "You have not told me your name yet."
    child.sendline("/model nonsense")
    child.expect("unknown model 'nonsense'")
    child.expect(READY)
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    answers = stdout.read_text()
    # stdout holds the answers alone: no banner, no prompt, no notes
    assert answers.splitlines()[0] == "2+3 = 5."
    assert "chatting with" not in answers and "> " not in answers and "/help" not in answers


def test_edit_opens_the_editor_and_ctrl_d_ends(cli: Cli, tmp_path: Path) -> None:
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys\nopen(sys.argv[1], 'a').write('What is 4+4?')\n", encoding="utf-8"
    )
    child, stdout = spawn_chat(
        cli, tmp_path, "-a", cli.agent("fast"), editor=f"{sys.executable} {editor}"
    )
    child.expect(READY)
    child.sendline("/edit")
    child.expect(READY)
    assert [run["input"] for run in runs(cli)] == ["What is 4+4?"]
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert stdout.read_text() == "4+4 = 8.\n"
    assert json.loads(cli.ok("runs", "list", "--json"))["total"] == 1


def test_ctrl_c_cancels_the_answer_and_the_chat_goes_on(cli: Cli, tmp_path: Path) -> None:
    child, stdout = spawn_chat(cli, tmp_path, "-a", cli.agent("slow"))
    child.expect(READY)
    child.sendline("count to 400")
    child.expect(r"\x1b\[\?2004l")  # the prompt is done: the answer streams
    deadline = time.monotonic() + 20
    while "1 2 3" not in stdout.read_text():  # the answer has begun
        assert time.monotonic() < deadline, "the answer never started"
        child.expect([pexpect.TIMEOUT], timeout=0.05)
    child.sendintr()
    child.expect("cancelled")
    child.expect(READY)
    [cancelled] = runs(cli)
    assert cancelled["status"] == "cancelled"
    child.sendline("What is 2+2?")
    child.expect(READY)
    assert runs(cli)[0]["response"] == "2+2 = 4."
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
