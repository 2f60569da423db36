"""Agent picker, help screen, command palette, and continuing a session."""

from __future__ import annotations

from textual.command import CommandPalette
from textual.widgets import Input, OptionList, Static

from agio_cli.tui.app import AgioApp
from agio_cli.tui.screens.agents import AgentPicker
from agio_cli.tui.screens.help import HelpScreen
from agio_cli.tui.screens.runs import RunsScreen
from agio_cli.tui.widgets.conversation import RunView
from agio_cli.tui.widgets.status import StatusBar
from agio_core import Agio

from .tui_helpers import SIZE, send, slow_agent, started_app, wait_for


async def test_agent_picker_switches_the_agent(agio: Agio) -> None:
    await slow_agent(agio, "zeta", model_params={})
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, AgentPicker), what="picker")
        options = app.screen.query_one(OptionList)
        await wait_for(pilot, lambda: options.option_count == 2, what="agents listed")
        assert options.highlighted == 0  # the current agent, assistant
        await pilot.press("down", "enter")
        status = app.chat.query_one(StatusBar)
        await wait_for(pilot, lambda: status.agent_id == "zeta", what="agent switched")
        await send(pilot, "count to 3")
        await wait_for(pilot, lambda: app.chat.shown_status == "completed")
        assert (await agio.list_runs()).items[0].agent_id == "zeta"


async def test_unknown_agent_is_reported_and_the_picker_opens(agio: Agio) -> None:
    app = AgioApp(backend=agio, agent="nobody")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, AgentPicker), what="the picker")
        assert any("agent not found" in n.message for n in app._notifications)
        options = app.screen.query_one(OptionList)
        await wait_for(pilot, lambda: options.option_count == 1, what="agents listed")
        await pilot.press("enter")
        status = app.chat.query_one(StatusBar)
        await wait_for(pilot, lambda: status.agent_id == "assistant", what="agent picked")


async def test_help_lists_every_key(agio: Agio) -> None:
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        text = str(app.screen.query_one("#help-keys", Static).render())
        for key, what in [
            ("^z", "Pause"),
            ("^r", "Resume"),
            ("^x", "Cancel"),
            ("f3", "Runs"),
            ("f", "Fork"),
            ("b", "Rewind"),
            ("^p", "Command palette"),
        ]:
            assert key in text and what in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), what="help closed")


async def test_command_palette_runs_actions(agio: Agio) -> None:
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        app.screen.query_one(Input).value = "Runs and checkpoints"
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen), what="runs panel")

        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        app.screen.query_one(Input).value = "Fork from checkpoint"
        await pilot.pause(0.3)
        await pilot.press("enter")  # no run yet: says so instead of failing
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        await wait_for(pilot, lambda: any("Pick a run" in n.message for n in app._notifications))


async def test_session_option_shows_history_and_continues_it(agio: Agio) -> None:
    first = await agio.chat("assistant", "My name is Ada", session_id="team-chat")
    app = AgioApp(backend=agio, session="team-chat")
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        chat = app.chat
        await wait_for(
            pilot,
            lambda: bool(chat.query(RunView)) and chat.query(RunView).first().answer != "",
            what="history loaded",
        )
        assert chat.query(RunView).first().message == "My name is Ada"
        assert chat.query(RunView).first().answer == first.response
        assert chat.shown_status == "completed"
        await send(pilot, "What is my name?")
        await wait_for(pilot, lambda: len(chat.query(RunView)) == 2)
        await wait_for(pilot, lambda: chat.shown_status == "completed")
        assert chat.query(RunView).last().answer == "Your name is Ada."
