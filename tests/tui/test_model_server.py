"""The TUI with a real OpenAI-compatible server (the fake, scripted as llama.cpp answers):
counts it does not report are "unknown", and an answer cut by max_tokens says so."""

from __future__ import annotations

from pathlib import Path

from fake_openai import FakeOpenAIServer, TextReply

from agio_cli.tui.app import AgioApp
from agio_cli.tui.widgets.conversation import Notice, RunView
from agio_cli.tui.widgets.status import StatusBar
from agio_core import Agio, Settings

from .tui_helpers import SIZE, send, started_app, wait_for


async def test_unknown_tokens_and_a_cut_answer(home: Path, fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue(TextReply(("cut", " short"), finish_reason="length", report_usage=False))
    settings = Settings(home=home, openai_base_url=fake_openai.base_url, openai_api_key="k")
    async with Agio(settings) as agio:
        await agio.create_agent({"id": "local", "model": "openai/local-model"})
        app = AgioApp(backend=agio, agent="local")
        async with app.run_test(size=SIZE) as pilot:
            await started_app(pilot)
            await send(pilot, "say something long")
            chat = app.chat
            await wait_for(pilot, lambda: chat.shown_status == "completed", what="run completes")
            view = chat.query(RunView).last()
            assert view.answer == "cut short"
            notes = [str(notice.render()) for notice in view.query(Notice)]
            assert "⚠ answer cut: max_tokens reached" in notes
            status = chat.query_one(StatusBar)
            assert status.tokens is None
            assert "tokens unknown" in str(status.render())
