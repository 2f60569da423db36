"""Runs panel: checkpoints, the fork tree, and forking or rewinding with edits."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Checkbox, TextArea

from agio_cli.tui.app import AgioApp
from agio_cli.tui.screens.fork import ForkModal
from agio_cli.tui.screens.runs import RunsScreen
from agio_cli.tui.widgets.conversation import Notice, RunView
from agio_cli.tui.widgets.fork_tree import ForkTree
from agio_cli.tui.widgets.messages import MessageList
from agio_cli.tui.widgets.prompt import Prompt
from agio_core import Agio

from .tui_helpers import SIZE, send, started_app, wait_for

PIRATE = "Talk like a pirate."


async def open_runs(pilot: Pilot[None]) -> RunsScreen:
    await pilot.press("f3")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunsScreen), what="runs panel")
    screen = pilot.app.screen
    assert isinstance(screen, RunsScreen)
    await wait_for(pilot, lambda: screen.timeline.option_count > 0, what="checkpoints")
    return screen


async def test_fork_with_new_system_prompt_streams_a_new_run(agio: Agio) -> None:
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        chat = app.chat
        await send(pilot, "hello there")
        await wait_for(pilot, lambda: chat.shown_status == "completed", what="first run")
        source = chat.follower.run_id or ""
        source_checkpoints = (await agio.list_checkpoints(source)).items

        runs = await open_runs(pilot)
        assert runs.target_run_id == source
        last = source_checkpoints[-1].id
        assert runs.timeline.selected_checkpoint_id == last  # newest checkpoint preselected
        messages = runs.query_one(MessageList)
        # system, user, assistant: the state after the answer
        await wait_for(pilot, lambda: len(messages.children) == 3, what="checkpoint messages")

        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, ForkModal), what="fork dialog")
        modal = app.screen
        assert modal.query_one("#fork-query", Prompt).text == "hello there"
        modal.query_one("#fork-system", TextArea).text = PIRATE
        await pilot.press("ctrl+s")

        await wait_for(pilot, lambda: chat.follower.run_id not in (None, source), what="forked run")
        await wait_for(pilot, lambda: chat.shown_status == "completed", what="fork completes")
        fork_id = chat.follower.run_id or ""
        view = chat.query(RunView).last()
        assert f'My instructions are: "{PIRATE}"' in view.answer
        assert any("forked from #" in str(n.render()) for n in view.query(Notice))

        fork = await agio.get_run(fork_id)
        assert (fork.parent_run_id, fork.from_checkpoint_id) == (source, last)
        assert fork.response == view.answer
        assert (await agio.list_checkpoints(source)).items == source_checkpoints  # source untouched
        tree = await agio.checkpoint_tree(source)
        assert [child.run_id for child in tree.children] == [fork_id]

        runs = await open_runs(pilot)
        assert runs.target_run_id == fork_id
        forks = runs.query_one(ForkTree)
        await wait_for(pilot, lambda: len(forks.root.children) == 1, what="fork tree")
        assert forks.root.data == source and forks.root.children[0].data == fork_id


async def test_rewind_in_place_with_edited_query(agio: Agio) -> None:
    app = AgioApp(backend=agio)
    async with app.run_test(size=SIZE) as pilot:
        await started_app(pilot)
        chat = app.chat
        await send(pilot, "What is 2+2?")
        await wait_for(pilot, lambda: chat.shown_status == "completed", what="first run")
        run_id = chat.follower.run_id or ""

        runs = await open_runs(pilot)
        runs.timeline.highlighted = 0  # step 0: before the first model call
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, ForkModal), what="rewind dialog")
        modal = app.screen
        assert modal.query_one("#fork-in-place", Checkbox).value is True
        modal.query_one("#fork-query", Prompt).text = "What is 6*7?"
        await pilot.click("#fork-submit")
        await wait_for(pilot, lambda: len(chat.query(RunView)) == 2, what="rewound run shown")
        await wait_for(pilot, lambda: chat.shown_status == "completed", what="rewound run ends")
        assert chat.follower.run_id == run_id
        rewound = chat.query(RunView).last()
        assert (rewound.message, rewound.answer) == ("What is 6*7?", "6*7 = 42.")
        run = await agio.get_run(run_id)
        assert run.response == "6*7 = 42."
        checkpoints = (await agio.list_checkpoints(run_id)).items
        assert any(c.superseded for c in checkpoints)
