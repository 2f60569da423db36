"""TUI test fixtures: the real app over the real embedded core, in a private AGIO_HOME."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def slow_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A user tool module whose `current_time` takes a while: a run that can be paused.

    The offline model streams a final answer in one model call, and pause is honoured at the
    next safe point; a slow tool call gives the run a safe point to stop at.
    """
    module = tmp_path / "tui_slow_tools.py"
    module.write_text(
        "import asyncio\n\n"
        "async def current_time(timezone: str = 'UTC') -> str:\n"
        '    """The time, slowly."""\n'
        "    await asyncio.sleep(1.5)\n"
        "    return '12:00 ' + timezone\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return "tui_slow_tools:current_time"
