"""End to end: the real `agio tui` in a real terminal (tmux), driven by keystrokes."""

from __future__ import annotations

import asyncio
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agio_core import Agio, Settings

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(
    TMUX is None, reason="tmux is not installed: the real-terminal test of `agio tui` needs it"
)


class Terminal:
    def __init__(self, socket: Path) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        assert TMUX is not None
        return subprocess.run(
            [TMUX, "-S", str(self.socket), *args], capture_output=True, text=True, check=False
        )

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "agio").stdout

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "agio", "-l", text)

    def press(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "agio", *keys)

    def alive(self) -> bool:
        return self.tmux("has-session", "-t", "agio").returncode == 0

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; screen:\n{self.screen()}")
            time.sleep(0.2)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(tmp_path / "tmux.sock")
    yield term
    term.tmux("kill-server")


def start_tui(terminal: Terminal, settings: Settings, tmp_path: Path) -> Path:
    exit_file = tmp_path / "exit-code"
    command = (
        f"env AGIO_HOME={shlex.quote(str(settings.home))} "
        f"{shlex.quote(sys.executable)} -m agio_cli tui; echo $? > {shlex.quote(str(exit_file))}"
    )
    started = terminal.tmux(
        "new-session", "-d", "-s", "agio", "-x", "100", "-y", "30", "-c", str(tmp_path), command
    )
    assert started.returncode == 0, started.stderr
    terminal.wait(lambda: "Enter sends" in terminal.screen(), "the chat screen")
    return exit_file


async def _inputs(settings: Settings) -> list[str]:
    async with Agio(settings) as agio:
        return [run.input for run in (await agio.list_runs()).items]


def test_agio_tui_answers_in_a_real_terminal(
    terminal: Terminal, settings: Settings, tmp_path: Path
) -> None:
    exit_file = start_tui(terminal, settings, tmp_path)
    assert "OFFLINE" in terminal.screen()
    terminal.type("What is 12*7?")
    terminal.press("Enter")
    terminal.wait(lambda: "12*7 = 84." in terminal.screen(), "the streamed answer")
    terminal.wait(lambda: "completed" in terminal.screen(), "the run to complete")
    assert "calculator" in terminal.screen()

    terminal.press("C-q")
    terminal.wait(lambda: exit_file.exists() and not terminal.alive(), "agio tui to exit")
    assert exit_file.read_text().strip() == "0"

    async def stored() -> list[str | None]:
        async with Agio(settings) as agio:
            return [run.response for run in (await agio.list_runs()).items]

    assert asyncio.run(stored()) == ["12*7 = 84."]


def test_a_pasted_30_line_stack_trace_is_sent_whole(
    terminal: Terminal, settings: Settings, tmp_path: Path
) -> None:
    trace = "\n".join(
        ["Traceback (most recent call last):"]
        + [f'  File "/srv/app.py", line {n}, in step_{n}' for n in range(1, 29)]
        + ["RuntimeError: the 30th line"]
    )
    assert len(trace.splitlines()) == 30
    start_tui(terminal, settings, tmp_path)
    paste = tmp_path / "paste.txt"
    paste.write_text(trace)
    assert terminal.tmux("load-buffer", "-b", "trace", str(paste)).returncode == 0
    # -p: a bracketed paste, as a terminal sends what the user pastes into an app that asks
    assert terminal.tmux("paste-buffer", "-p", "-b", "trace", "-t", "agio").returncode == 0
    terminal.wait(lambda: "RuntimeError: the 30th line" in terminal.screen(), "the pasted text")
    assert asyncio.run(_inputs(settings)) == []  # its newlines sent nothing
    terminal.press("Enter")
    terminal.wait(lambda: "completed" in terminal.screen(), "the run to complete")
    assert asyncio.run(_inputs(settings)) == [trace]
