"""The chat screen: the conversation, streamed live, with the run it follows under control."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Input

from agio_core import (
    AgioError,
    Event,
    Run,
    RunCancelled,
    RunCompleted,
    RunFailed,
    RunPaused,
    RunResumed,
    RunStarted,
)

from ..widgets.conversation import Conversation, RunView, UserMessage
from ..widgets.status import StatusBar
from .base import AgioScreen, reported

# While the followed run is in one of these states, a new message waits in the queue.
BUSY = frozenset({"starting", "running", "paused"})


class ChatScreen(AgioScreen):
    BINDINGS = [Binding("ctrl+n", "new_chat", "New chat")]

    def __init__(self, agent_id: str, session_id: str | None = None) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.session_id = session_id
        self.run_id: str | None = None  # the run this screen follows
        self.run_status: str | None = None
        self.last_seq = 0
        self.view: RunView | None = None
        self.queue: deque[UserMessage] = deque()
        self._consuming = asyncio.Lock()  # one follower applies events at a time

    def compose(self) -> ComposeResult:
        yield Conversation(id="conversation")
        yield Input(placeholder="Message the agent — Enter sends", id="prompt")
        yield StatusBar(id="status")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one(Input).focus()
        if not await self.set_agent(self.agent_id, quiet=True):
            self.agio_app.action_pick_agent()
        if self.session_id:
            with reported(self, "Session"):
                await self._load_session(self.session_id)

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def conversation(self) -> Conversation:
        return self.query_one(Conversation)

    @property
    def busy(self) -> bool:
        return self.run_status in BUSY

    @property
    def target_run_id(self) -> str | None:
        return self.run_id

    # agent and session

    async def set_agent(self, agent_id: str, *, quiet: bool = False) -> bool:
        try:
            agent = await self.agio_app.agio.get_agent(agent_id)
        except AgioError as exc:
            self.notify(f"{exc.message}. Pick an agent (F2).", title="Agent", severity="error")
            self.status_bar.agent_id, self.status_bar.model = agent_id, "?"
            return False
        self.agent_id = agent.id
        self.status_bar.agent_id, self.status_bar.model = agent.id, agent.model
        if not quiet:
            self.notify(f"Now chatting with {agent.name} ({agent.model})", title="Agent")
        return True

    async def _load_session(self, session_id: str) -> None:
        """Show the session's earlier runs, and follow its last run if it is still going."""
        agio = self.agio_app.agio
        page = await agio.list_runs(session_id=session_id, limit=100)
        runs = sorted(page.items, key=lambda run: run.created_at)
        if not runs:
            self.notify(f"Session {session_id} is new: your first message starts it.")
            return
        for run in runs[:-1]:
            view = RunView(run.input)
            await self.conversation.mount(view)
            async for event in agio.events(run.id, follow=False):
                await view.apply(event)
        await self.watch_run(runs[-1].id)

    def action_new_chat(self) -> None:
        """A fresh session; a run still going keeps going, and queued messages carry over."""
        self.workers.cancel_group(self, "follow")
        self.session_id = self.run_id = self.run_status = self.view = None
        self.last_seq = 0
        self.conversation.remove_children(RunView)
        self.status_bar.reset()
        self.status_bar.status = None
        self.notify("New chat: the next message starts a new session.")
        self.call_later(self._drain)

    # sending

    def on_input_submitted(self, message: Input.Submitted) -> None:
        text = message.value.strip()
        message.input.clear()
        if not text:
            return
        if self.busy:
            self._enqueue(text)
        else:
            self._start(text)

    def _enqueue(self, text: str) -> None:
        pending = UserMessage(text, queued=True)
        self.queue.append(pending)
        self.conversation.mount(pending)
        self.status_bar.queued = len(self.queue)
        reason = (
            "the run is paused — resume (ctrl+r) or cancel (ctrl+x) it"
            if self.run_status == "paused"
            else "the agent is still answering"
        )
        self.notify(f"Message queued ({len(self.queue)} waiting): {reason}.", title="Queued")

    async def _drain(self) -> None:
        if self.busy or not self.queue:
            return
        pending = self.queue.popleft()
        self.status_bar.queued = len(self.queue)
        await pending.remove()
        self._start(pending.text)

    def _start(self, text: str) -> None:
        self.run_status = self.status_bar.status = "starting"
        self.view = RunView(text)
        self.conversation.mount(self.view)
        self.run_worker(self._chat(text, self.view), group="follow", exclusive=True)

    async def _chat(self, text: str, view: RunView) -> None:
        try:
            handle = await self.agio_app.agio.start_chat(
                self.agent_id, text, session_id=self.session_id
            )
        except AgioError as exc:
            await view.remove()
            self.run_status = self.status_bar.status = None
            self._give_back(text)
            self.notify(exc.message, title="Not sent", severity="error")
            return
        self._follow_run(handle.run_id, view)
        await self._consume(handle.events())

    def _give_back(self, text: str) -> None:
        """A message that could not be sent goes back where the user can see and resend it."""
        prompt = self.query_one(Input)
        if not prompt.value:
            prompt.value = text
            return
        pending = UserMessage(text, queued=True)
        self.queue.appendleft(pending)
        self.conversation.mount(pending)
        self.status_bar.queued = len(self.queue)

    # following a run

    def _follow_run(self, run_id: str, view: RunView, after_seq: int = 0) -> None:
        view.run_id = self.run_id = run_id
        self.view = view
        self.last_seq = after_seq

    async def watch_run(
        self,
        run_id: str,
        *,
        note: str | None = None,
        message: str | None = None,
        events: AsyncIterator[Event] | None = None,
        after_seq: int = 0,
    ) -> None:
        """Follow a run (started here or elsewhere) in the conversation, from `after_seq`.

        `message` is what the user asked, if not the run's input (a rewind with a new query).
        """
        agio = self.agio_app.agio
        run = await agio.get_run(run_id)
        self.session_id = run.session_id
        if run.agent_id != self.agent_id:
            await self.set_agent(run.agent_id, quiet=True)
        view = RunView(message or run.input, note=note)
        await self.conversation.mount(view)
        self._follow_run(run_id, view, after_seq)
        self.run_status = run.status
        self.status_bar.reset()
        self.status_bar.show_run(run)
        stream = events if events is not None else agio.events(run_id, after_seq=after_seq)
        self._follow(stream, switch=True)

    def follow_resumed(self, run_id: str, events: AsyncIterator[Event]) -> None:
        """The followed run was resumed: keep streaming into the same view."""
        if run_id == self.run_id:
            self.run_status = "running"
            self._follow(events, switch=False)

    def _follow(self, events: AsyncIterator[Event], *, switch: bool) -> None:
        """Apply `events` in a worker. `switch`: they are another run's, so stop following the
        old one; otherwise they continue the followed run, after the current follower."""
        self.run_worker(self._consume(events), group="follow", exclusive=switch)

    async def _consume(self, events: AsyncIterator[Event]) -> None:
        async with self._consuming:
            with reported(self, "Run events"):
                await self._apply_all(events)
        self.call_later(self._drain)

    async def _apply_all(self, events: AsyncIterator[Event]) -> None:
        async for event in events:
            if event.run_id != self.run_id:
                return  # the chat follows another run now
            if event.seq > self.last_seq:
                await self._apply(event)
        if self.run_id is not None and self.run_status == "running":
            # The stream ended without an end event: the run's process went away.
            run = await self.agio_app.agio.get_run(self.run_id)
            self.run_status = run.status
            self.status_bar.show_run(run)

    async def _apply(self, event: Event) -> None:
        self.last_seq = event.seq
        if self.view is not None:
            await self.view.apply(event)
        self.status_bar.apply(event)
        match event:
            case RunStarted(session_id=session_id):
                self.session_id = session_id
                self.run_status = "running"
            case RunResumed():
                self.run_status = "running"
            case RunPaused():
                self.run_status = "paused"
            case RunCompleted() | RunFailed() | RunCancelled():
                self.run_status = event.type.removeprefix("run_")

    # run control feedback (from the app)

    def show_pending(self, run_id: str, label: str) -> None:
        if run_id == self.run_id:
            self.status_bar.status = label

    def show_run_state(self, run: Run) -> None:
        if run.id != self.run_id:
            return
        self.run_status = run.status
        self.status_bar.show_run(run)
        if not self._following():
            # e.g. a paused run was cancelled: pick up its last events, then send what waits.
            self._follow(self.agio_app.agio.events(run.id, after_seq=self.last_seq), switch=False)

    def _following(self) -> bool:
        return any(
            worker.node is self and worker.group == "follow" and not worker.is_finished
            for worker in self.workers
        )
