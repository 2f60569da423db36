"""The session switcher (F4): list, open, and the runs panel filtered by session."""

from __future__ import annotations

import pytest
from textual.widgets import OptionList

from agio_cli.tui.app import AgioApp
from agio_cli.tui.screens.confirm import Confirm
from agio_cli.tui.screens.runs import RunsScreen
from agio_cli.tui.screens.sessions import SessionPicker
from agio_cli.tui.widgets.conversation import RunView
from agio_core import Agio

from .tui_helpers import SIZE, send, started_app, wait_for


async def two_sessions(agio: Agio) -> tuple[str, str]:
    ada = await agio.chat("assistant", "My name is Ada", session_id="ada")
    await agio.chat("assistant", "What is my name?", session_id="ada")
    bob = await agio.chat("assistant", "My name is Bob", session_id="bob")
    return ada.session_id, bob.session_id


async def open_picker(pilot: object, app: AgioApp) -> SessionPicker:
    await pilot.press("f4")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, SessionPicker), what="sessions")  # type: ignore[arg-type]
    picker = app.screen
    assert isinstance(picker, SessionPicker)
    await wait_for(pilot, lambda: bool(picker.sessions), what="sessions listed")  # type: ignore[arg-type]
    return picker


async def test_sessions_are_listed_newest_first_and_open_in_the_chat(agio: Agio) -> None:
    await two_sessions(agio)
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        picker = await open_picker(pilot, app)
        options = picker.query_one(OptionList)
        assert list(picker.sessions) == ["bob", "ada"]
        assert "My name is Ada" in str(options.get_option_at_index(1).prompt)
        assert "2 runs" in str(options.get_option_at_index(1).prompt)
        await pilot.press("down", "enter")  # ada
        chat = app.chat
        await wait_for(pilot, lambda: len(chat.query(RunView)) == 2, what="ada's runs")
        assert [v.message for v in chat.query(RunView)] == ["My name is Ada", "What is my name?"]
        await wait_for(pilot, lambda: chat.shown_status == "completed")
        assert chat.follower.session_id == "ada"
        await send(pilot, "What is my name?")  # the conversation goes on in that session
        await wait_for(pilot, lambda: len(chat.query(RunView)) == 3)
        await wait_for(pilot, lambda: chat.shown_status == "completed", what="answer")
        assert chat.query(RunView).last().answer == "Your name is Ada."
        assert (await agio.list_runs(session_id="ada")).total == 3


async def test_runs_panel_of_a_session_and_the_toggle(agio: Agio) -> None:
    await two_sessions(agio)
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        await open_picker(pilot, app)
        await pilot.press("down", "r")  # the runs of ada
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen), what="runs panel")
        runs = app.screen
        assert isinstance(runs, RunsScreen)
        await wait_for(pilot, lambda: runs.table.row_count == 2, what="ada's runs only")
        assert {run.session_id for run in runs.table.runs.values()} == {"ada"}
        assert "session ada" in str(runs.query_one("#runs").border_title)
        await pilot.press("s")  # all sessions
        await wait_for(pilot, lambda: runs.table.row_count == 3, what="every run")
        assert "all sessions" in str(runs.query_one("#runs").border_title)


@pytest.mark.skipif(
    not hasattr(Agio, "delete_run"), reason="needs run deletion (#17: Agio.delete_run)"
)
async def test_delete_a_session_after_asking(agio: Agio) -> None:
    await two_sessions(agio)
    app = AgioApp(backend=agio, session="ada")
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        chat = app.chat
        await wait_for(pilot, lambda: len(chat.query(RunView)) == 2, what="ada shown")
        picker = await open_picker(pilot, app)
        assert picker.selected is not None and picker.selected.id == "ada"  # the current one
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: list(picker.sessions) == ["bob"], what="ada gone")
        assert (await agio.list_runs(session_id="ada")).items == []
        assert len((await agio.list_runs(session_id="bob")).items) == 1
        await pilot.press("escape")
        await wait_for(pilot, lambda: not chat.query(RunView), what="the chat emptied")
        assert chat.follower.session_id is None
