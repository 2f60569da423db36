"""The run loop: one `Runner` drives a run in this process, step by step, under run control.

The loop and run control (pause, cancel, heartbeat) are here; the parts it is built from
are one module each: the model step (`_modelstep.py`), the tool calls and their approval gate
(`_toolcalls.py`), the run's end (`_ending.py`), checkpoints and the run record
(`_checkpointing.py`), and the state they share (`_runstate.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from ._eventlog import EventLog
from ._launch import Launch, Services
from ._modelstep import ModelStep
from ._runstate import StopReason
from ._toolcalls import ToolCalls, pending_tool_calls
from .approvals import PendingApproval
from .control import HEARTBEAT_EVERY_S, release
from .errors import AgioError, ProviderError
from .events import RunResumed, RunStarted
from .providers import split_model
from .runs import Run
from .tools import RunContext
from .tools._context import workspace_for
from .tools._toolbox import Toolbox, build_toolbox

log = logging.getLogger("agio")
T = TypeVar("T")


class MaxStepsExceeded(AgioError):
    pass


class Runner(ModelStep, ToolCalls):
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
            if asyncio.iscoroutine(work):
                work.close()  # never started: closed, so it is not reported as never awaited
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

    async def _watch_control(self, stop: asyncio.Event) -> None:
        """Watch the store for pause/cancel asked by other processes, and keep a heartbeat."""
        # The first beat somewhere in the first interval: runs started together (a burst of
        # chats to `agio serve`) would otherwise all rewrite their records at the same
        # moment, every interval, and hold up every stream's tokens meanwhile.
        next_beat = time.monotonic() + random.uniform(0, HEARTBEAT_EVERY_S)
        while not stop.is_set():
            await self._wait_for_control(stop, max(0.0, next_beat - time.monotonic()))
            if stop.is_set():
                return
            try:
                request = await self.store.get_control(self.run.id)
                if request is not None and request.action == "cancel":
                    self.stop("cancel", request.reason or "cancelled")
                elif request is not None and request.action == "pause":
                    self.request_pause()
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + HEARTBEAT_EVERY_S
                    if not self._end_recorded:  # once stopped, a decider may have claimed it
                        await self._save()
            except AgioError as exc:
                log.warning("run %s: control check failed: %s", self.run.id, exc)

    async def _wait_for_control(self, stop: asyncio.Event, timeout: float) -> None:
        """Until the run stops, a request may have come (the store polls every
        CONTROL_POLL_S or is woken by other processes: PostgreSQL's LISTEN/NOTIFY), or
        `timeout` s."""
        waits = {
            asyncio.ensure_future(self.store.wait_for_control(self.run.id, timeout)),
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
            request = await self._start_step(model_name, schemas)
            parts = provider.stream(request)
            # Closed however the step ends: cut short by a pause, its connection goes at once.
            async with contextlib.aclosing(parts):
                response, cut = await self._unless_paused(self._stream(parts))
            if cut or response is None:  # the step is void: it is redone on resume
                await self._discard_step()
                return await self._pause()
            await self._take_response(response)
            if not response.tool_calls:
                if self.pause_requested:
                    # Honoured even now: resuming completes with this stored answer.
                    return await self._pause()
                return await self._complete(response.content)
