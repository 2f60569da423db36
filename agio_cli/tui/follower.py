"""`RunFollower`: the run the chat follows — its status, last seq, queue and follow task.

No widgets here. The chat screen tells the follower what to do (send, watch, control) and the
follower posts messages back up to it (`Starting`, `Events`, `StateChanged`, `NotSent`,
`ApprovalNeeded`). The shown state never runs ahead of the run: a control request shows a
pending label ("pausing…") until the run's own event arrives, a failed call brings back the
last known state, and a lost server says "disconnected" until the stream is back.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Literal

from textual.message import Message

from agio_core import (
    AgioError,
    AgioFacade,
    Event,
    NotFoundError,
    Run,
    RunAwaitingApproval,
    RunCancelled,
    RunCompleted,
    RunFailed,
    RunPaused,
    RunResumed,
    RunStarted,
)

from .format import checkpoint_label

ControlAction = Literal["pause", "resume", "cancel"]
PENDING: dict[ControlAction, str] = {
    "pause": "pausing…",
    "resume": "resuming…",
    "cancel": "cancelling…",
}
# While the followed run is in one of these states, a new message waits in the queue.
BUSY = frozenset({"starting", "running", "paused", "awaiting_approval"})
RECONNECT_EVERY_S = 2.0
# How long a control call waits for the run to get there; the label stays until it does.
CONTROL_WAIT_S = 2.0


class _FollowerMessage(Message, bubble=False):
    """For the chat screen only: the app above it has nothing to do with these."""


class Starting(_FollowerMessage):
    """A run is about to be shown: `text` is what the user asked."""

    def __init__(self, text: str, note: str | None = None) -> None:
        super().__init__()
        self.text, self.note = text, note


class Events(_FollowerMessage):
    """Events to show. Until the screen takes the message, more events join it: a fast
    stream costs one message per screen turn, not one per token."""

    def __init__(self, run_id: str, events: list[Event]) -> None:
        super().__init__()
        self.run_id, self.events = run_id, events
        self.taken = False

    def take(self) -> list[Event]:
        self.taken = True
        return self.events


class StateChanged(_FollowerMessage):
    """The followed run's status, pending label, connection or queue changed."""

    def __init__(self, run: Run | None = None) -> None:
        super().__init__()
        self.run = run  # a fresh run record, when the change came from one


class NotSent(_FollowerMessage):
    def __init__(self, text: str, reason: str) -> None:
        super().__init__()
        self.text, self.reason = text, reason


class ApprovalNeeded(_FollowerMessage):
    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id


class Toast(_FollowerMessage):
    def __init__(self, text: str, *, title: str = "", severity: str = "information") -> None:
        super().__init__()
        self.text, self.title, self.severity = text, title, severity


async def control_call(agio: AgioFacade, action: ControlAction, run_id: str) -> Run:
    if action == "pause":
        return await agio.pause_run(run_id, wait=CONTROL_WAIT_S)
    if action == "cancel":
        return await agio.cancel_run(run_id, wait=CONTROL_WAIT_S)
    await agio.resume_run(run_id)
    return await agio.get_run(run_id)


def control_outcome(action: ControlAction, run: Run) -> str:
    if action == "pause" and run.status == "paused" and run.last_checkpoint_id:
        return f"Paused at checkpoint {checkpoint_label(run.last_checkpoint_id)}. ctrl+r resumes."
    if action == "pause" and run.status == "running":
        return "Pause requested: the run pauses at its next safe point."
    if action == "pause" and run.status != "paused":
        return f"The run is {run.status}: it ended before it could pause."
    if action == "cancel" and run.status not in ("cancelled", "completed", "failed"):
        return "Cancel requested: the run stops as soon as it sees it."
    return {"pause": "Paused.", "resume": "Resumed.", "cancel": "Cancelled."}[action]


class RunFollower:
    def __init__(self, agio: AgioFacade, *, server: str | None) -> None:
        self.agio = agio
        self._listener: Callable[[Message], object] | None = None
        self.server = server
        self.agent_id = ""
        self.session_id: str | None = None
        self.run_id: str | None = None
        self.status: str | None = None  # the run's last known state
        self.pending: str | None = None  # a control request not yet answered by an event
        self.disconnected = False
        self.last_seq = 0
        self.queue: deque[str] = deque()
        self._task: asyncio.Task[None] | None = None
        self._batch: Events | None = None  # posted, not yet taken: more events may join it

    # state, read by the screen

    @property
    def shown_status(self) -> str | None:
        if self.disconnected:
            return "disconnected"
        return self.pending or self.status

    @property
    def busy(self) -> bool:
        return self.status in BUSY

    def subscribe(self, listener: Callable[[Message], object]) -> None:
        """Where the follower's messages go (the chat screen's `post_message`)."""
        self._listener = listener

    def _post(self, message: Message) -> None:
        if self._listener is not None:
            self._listener(message)

    def _changed(self, run: Run | None = None) -> None:
        self._batch = None  # events after this change must come after it
        self._post(StateChanged(run))

    def _notify(self, text: str, title: str = "", severity: str = "information") -> None:
        self._post(Toast(text, title=title, severity=severity))

    # sending

    def send(self, text: str) -> None:
        """Start a run with `text`, or queue it while the followed run is busy."""
        if self.busy:
            self.queue.append(text)
            self._changed()
            return
        self.status = "starting"
        self._post(Starting(text))
        self._changed()
        self._switch(self._chat(text))

    def unqueue(self) -> str | None:
        """Take back the last queued message (to edit it)."""
        text = self.queue.pop() if self.queue else None
        self._changed()
        return text

    async def _chat(self, text: str) -> None:
        try:
            handle = await self.agio.start_chat(self.agent_id, text, session_id=self.session_id)
        except AgioError as exc:
            self.status = None
            self._changed()
            self._post(NotSent(text, exc.message))
            return
        self._follow(handle.run_id, 0)
        await self._consume(handle.events())

    def _drain(self) -> None:
        if not self.busy and self.queue:
            text = self.queue.popleft()
            self.send(text)

    def new_session(self) -> None:
        """Stop following; the next message starts a new session. A run still going goes on."""
        self._stop_task()
        self.session_id = self.run_id = self.status = self.pending = None
        self.disconnected = False
        self.last_seq = 0
        self._changed()
        self._drain()

    # following

    def _follow(self, run_id: str, after_seq: int) -> None:
        self.run_id, self.last_seq = run_id, after_seq
        self.pending = None
        self._changed()

    async def watch(
        self,
        run_id: str,
        *,
        note: str | None = None,
        message: str | None = None,
        events: AsyncIterator[Event] | None = None,
        after_seq: int = 0,
    ) -> Run:
        """Follow a run (started here or elsewhere) from `after_seq`.

        `message` is what the user asked, if not the run's input (a rewind with a new query).
        """
        run = await self.agio.get_run(run_id)
        self._stop_task()
        self.session_id, self.agent_id, self.status = run.session_id, run.agent_id, run.status
        self._post(Starting(message or run.input, note))
        self._follow(run_id, after_seq)
        self._changed(run)
        stream = events if events is not None else self.agio.events(run_id, after_seq=after_seq)
        self._switch(self._consume(stream))
        return run

    def _switch(self, work: Coroutine[Any, Any, None]) -> None:
        self._stop_task()
        self._task = asyncio.create_task(work)

    def _stop_task(self) -> None:
        task = self._task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
        self._task = None

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _consume(self, events: AsyncIterator[Event]) -> None:
        run_id = self.run_id
        while run_id is not None and run_id == self.run_id:
            try:
                await self._apply_all(run_id, events)
                break
            except NotFoundError as exc:
                self._notify(exc.message, "Run events", "error")
                break
            except AgioError as exc:
                if self.server is None:
                    self._notify(exc.message, "Run events", "error")
                    break
                events = await self._reconnect(run_id, exc)
        self._drain()

    async def _reconnect(self, run_id: str, error: AgioError) -> AsyncIterator[Event]:
        """The server went away: say so, and wait until it answers again."""
        self.disconnected = True
        self._changed()
        self._notify(error.message, f"Disconnected from {self.server}", "error")
        while True:
            await asyncio.sleep(RECONNECT_EVERY_S)
            try:
                run = await self.agio.get_run(run_id)
            except AgioError:
                continue
            self.disconnected = False
            self.status = run.status
            self._changed(run)
            self._notify(f"Reconnected to {self.server}.", "Server")
            return self.agio.events(run_id, after_seq=self.last_seq)

    async def _apply_all(self, run_id: str, events: AsyncIterator[Event]) -> None:
        async for event in events:
            if event.seq <= self.last_seq:
                continue
            self.last_seq = event.seq
            changed = self._track(event)
            self._show(run_id, event)  # first the event, then the state it made
            if changed:
                self._changed()
        if self.status in ("running", "starting"):
            # The stream ended without an end event: the run's process went away.
            run = await self.agio.get_run(run_id)
            self.status = run.status
            self._changed(run)

    def _show(self, run_id: str, event: Event) -> None:
        batch = self._batch
        if batch is not None and not batch.taken and batch.run_id == run_id:
            batch.events.append(event)
        else:
            self._batch = Events(run_id, [event])
            self._post(self._batch)

    def _track(self, event: Event) -> bool:
        """Update the state from an event; True when the state changed."""
        match event:
            case RunStarted(session_id=session_id):
                self.session_id, self.status = session_id, "running"
            case RunResumed():
                self.status = "running"
                self._settle("resuming…")
            case RunPaused():
                self.status = "paused"
                self._settle("pausing…")
            case RunAwaitingApproval():
                self.status = "awaiting_approval"
                self._post(ApprovalNeeded(event.run_id))
            case RunCompleted() | RunFailed() | RunCancelled():
                self.status = event.type.removeprefix("run_")
                self.pending = None
            case _:
                return False
        return True

    def _settle(self, label: str) -> None:
        if self.pending == label:
            self.pending = None

    # run control

    async def control(self, action: ControlAction) -> None:
        """Pause, resume or cancel the followed run; the label stays until the event says so."""
        run_id = self.run_id
        if run_id is None:
            return
        self.pending = PENDING[action]
        self._changed()
        try:
            if action == "resume":
                handle = await self.agio.resume_run(run_id)
                self._switch(self._consume(handle.events(after_seq=self.last_seq)))
                run = await self.agio.get_run(run_id)
            else:
                run = await control_call(self.agio, action, run_id)
        except AgioError as exc:
            self.pending = None  # nothing was asked of the run: show what it was
            self._notify(exc.message, f"Cannot {action}", "error")
            await self._refresh(run_id)
            return
        if run_id != self.run_id:
            return
        self._notify(control_outcome(action, run), run_id)
        if self.pending is None:
            return  # the run's event came first and said where it is
        if action != "resume" and not self._running_after(action, run):
            self.pending, self.status = None, run.status
        self._changed(run)
        self.follow_on(run_id)  # e.g. a paused run was cancelled: pick up its last events

    @staticmethod
    def _running_after(action: ControlAction, run: Run) -> bool:
        """The call returned but the run has not got there yet: keep the pending label."""
        return run.status == "running" and action in ("pause", "cancel")

    async def _refresh(self, run_id: str) -> None:
        try:
            run = await self.agio.get_run(run_id)
        except AgioError:
            self._changed()  # unreachable: keep the last known state
            return
        if run_id == self.run_id:
            self.status = run.status
            self._changed(run)

    def follow_on(self, run_id: str) -> None:
        """The followed run goes on (decided, resumed elsewhere): stream what it does next."""
        if run_id == self.run_id and not self._following():
            self._switch(self._consume(self.agio.events(run_id, after_seq=self.last_seq)))

    def _following(self) -> bool:
        return self._task is not None and not self._task.done()
