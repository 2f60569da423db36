"""`AgioApp`: the Textual app behind `agio tui`, over the embedded core or an `agio serve`.

The app opens the backend, owns the `RunFollower` and the screens, and carries out what a
screen asks of the whole app (open a dialog, continue from a checkpoint). Screens do not reach
into each other: they post messages, or call the follower.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import cast

from textual.app import App
from textual.binding import Binding

from agio_core import AgioFacade, RunHandleFacade, Settings

from .._backend import open_backend, server_url
from .commands import AgioCommands
from .engine_thread import ThreadedAgio
from .follower import RunFollower
from .screens.agents import AgentPicker
from .screens.approvals import ApprovalScreen
from .screens.base import RUN_CONTROL_BINDINGS, reported
from .screens.chat import ChatScreen
from .screens.confirm import Confirm
from .screens.fork import ForkModal, ForkRequest
from .screens.help import HelpScreen, Section
from .screens.runs import RunsScreen
from .screens.sessions import SessionDeleted, SessionPicker
from .transcript import MESSAGE_BINDINGS, MessageActions

DEFAULT_AGENT = "assistant"


class AgioApp(App[None]):
    TITLE = "agio"
    CSS_PATH = "agio.tcss"
    COMMANDS = App.COMMANDS | {AgioCommands}
    BINDINGS = [
        Binding("f1", "help", "Help"),
        Binding("f2", "pick_agent", "Agent"),
        Binding("f3", "runs", "Runs"),
        Binding("f4", "sessions", "Sessions"),
        Binding("ctrl+q", "quit", "Quit", priority=True, show=False),
    ]

    def __init__(
        self,
        *,
        agent: str = DEFAULT_AGENT,
        session: str | None = None,
        server: str | None = None,
        backend: AgioFacade | None = None,
        settings: Settings | None = None,
    ) -> None:
        """Use `backend` if given (already open); else open one from `settings` or `server`."""
        super().__init__()
        self.agent_id = agent
        self.session_id = session
        self.server = server_url(server) if settings is None else None
        self.settings = settings
        self._backend = backend
        self._stack = AsyncExitStack()
        self._chat: ChatScreen | None = None
        self._follower: RunFollower | None = None
        self.messages = MessageActions(self)

    @property
    def agio(self) -> AgioFacade:
        if self._backend is None:
            raise RuntimeError("the agio backend is not open yet")
        return self._backend

    @property
    def follower(self) -> RunFollower:
        assert self._follower is not None
        return self._follower

    @property
    def chat(self) -> ChatScreen:
        assert self._chat is not None
        return self._chat

    def _open_backend(self) -> AbstractAsyncContextManager[AgioFacade]:
        return open_tui_backend(self.server, self.settings)

    async def on_mount(self) -> None:
        if self._backend is None:
            self._backend = await self._stack.enter_async_context(self._open_backend())
        # A RemoteAgio handed in says where it goes: a lost connection is shown with its URL.
        self.server = self.server or getattr(self._backend, "base_url", None)
        self._follower = RunFollower(self.agio, server=self.server)
        self._chat = ChatScreen(self.follower, self.agent_id, self.session_id)
        await self.push_screen(self._chat)

    async def on_unmount(self) -> None:
        if self._follower is not None:
            await self._follower.stop()
        await self._stack.aclose()

    # screens

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(help_sections()))

    def action_runs(self, session_id: str | None = None) -> None:
        if not isinstance(self.screen, RunsScreen):
            self.push_screen(RunsScreen(session_id=session_id))

    def action_pick_agent(self) -> None:
        if not isinstance(self.screen, AgentPicker):
            self.push_screen(AgentPicker(self.chat.agent_id), self._agent_picked)

    async def _agent_picked(self, agent_id: str | None) -> None:
        if agent_id is not None:
            await self.chat.set_agent(agent_id)

    def action_sessions(self) -> None:
        if not isinstance(self.screen, SessionPicker):
            self.push_screen(SessionPicker(self.follower.session_id), self._session_picked)

    async def _session_picked(self, choice: tuple[str, str] | None) -> None:
        if choice is None:
            return
        what, session_id = choice
        if what == "runs":
            self.action_runs(session_id)
            return
        with reported(self, "Session"):
            await self.chat.open_session(session_id)

    def on_session_deleted(self, message: SessionDeleted) -> None:
        if message.session_id == self.follower.session_id:
            self.chat.action_new_chat()  # what it showed is gone

    def open_approvals(self, run_id: str) -> None:
        if not isinstance(self.screen, ApprovalScreen):
            self.push_screen(ApprovalScreen(run_id))

    async def action_quit(self) -> None:
        """Quit, but ask first while a run of this chat is going (it would be interrupted)."""
        follower = self._follower
        if follower is None or follower.status not in ("starting", "running"):
            self.exit()
            return
        if isinstance(self.screen, Confirm):
            return

        def answered(quit_: bool | None) -> None:
            if quit_:
                self.exit()

        question = (
            f"Run {follower.run_id} is still going. Quitting leaves it interrupted "
            "(agio runs resume continues it later). Quit anyway?"
        )
        self.push_screen(Confirm(question, yes="Quit", no="Stay"), answered)

    # time travel

    async def fork_dialog(
        self, run_id: str, *, checkpoint_id: str | None = None, in_place: bool = False
    ) -> None:
        """The fork / rewind dialog on a checkpoint of `run_id` (its newest if not given)."""
        with reported(self, "Checkpoint"):
            if checkpoint_id is None:
                first = await self.agio.list_checkpoints(run_id, limit=1)
                if not first.items:
                    self.notify(f"Run {run_id} has no checkpoint yet.", severity="warning")
                    return
                newest = await self.agio.list_checkpoints(run_id, limit=1, offset=first.total - 1)
                checkpoint_id = (newest.items or first.items)[0].id
            checkpoint = await self.agio.get_checkpoint(checkpoint_id)
            await self.push_screen(ForkModal(checkpoint, in_place=in_place), self._fork_chosen)

    async def _fork_chosen(self, request: ForkRequest | None) -> None:
        if request is not None and await self.continue_from(request) is not None:
            while not isinstance(self.screen, ChatScreen):
                self.pop_screen()  # watch the new run in the chat

    async def continue_from(self, request: ForkRequest) -> RunHandleFacade | None:
        """Fork from (or rewind to) a checkpoint, then watch the new run stream in the chat."""
        after_seq = 0
        with reported(self, "Cannot continue"):
            if request.in_place:
                checkpoint = await self.agio.get_checkpoint(request.checkpoint_id)
                async for event in self.agio.events(checkpoint.run_id, follow=False):
                    after_seq = event.seq  # show only what the rewound run does from now on
                handle = await self.agio.restore_checkpoint(
                    request.checkpoint_id,
                    create_new_run=False,
                    modifications=request.modifications,
                )
            else:
                handle = await self.agio.fork_checkpoint(
                    request.checkpoint_id, modifications=request.modifications
                )
            await self.follower.watch(
                handle.run_id,
                note=f"{handle.run_id}: {request.describe()}",
                message=request.modifications.get("modified_query"),
                events=handle.events(after_seq=after_seq),
                after_seq=after_seq,
            )
            return handle
        return None


def help_sections() -> list[Section]:
    return [
        (
            "Anywhere",
            [
                *AgioApp.BINDINGS,
                Binding("ctrl+p", "command_palette", "Command palette (every action)"),
            ],
        ),
        ("Run control (chat: the current run; runs panel: the selected run)", RUN_CONTROL_BINDINGS),
        (
            "Chat",
            [
                Binding("enter", "submit", "Send (queued while a run is busy)"),
                Binding("ctrl+j", "newline", "New line (also shift+enter where the terminal can)"),
                Binding("up", "history", "Earlier messages (on the first line)"),
                Binding("tab", "focus", "Focus the messages, one by one"),
                *ChatScreen.BINDINGS,
            ],
        ),
        ("A focused message", MESSAGE_BINDINGS),
        (
            "Runs panel (F3)",
            [*RunsScreen.BINDINGS, Binding("enter", "watch", "Watch the highlighted run")],
        ),
        ("Sessions (F4)", SessionPicker.BINDINGS),
        ("Fork / rewind dialog", ForkModal.BINDINGS),
        ("Approval dialog", ApprovalScreen.BINDINGS),
    ]


def open_tui_backend(
    server: str | None, settings: Settings | None = None
) -> AbstractAsyncContextManager[AgioFacade]:
    """An `agio serve` if given; else the embedded core on a thread of its own (see
    `engine_thread`), so that drawing a long answer does not hold the run up."""
    if server and settings is None:
        return open_backend(server)
    return cast("AbstractAsyncContextManager[AgioFacade]", ThreadedAgio(settings or Settings()))


async def _serve(agent: str, session: str | None, server: str | None) -> None:
    async with open_tui_backend(server_url(server)) as agio:
        await AgioApp(agent=agent, session=session, server=server, backend=agio).run_async()


def run_tui(
    *, agent: str = DEFAULT_AGENT, session: str | None = None, server: str | None = None
) -> None:
    """Run the TUI until the user quits (embedded core, or `server` if given)."""
    asyncio.run(_serve(agent, session, server))


__all__ = ["AgioApp", "run_tui"]
