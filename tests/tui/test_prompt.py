"""The prompt: Enter sends, ctrl+j breaks the line, ↑/↓ walk the history, a paste stays whole."""

from __future__ import annotations

from textual import events

from agio_cli.tui.app import AgioApp
from agio_cli.tui.screens.fork import ForkModal
from agio_cli.tui.widgets.conversation import RunView
from agio_cli.tui.widgets.prompt import Prompt
from agio_core import Agio

from .tui_helpers import SIZE, send, started_app, wait_for

TRACE = "\n".join(
    ["Traceback (most recent call last):"]
    + [f'  File "app.py", line {n}, in f{n}\n    f{n + 1}()' for n in range(1, 14)]
    + ["ZeroDivisionError: division by zero"]
)


async def test_enter_sends_and_ctrl_j_breaks_the_line(agio: Agio) -> None:
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        prompt = app.chat.prompt
        await pilot.press(*"first line", "ctrl+j", *"second line")
        assert prompt.text == "first line\nsecond line"
        assert not app.chat.query(RunView)  # nothing sent yet
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat.shown_status == "completed", what="answer")
        assert prompt.text == ""
        run = (await agio.list_runs()).items[0]
        assert run.input == "first line\nsecond line"
        assert app.chat.query(RunView).last().message == "first line\nsecond line"


async def test_a_paste_is_kept_whole_and_sent_as_one_message(agio: Agio) -> None:
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        prompt = app.chat.prompt
        app.post_message(events.Paste(TRACE))  # what the driver makes of a bracketed paste
        await wait_for(pilot, lambda: prompt.text == TRACE, what="the paste")
        assert not app.chat.query(RunView)  # the newlines in it did not send anything
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat.shown_status == "completed", what="answer")
        runs = (await agio.list_runs()).items
        assert [run.input for run in runs] == [TRACE]


async def test_up_and_down_walk_the_history_and_keep_the_draft(agio: Agio) -> None:
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        chat, prompt = app.chat, app.chat.prompt
        for text in ("count to 2", "count to 3"):
            await send(pilot, text)
            await wait_for(pilot, lambda: chat.shown_status == "completed", what="answer")
        await pilot.press(*"draft")
        await pilot.press("up")
        assert prompt.text == "count to 3"
        assert prompt.cursor_location == prompt.document.end  # typing goes on at the end
        await pilot.press("up")
        assert prompt.text == "count to 2"
        await pilot.press("up")  # the oldest: stays
        assert prompt.text == "count to 2"
        await pilot.press("down", "down")
        assert prompt.text == "draft"


async def test_up_moves_within_a_multi_line_text_before_the_history(agio: Agio) -> None:
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        prompt = app.chat.prompt
        prompt.sent.append("older")
        await pilot.press(*"one", "ctrl+j", *"two")
        await pilot.press("up")  # from the second line to the first: the text stays
        assert (prompt.text, prompt.cursor_location[0]) == ("one\ntwo", 0)
        await pilot.press("up")
        assert prompt.text == "older"


async def test_fork_dialog_query_takes_several_lines(agio: Agio) -> None:
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        await send(pilot, "hello there")
        await wait_for(pilot, lambda: app.chat.shown_status == "completed", what="answer")
        source = app.chat.follower.run_id
        await pilot.press("ctrl+f")  # fork, from the chat
        await wait_for(pilot, lambda: isinstance(app.screen, ForkModal), what="fork dialog")
        query = app.screen.query_one("#fork-query", Prompt)
        assert query.text == "hello there"
        app.post_message(events.Paste("\nsecond line"))
        await wait_for(pilot, lambda: query.text == "hello there\nsecond line")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat.follower.run_id != source, what="forked run")
        await wait_for(pilot, lambda: app.chat.shown_status == "completed", what="fork ends")
        fork = await agio.get_run(app.chat.follower.run_id or "")
        assert fork.parent_run_id == source
        assert fork.input == "hello there\nsecond line"
