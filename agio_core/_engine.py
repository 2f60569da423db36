"""The run loop: model calls, tool calls, checkpoints, events and run control."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Literal, TypeVar

from ._eventlog import EventLog
from ._launch import Launch, Services
from ._time import utcnow
from .approvals import (
    DECISION,
    PendingApproval,
    calls_to_ask,
    decisions_for,
    denial,
    resolution,
)
from .checkpoints import CheckpointKind, CheckpointRecord, Message
from .control import HEARTBEAT_EVERY_S, release
from .errors import AgioError, ProviderError
from .events import (
    CheckpointCreated,
    ContentDelta,
    RunAwaitingApproval,
    RunCancelled,
    RunCompleted,
    RunFailed,
    RunPaused,
    RunResumed,
    RunStarted,
    StepDiscarded,
    StepStarted,
    ToolApprovalRequested,
    ToolApprovalResolved,
    ToolCallCompleted,
    ToolCallStarted,
    Usage,
)
from .ids import checkpoint_id
from .providers import ModelRequest, ModelResponse, TextDelta, split_model
from .runs import Run, RunError, RunStatus
from .tools import Policy, RunContext
from .tools._context import workspace_for
from .tools._toolbox import Toolbox, build_toolbox

log = logging.getLogger("agio")
T = TypeVar("T")

StopReason = Literal["cancel", "shutdown"]


def pending_tool_calls(messages: list[Message]) -> list[dict[str, Any]]:
    """Tool calls of the last assistant message that have no result yet."""
    for position in range(len(messages) - 1, -1, -1):
        message = messages[position]
        if message.get("role") == "assistant":
            answered = {m.get("tool_call_id") for m in messages[position + 1 :]}
            return [c for c in message.get("tool_calls") or [] if c["id"] not in answered]
        if message.get("role") != "tool":
            return []
    return []


class MaxStepsExceeded(AgioError):
    pass


class Runner:
    """Drives one run in this process until it completes, fails, pauses or is stopped."""

    def __init__(self, services: Services, launch: Launch) -> None:
        self.settings = services.settings
        self.mcp = services.mcp
        self.serving = services.serving
        self.store = services.store
        self.providers = services.providers
        self.run = launch.run
        self.agent = launch.agent
        self.messages = launch.messages
        self.step = launch.step
        self.last_checkpoint = launch.base
        self.checkpointed = launch.checkpointed  # how many of `messages` the last checkpoint holds
        self.log = EventLog(launch.run.id, services.store, launch.last_seq)
        self.mode = launch.mode
        self.first_checkpoint = launch.first_checkpoint
        self.resumed_from = launch.resumed_from
        self.partial: list[str] = []
        self.pause_requested = False
        # What a pause may cut short (a model stream, starting MCP servers): nothing of it
        # is kept, so cutting it is safe and the pause takes effect at once.
        self._cuttable: asyncio.Task[Any] | None = None
        self._cut = False
        # Decisions on this step's tool calls, taken from the run record when it goes on.
        self.decisions: dict[str, PendingApproval] = {}
        self.stop_reason: StopReason | None = None
        self.cancel_reason = ""
        self.toolbox = Toolbox()
        # What tools know of the run: handed to each call, so tools never reach into the engine.
        self.context = RunContext(
            run_id=self.run.id,
            agent_id=self.run.agent_id,
            workspace=workspace_for(self.settings, self.run.agent_id, self.agent.workspace),
            settings=self.settings,
            serving=self.serving,
        )
        self._save_lock = asyncio.Lock()
        self._body: asyncio.Task[None] | None = None
        self._segment_started = time.monotonic()
        self._base_duration_ms = self.run.metrics.duration_ms
        self.task: asyncio.Task[Run] | None = None
        self._end_recorded = False  # the store holds the run's final (or paused) state
        # How the run ends (completes, pauses, fails, is cancelled or interrupted): decided
        # once, then carried out to the end (record, then its event) whatever comes after.
        self._ending: asyncio.Task[None] | None = None

    # control, callable from any task in this process

    def request_pause(self) -> None:
        self.pause_requested = True
        if self._cuttable is not None and not self._cuttable.done():
            self._cut = True
            self._cuttable.cancel()

    async def _unless_paused(self, work: Awaitable[T]) -> tuple[T | None, bool]:
        """Do `work`, unless a pause cuts it short: (its result, False) or (None, True)."""
        if self.pause_requested:
            return None, True
        self._cuttable = asyncio.ensure_future(work)
        self._cut = False
        try:
            return await self._cuttable, False
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self._cut and (current is None or not current.cancelling()):
                return None, True
            raise
        finally:
            self._cuttable = None

    def stop(self, reason: StopReason, message: str = "") -> None:
        if self._ending is not None:
            # Too late: the run is already ending another way (say, completing), and that
            # end is what its record and its log will both say.
            return
        if self.stop_reason is None:
            self.stop_reason = reason
            self.cancel_reason = message
        if self._body is not None:
            self._body.cancel()

    async def _end_with(self, ending: Coroutine[Any, Any, None]) -> None:
        """Carry out the run's end as a task of its own: a stop that comes meanwhile can
        neither cut it halfway (the record says `completed`, the log has no end) nor replace
        it (the record says `completed`, the log `run_cancelled`)."""
        self._ending = asyncio.ensure_future(ending)
        await asyncio.shield(self._ending)

    # lifecycle

    async def prepare(self) -> None:
        """Store the starting state and log the start before the run is handed out: a run
        whose process dies right after creating it can be resumed (it has a checkpoint) and
        its log begins with `run_started`."""
        if self.mode == "start":
            # A new run is stored together with its first checkpoint, in one write.
            assert self.first_checkpoint is not None, "a new run starts from a checkpoint"
            record = self._next_checkpoint(*self.first_checkpoint)
            self._checkpointed(record)
            await self.store.create_run(self.run.model_copy(deep=True), first_checkpoint=record)
            await self.log.emit(
                RunStarted(
                    **self.log.envelope(),
                    agent_id=self.run.agent_id,
                    session_id=self.run.session_id,
                    user_id=self.run.user_id,
                    parent_run_id=self.run.parent_run_id,
                    from_checkpoint_id=self.run.from_checkpoint_id,
                )
            )
            await self._checkpoint_created(record.id)
        else:
            await self.log.emit(RunResumed(**self.log.envelope(), checkpoint_id=self.resumed_from))
        try:
            if self.mode == "resume" and self.first_checkpoint is not None:
                await self._checkpoint(*self.first_checkpoint)
            await self.log.flush()
        except AgioError as exc:
            with contextlib.suppress(AgioError):  # e.g. the disk is full: say so if we can
                await self._fail(type(exc).__name__, exc.message)
            raise

    async def execute(self) -> Run:
        stop_watching = asyncio.Event()
        watcher = asyncio.create_task(self._watch_control(stop_watching))
        self._body = asyncio.create_task(self._drive())
        if self.stop_reason is not None:
            self._body.cancel()
        try:
            await self._body
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                # We ourselves are being cancelled (event loop shutting down): no clean end.
                self.stop_reason = "shutdown"
                self._body.cancel()
                await self._finish_stopped()
                raise
            await self._finish_stopped()
        except ProviderError as exc:
            await self._fail(exc.error_type, exc.message)
        except MaxStepsExceeded as exc:
            await self._fail("max_steps_exceeded", exc.message)
        except AgioError as exc:
            await self._fail(type(exc).__name__, exc.message)
        except Exception as exc:
            log.exception("run %s failed unexpectedly", self.run.id)
            await self._fail("internal_error", f"{type(exc).__name__}: {exc}")
        finally:
            stop_watching.set()
            await watcher
            release(self.run.id)
            self.log.close()
        return self.run

    async def _finish_stopped(self) -> None:
        try:
            if self._ending is not None:  # the loop itself was cancelled while ending: let it
                await asyncio.shield(self._ending)
            elif self._end_recorded:
                return
            elif self.stop_reason == "shutdown":
                await self._end_with(self._interrupt())
            else:
                await self._end_with(self._cancel())
        except AgioError as exc:
            self._unrecorded(exc)

    def _unrecorded(self, exc: AgioError, error: RunError | None = None) -> None:
        """The store could not record how the run ended (e.g. the disk is full)."""
        log.info("run %s: cannot record its end: %s", self.run.id, exc.message)
        if self._end_recorded:
            return  # only the end event is missing: readers rebuild it from the record
        # As stored, the run is `running` without a live owner, that is `interrupted`: it
        # resumes from its last checkpoint once the store can be written again.
        self.run.status = "interrupted"
        self.run.owner = None
        self.run.finished_at = None
        self.run.error = error or RunError(type="store_error", message=exc.message)

    async def _watch_control(self, stop: asyncio.Event) -> None:
        """Watch the store for pause/cancel asked by other processes, and keep a heartbeat."""
        last_beat = time.monotonic()
        while not stop.is_set():
            await self._wait_for_control(stop)
            if stop.is_set():
                return
            try:
                request = await self.store.get_control(self.run.id)
                if request is not None and request.action == "cancel":
                    self.stop("cancel", request.reason or "cancelled")
                elif request is not None and request.action == "pause":
                    self.request_pause()
                if time.monotonic() - last_beat >= HEARTBEAT_EVERY_S and not self._end_recorded:
                    # Never once the run has stopped: a decider may have claimed it since.
                    last_beat = time.monotonic()
                    await self._save()
            except AgioError as exc:
                log.warning("run %s: control check failed: %s", self.run.id, exc)

    async def _wait_for_control(self, stop: asyncio.Event) -> None:
        """Until the run stops or a request may have come: the store polls (every
        CONTROL_POLL_S) or is woken by other processes (PostgreSQL: LISTEN/NOTIFY)."""
        waits = {
            asyncio.ensure_future(self.store.wait_for_control(self.run.id, HEARTBEAT_EVERY_S)),
            asyncio.ensure_future(stop.wait()),
        }
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
                if waiting.done() and not waiting.cancelled():
                    waiting.exception()  # retrieved: a store hiccup is retried next round

    # the loop

    async def _drive(self) -> None:
        _, model_name = split_model(self.agent.model)
        provider = self.providers.get(self.agent.model)
        # The agent's MCP servers and approval rules are read from its definition now (they
        # are not in checkpoints: server headers may hold secrets).
        definition = await self.store.get_agent(self.agent.agent_id)
        toolbox, cut = await self._unless_paused(
            build_toolbox(
                self.agent.tools,
                definition.mcp_servers if definition else {},
                definition.approval if definition else {},
                self.mcp,
            )
        )
        if toolbox is None or cut:
            return await self._pause()
        self.toolbox = toolbox
        schemas = self.toolbox.schemas()  # once, not per step
        last = self.messages[-1] if self.messages else {}
        if self.mode == "resume" and last.get("role") == "assistant" and not last.get("tool_calls"):
            # Interrupted after its final answer was checkpointed: that answer is the response.
            return await self._complete(last.get("content") or "")

        while True:
            pending = pending_tool_calls(self.messages)
            if pending:
                if self.pause_requested:
                    return await self._pause()
                if await self._ask_for_approval(pending):
                    return None
                for call in pending:
                    if self.pause_requested:
                        return await self._pause()
                    await self._call_tool(call)
                self.run.pending_approvals, self.decisions = [], {}  # all used: written next
                await self._checkpoint()
                continue
            if self.pause_requested:
                return await self._pause()
            if self.run.metrics.steps >= self.agent.max_steps:
                raise MaxStepsExceeded(
                    f"the agent used its {self.agent.max_steps} steps without a final answer "
                    "(raise max_steps to allow more)"
                )
            response = await self._model_step(provider, model_name, schemas)
            if response is None:  # a pause cut the step: it is redone on resume
                return await self._pause()
            if not response.tool_calls:
                if self.pause_requested:
                    # Honoured even now: resuming completes with this stored answer.
                    return await self._pause()
                return await self._complete(response.content)

    async def _model_step(
        self, provider: Any, model_name: str, tools: list[dict[str, Any]]
    ) -> ModelResponse | None:
        """One model call; None if a pause cut it (the step is then void: see SPEC §4)."""
        self.step += 1
        self.run.metrics.steps += 1
        self.run.finish_reason = None  # a step that fails has no finish reason
        self.partial = []
        await self.log.emit(StepStarted(**self.log.envelope(), step=self.step))
        request = ModelRequest(
            model=model_name,
            messages=self.messages,
            tools=tools,
            params=self.agent.model_params,
        )
        response, cut = await self._unless_paused(self._stream(provider, request))
        if cut or response is None:
            await self.log.emit(
                StepDiscarded(**self.log.envelope(), step=self.step, reason="paused")
            )
            # The state is as before the step, which resuming does again.
            self.step -= 1
            self.run.metrics.steps -= 1
            self.partial = []
            return None
        self.messages.append(response.to_message())
        # Kept on the run, so a run paused or interrupted after its answer still says, once
        # completed, why that answer ended.
        self.run.finish_reason = response.finish_reason
        usage = response.usage
        self.run.metrics.add_usage(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)
        await self.log.emit(
            Usage(
                **self.log.envelope(),
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                total_tokens=usage.total_tokens,
                step=self.step,
            )
        )
        return response

    async def _stream(self, provider: Any, request: ModelRequest) -> ModelResponse:
        response: ModelResponse | None = None
        async for part in provider.stream(request):
            match part:
                case TextDelta(content=content):
                    if self.run.metrics.first_token_ms is None:
                        self.run.metrics.first_token_ms = self._elapsed_ms()
                    self.partial.append(content)
                    await self.log.emit(
                        ContentDelta(**self.log.envelope(), content=content, step=self.step)
                    )
                case ModelResponse():
                    response = part
        if response is None:
            raise ProviderError("the model stream ended without a response", "stream_error")
        return response

    def _policy_of(self, name: str) -> Policy | None:
        """The policy for calling `name` in this run (None: no such tool): the agent's,
        unless a decision remembered in this session turned an `ask` into a rule."""
        policy = self.toolbox.policies.get(name)
        if policy == "ask":
            return self.run.approval_rules.get(name, policy)
        return policy

    async def _ask_for_approval(self, pending: list[dict[str, Any]]) -> bool:
        """Stop the run `awaiting_approval` if calls of this step need a person's decision
        first (True); otherwise take the decisions made (if the run goes on after them) and
        return False, so the calls run in order."""
        # Decisions stay on the run record until the step's calls are done: a pause (or a
        # crash) between two of them must not lose the decisions of the rest.
        kept = decisions_for(pending, self.run.pending_approvals)
        for decided in kept:
            if decided.tool_call_id in self.decisions:
                continue
            self.decisions[decided.tool_call_id] = decided
            await self.log.emit(ToolApprovalResolved(**self.log.envelope(), **resolution(decided)))
        self.run.pending_approvals = kept
        asked = calls_to_ask(pending, self.decisions, self._policy_of, self.step)
        if not asked:
            return False
        for call in asked:
            await self.log.emit(
                ToolApprovalRequested(**self.log.envelope(), **call.model_dump(exclude=DECISION))
            )
        self.run.pending_approvals = [*kept, *asked]
        await self._end_with(self._record_awaiting([call.tool_call_id for call in asked]))
        return True

    async def _record_awaiting(self, tool_call_ids: list[str]) -> None:
        await self._settle("awaiting_approval", description="awaiting approval")
        await self.log.emit(
            RunAwaitingApproval(
                **self.log.envelope(),
                checkpoint_id=self.run.last_checkpoint_id or "",
                tool_call_ids=tool_call_ids,
            )
        )
        await self._sync_events()

    async def _call_tool(self, call: dict[str, Any]) -> None:
        function = call.get("function", {})
        name, arguments = function.get("name", ""), function.get("arguments") or "{}"
        await self.log.emit(
            ToolCallStarted(
                **self.log.envelope(),
                tool_call_id=call["id"],
                name=name,
                arguments=arguments,
                step=self.step,
            )
        )
        started = time.monotonic()
        tool = self.toolbox.tools.get(name)
        policy = self._policy_of(name)
        decided = self.decisions.get(call["id"])
        if tool is None:
            content, is_error = self.toolbox.missing(name), True
        elif policy == "deny":
            content, is_error = f"{name!r} is denied by this agent's approval policy", True
        elif decided is not None and decided.decision == "deny":
            content, is_error = denial(decided), True
        else:
            result = await tool.call(arguments, self.context)
            content, is_error = result.content, result.is_error
        duration_ms = int((time.monotonic() - started) * 1000)
        self.messages.append({"role": "tool", "tool_call_id": call["id"], "content": content})
        self.run.metrics.tool_calls += 1
        await self.log.emit(
            ToolCallCompleted(
                **self.log.envelope(),
                tool_call_id=call["id"],
                name=name,
                result=content,
                is_error=is_error,
                duration_ms=duration_ms,
                step=self.step,
            )
        )

    # checkpoints and persistence

    def _elapsed_ms(self) -> int:
        return int((time.monotonic() - self._segment_started) * 1000)

    # Writes are shielded from cancellation and serialised by `_save_lock`: a cancel that
    # lands mid-write must neither leave a half-recorded checkpoint nor let an older run
    # record land after the final one.

    async def _save(self) -> None:
        await asyncio.shield(self._locked(self._write_run))

    async def _locked(self, write: Callable[[], Awaitable[None]]) -> None:
        async with self._save_lock:
            await write()

    async def _write_run(self) -> None:
        self.run.metrics.duration_ms = self._base_duration_ms + self._elapsed_ms()
        self.run.updated_at = self.run.heartbeat_at = utcnow()
        await self.store.save_run(self.run.model_copy(deep=True))
        # Set here, inside the shielded write: a stop that lands just after it sees the end.
        self._end_recorded = self.run.status != "running"

    def _next_checkpoint(self, kind: CheckpointKind, description: str) -> CheckpointRecord:
        base = self.last_checkpoint
        return CheckpointRecord(
            id=checkpoint_id(self.run.id, self.run.checkpoint_count),
            run_id=self.run.id,
            step=self.step,
            kind=kind,
            description=description,
            agent=self.agent,
            metrics=self.run.metrics.model_dump(),
            parent_checkpoint_id=base.id if base else None,
            base_id=base.id if base else None,
            base_len=self.checkpointed if base else 0,
            new_messages=[dict(m) for m in self.messages[self.checkpointed if base else 0 :]],
        )

    def _checkpointed(self, record: CheckpointRecord) -> None:
        self.run.checkpoint_count += 1
        self.run.last_checkpoint_id = record.id
        self.last_checkpoint = record
        self.checkpointed = record.base_len + len(record.new_messages)

    async def _checkpoint(
        self,
        kind: CheckpointKind = "auto",
        description: str = "",
        *,
        ending: tuple[RunStatus, dict[str, Any]] | None = None,
    ) -> str:
        """Store a checkpoint of the state so far; with `ending`, the run ends with it (the
        run record is written once, ending and pointing at the checkpoint together)."""
        record = self._next_checkpoint(kind, description)

        async def write() -> None:
            await self._sync_events()
            await self.store.put_checkpoint(record)
            self._checkpointed(record)
            if ending is not None:
                self._end(*ending)
            await self._write_run()

        await asyncio.shield(self._locked(write))
        if ending is not None:
            await self.store.clear_control(self.run.id)
        await self._checkpoint_created(record.id)
        return record.id

    async def _checkpoint_created(self, checkpoint_id: str) -> None:
        await self.log.emit(
            CheckpointCreated(**self.log.envelope(), checkpoint_id=checkpoint_id, step=self.step)
        )

    async def _sync_events(self) -> None:
        await self.log.flush()
        await self.store.sync_events(self.run.id)

    def _end(self, status: RunStatus, changes: dict[str, Any]) -> None:
        self.run.status = status
        self.run.owner = None
        self.run.finished_at = utcnow() if status in {"completed", "failed", "cancelled"} else None
        for key, value in changes.items():
            setattr(self.run, key, value)

    async def _finish(self, status: RunStatus, **changes: Any) -> None:
        async def write() -> None:
            # Changed under the lock: a checkpoint write still in flight (a stop cuts the
            # loop, not the shielded write) must not pick up, or undo, this end.
            self._end(status, changes)
            await self._write_run()

        await asyncio.shield(self._locked(write))
        await self.store.clear_control(self.run.id)

    async def _settle(self, status: RunStatus, description: str = "", **changes: Any) -> None:
        """Record how the run ends (or pauses), with a checkpoint of any state not yet in one
        written together with it."""
        if self.last_checkpoint is not None and self.checkpointed == len(self.messages):
            await self._finish(status, **changes)
        else:
            await self._checkpoint(description=description, ending=(status, changes))

    async def _complete(self, content: str) -> None:
        await self._end_with(self._record_completed(content))

    async def _record_completed(self, content: str) -> None:
        await self._settle("completed", response=content)
        await self.log.emit(
            RunCompleted(
                **self.log.envelope(),
                response=content,
                finish_reason=self.run.finish_reason,
                # A copy: the event must not change with the run's metrics after it.
                metrics=self.run.metrics.model_copy(),
            )
        )
        await self._sync_events()

    async def _pause(self) -> None:
        await self._end_with(self._record_paused())

    async def _record_paused(self) -> None:
        await self._settle("paused", description="paused")
        await self.log.emit(
            RunPaused(**self.log.envelope(), checkpoint_id=self.run.last_checkpoint_id)
        )
        await self._sync_events()

    async def _cancel(self) -> None:
        partial = "".join(self.partial) or None
        await self._finish("cancelled", response=partial)
        await self.log.emit(
            RunCancelled(**self.log.envelope(), reason=self.cancel_reason or "cancelled")
        )
        await self._sync_events()

    async def _interrupt(self) -> None:
        # The process is going away: the last checkpoint is the state to resume from.
        await self._finish("interrupted")
        await self._sync_events()

    async def _fail(self, error_type: str, message: str) -> None:
        if self._end_recorded:  # e.g. its end event could not be logged: the end stands
            return
        await self._end_with(self._record_failed(error_type, message))

    async def _record_failed(self, error_type: str, message: str) -> None:
        partial = "".join(self.partial) or None
        error = RunError(type=error_type, message=message)
        try:
            await self._finish("failed", error=error, response=partial)
            await self.log.emit(RunFailed(**self.log.envelope(), error=error.model_copy()))
            await self._sync_events()
        except AgioError as exc:
            self._unrecorded(exc, error)
