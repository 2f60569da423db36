"""TUI test fixtures: the real app over the real embedded core, in a private AGIO_HOME."""

from __future__ import annotations

from pathlib import Path

import pytest


def slow_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seconds: float) -> str:
    """A user tool module whose `current_time` takes `seconds`; its import path."""
    name = f"tui_clock_{int(seconds * 1000)}ms"
    (tmp_path / f"{name}.py").write_text(
        "import asyncio\n\n"
        "async def current_time(timezone: str = 'UTC') -> str:\n"
        '    """The time, slowly."""\n'
        f"    await asyncio.sleep({seconds})\n"
        "    return '12:00 ' + timezone\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return f"{name}:current_time"


@pytest.fixture
def slow_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A `current_time` that takes a while: a run that can be paused.

    A tool call in flight finishes before the run pauses (SPEC §4): it gives the run a safe
    point to stop at.
    """
    return slow_clock(tmp_path, monkeypatch, 1.5)


@pytest.fixture
def slower_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A `current_time` that takes longer than a control call waits (2 s)."""
    return slow_clock(tmp_path, monkeypatch, 4.0)
