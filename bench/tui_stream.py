"""How long a long answer takes in `agio tui` against `agio chat` writing to a file.

The offline model counts (`count to 8000`: an 8,000-word answer) at `--delay-ms` per word, in a
private AGIO_HOME. `agio chat` runs as a subprocess with its output sent to a file; the TUI
runs in this process through Textual's Pilot (headless: every frame is laid out and rendered,
only not written to a terminal), from Enter to the completed run with the whole answer on
screen. Printed: both times, the run's own duration in each, and as the last line

    {"metric": "tui_stream_ratio", "value": X}      (TUI / agio chat; target <= 1.3)

Run: python bench/tui_stream.py [--words 8000] [--delay-ms 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agio_core import Agio, Settings

AGENT = {"id": "bench", "model": "offline/demo", "tools": [], "system_prompt": "Count."}


async def create_agent(settings: Settings, delay_ms: float) -> None:
    async with Agio(settings) as agio:
        await agio.create_agent({**AGENT, "model_params": {"delay_ms": delay_ms}})


async def last_run_s(settings: Settings) -> float:
    async with Agio(settings) as agio:
        run = (await agio.list_runs(limit=1)).items[0]
        assert run.status == "completed", run.status
        return run.metrics.duration_ms / 1000


def time_chat(home: Path, words: int, out: Path) -> float:
    env = {**os.environ, "AGIO_HOME": str(home)}
    command = [sys.executable, "-m", "agio_cli", "chat", "-a", "bench", f"count to {words}"]
    started = time.perf_counter()
    with out.open("w") as sink:
        subprocess.run(command, env=env, stdout=sink, check=True)
    elapsed = time.perf_counter() - started
    assert out.read_text().strip().endswith(f"{words}."), "agio chat did not print the answer"
    return elapsed


async def time_tui(settings: Settings, words: int) -> float:
    from agio_cli.tui.app import AgioApp
    from agio_cli.tui.screens.chat import ChatScreen
    from agio_cli.tui.widgets.prompt import Prompt

    app = AgioApp(settings=settings, agent="bench")
    async with app.run_test(size=(120, 40)) as pilot:
        while not isinstance(app.screen, ChatScreen):
            await pilot.pause(0.05)
        await pilot.pause()
        prompt = app.screen.query_one(Prompt)
        prompt.text = f"count to {words}"
        started = time.perf_counter()
        prompt.action_submit()  # what Enter does (pilot.press would wait for an idle screen)
        chat = app.chat
        expected = f"{words}."
        while not (chat.shown_status == "completed" and chat.answer_shown().endswith(expected)):
            await asyncio.sleep(0.02)  # not pilot.pause: it waits for an idle screen
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--words", type=int, default=8000)
    parser.add_argument("--delay-ms", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        settings = Settings(home=home)
        asyncio.run(create_agent(settings, args.delay_ms))
        chat_s = time_chat(home, args.words, Path(tmp) / "answer.txt")
        chat_run_s = asyncio.run(last_run_s(settings))
        tui_s = asyncio.run(time_tui(settings, args.words))
        tui_run_s = asyncio.run(last_run_s(settings))
    print(f"agio chat > file: {chat_s:6.2f} s   (the run itself: {chat_run_s:6.2f} s)")
    print(f"agio tui:         {tui_s:6.2f} s   (the run itself: {tui_run_s:6.2f} s)")
    print(json.dumps({"metric": "tui_stream_ratio", "value": round(tui_s / chat_s, 3)}))


if __name__ == "__main__":
    main()
