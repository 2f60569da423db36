"""Actions on a focused message (copy, copy code, edit and resend, regenerate), export, quit,
the palette from the chat, and an agent switch that fails."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.command import CommandPalette
from textual.widgets import Input, Markdown

from agio_cli.tui.app import AgioApp
from agio_cli.tui.screens.confirm import Confirm
from agio_cli.tui.screens.fork import ForkModal
from agio_cli.tui.widgets.conversation import Answer, RunView, UserMessage
from agio_cli.tui.widgets.prompt import Prompt
from agio_core import Agio

from .tui_helpers import SIZE, chatting, send, started_app, wait_for


async def answered(pilot: object, app: AgioApp, text: str) -> RunView:
    await send(pilot, text)  # type: ignore[arg-type]
    await wait_for(pilot, lambda: app.chat.shown_status == "completed", what="answer")  # type: ignore[arg-type]
    return app.chat.query(RunView).last()


async def test_copy_a_focused_answer_and_message(agio: Agio) -> None:
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        view = await answered(pilot, app, "What is 12*7?")
        view.query_one(Answer).focus()
        await pilot.press("c")
        assert app.clipboard == "12*7 = 84."
        assert any(n.title == "Copy" for n in app._notifications)
        view.query_one(UserMessage).focus()
        await pilot.press("c")
        assert app.clipboard == "What is 12*7?"


async def test_edit_and_resend_forks_from_before_the_message(agio: Agio) -> None:
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        view = await answered(pilot, app, "What is 2+2?")
        source = view.run_id
        view.query_one(UserMessage).focus()
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ForkModal), what="edit dialog")
        assert "Edit and resend" in str(app.screen.query_one("#dialog-title").render())
        query = app.screen.query_one("#fork-query", Prompt)
        assert query.text == "What is 2+2?"
        query.text = "What is 6*7?"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat.follower.run_id != source, what="the new run")
        await wait_for(pilot, lambda: app.chat.shown_status == "completed", what="it answers")
        resent = app.chat.query(RunView).last()
        assert (resent.message, resent.answer) == ("What is 6*7?", "6*7 = 42.")
        fork = await agio.get_run(resent.run_id or "")
        assert fork.parent_run_id == source and fork.input == "What is 6*7?"
        assert (await agio.get_run(source or "")).response == "2+2 = 4."  # left as it was


async def test_regenerate_answers_the_same_message_again(agio: Agio) -> None:
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        view = await answered(pilot, app, "count to 4")
        view.query_one(Answer).focus()
        await pilot.press("g")
        await wait_for(pilot, lambda: len(app.chat.query(RunView)) == 2, what="regenerated")
        await wait_for(pilot, lambda: app.chat.shown_status == "completed", what="it answers")
        again = app.chat.query(RunView).last()
        assert again.answer == "1 2 3 4."
        fork = await agio.get_run(again.run_id or "")
        assert (fork.parent_run_id, fork.input) == (view.run_id, "count to 4")


async def test_export_writes_the_conversation_to_markdown(agio: Agio, tmp_path: Path) -> None:
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        await answered(pilot, app, "What is 12*7?")
        await answered(pilot, app, "count to 3")
        await pilot.press("ctrl+e")
        exports = list(tmp_path.glob("agio-chat-*.md"))  # the tests run in tmp_path
        assert len(exports) == 1
        text = exports[0].read_text()
        assert text.index("What is 12*7?") < text.index("12*7 = 84.") < text.index("1 2 3.")
        assert "calculator" in text
        assert any(str(exports[0]) in n.message for n in app._notifications)


class AnswerApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Answer()


async def test_a_long_answer_freezes_its_finished_blocks() -> None:
    app = AnswerApp()
    async with app.run_test(size=SIZE) as pilot:
        answer = app.query_one(Answer)
        answer.write("# Title\n\nFirst paragraph.\n\n```python\nprint(1)\n```\n\nThe ta")
        await wait_for(pilot, lambda: answer.shown == answer.text, what="a render")
        parts = list(answer.query(Markdown))
        assert len(parts) == 2  # the finished blocks, frozen; the tail
        frozen, tail = parts
        assert frozen.source.endswith("```\n\n") and tail.source == "The ta"
        answer.write("il goes on.")
        await wait_for(pilot, lambda: answer.shown == answer.text, what="the next render")
        assert list(answer.query(Markdown)) == [frozen, tail]  # only the tail was redone
        assert tail.source == "The tail goes on."
        await answer.finish()
        assert answer.shown == answer.text


async def test_copy_code_copies_the_code_blocks_last_first(agio: Agio) -> None:
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        view = await answered(pilot, app, "count to 2")
        answer = view.query_one(Answer)
        answer.write("\n\n```\nfirst()\n```\n\n~~~sh\nsecond\n~~~\n")
        await answer.finish()
        answer.focus()
        await pilot.press("k")
        assert app.clipboard == "second\n"
        await pilot.press("k")
        assert app.clipboard == "first()\n"


async def test_ctrl_q_mid_run_asks_first(agio: Agio) -> None:
    async with chatting(agio, "count to 400") as (pilot, chat):
        await wait_for(pilot, lambda: chat.shown_status == "running", what="running")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, Confirm), what="the question")
        assert "still going" in str(pilot.app.screen.query_one("#dialog-title").render())
        await pilot.press("n")  # stay
        await wait_for(pilot, lambda: not isinstance(pilot.app.screen, Confirm))
        assert pilot.app.is_running
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: chat.shown_status == "cancelled", what="cancelled")
        await pilot.press("ctrl+q")  # nothing going: quits at once
        await wait_for(pilot, lambda: not pilot.app.is_running, what="quit")


async def test_palette_finds_fork_from_the_chat(agio: Agio) -> None:
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        await answered(pilot, app, "hello")
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        app.screen.query_one(Input).value = "fork"
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ForkModal), what="fork dialog")


async def test_a_failed_agent_switch_keeps_the_old_agent(agio: Agio) -> None:
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        chat = app.chat
        assert not await chat.set_agent("nobody")
        assert (chat.status_bar.agent_id, chat.follower.agent_id) == ("assistant", "assistant")
        await pilot.pause()
        assert any("Still chatting with assistant" in n.message for n in app._notifications)
        await answered(pilot, app, "count to 2")
        assert (await agio.list_runs()).items[0].agent_id == "assistant"
