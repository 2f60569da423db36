"""`Agio`: the one facade that the CLI, the TUI and the HTTP API all call.

Everything is async. Runs started here are driven by background tasks of this process;
runs driven by other processes are reached through the store (control requests, events
log, heartbeats), so every method works whichever process owns the run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from . import _deletion
from ._agent_registry import AgentRegistry
from ._engine import Runner
from ._history import History
from ._launch import Launch, Services, chat_agent
from ._time import utcnow
from .agents import (
    Agent,
    AgentSpec,
    load_agent_file,
)
from .approvals import ApprovalDecision
from .attachments import Attachment, user_content
from .checkpoints import (
    Checkpoint,
    CheckpointRecord,
    CheckpointSummary,
    Message,
    MessageDiff,
    Modifications,
    TreeNode,
)
from .control import CONTROL_WAIT_S, RunControl, owning
from .errors import InvalidInputError
from .events import Event
from .ids import (
    check_session_id,
    check_user_id,
    new_run_id,
    new_session_id,
)
from .models import ModelCatalog, list_models
from .providers import Providers
from .runs import (
    RESUMABLE,
    RUN_STATUSES,
    Run,
)
from .settings import Settings
from .store import Damage, Store, open_store
from .tools._mcp import McpPool
from .tools._toolbox import ToolInfo

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    total: int
    items: list[T]
    limit: int
    offset: int


class RunHandle:
    """A run started or resumed by this process: its events as they happen, and its end."""

    def __init__(self, agio: Agio, runner: Runner) -> None:
        self._agio = agio
        self._runner = runner
        self.run_id = runner.run.id

    @property
    def first_seq(self) -> int:
        """The seq of the first event of this stretch of the run (run_started or run_resumed)."""
        return self._runner.log.first_seq

    def events(self, after_seq: int = 0) -> AsyncIterator[Event]:
        return self._agio.events(self.run_id, after_seq=after_seq)

    async def wait(self) -> Run:
        assert self._runner.task is not None
        return await asyncio.shield(self._runner.task)

    async def cancel(self, reason: str = "cancelled by user") -> Run:
        return await self._agio.cancel_run(self.run_id, reason=reason)

    async def pause(self) -> Run:
        return await self._agio.pause_run(self.run_id)

    async def decide(
        self, decisions: list[ApprovalDecision], *, remember: bool = False
    ) -> RunHandle | None:
        return await self._agio.decide_and_continue(self.run_id, decisions, remember=remember)


class Agio:
    """The facade: each call checks its input and hands the work to the module of its
    concept (agents, run control, the event log, history, the runner)."""

    def __init__(
        self, settings: Settings | None = None, store: Store | None = None, *, serving: bool = False
    ) -> None:
        self.settings = settings or Settings()
        self.store = store or open_store(self.settings)
        self.providers = Providers(self.settings)
        # MCP servers started by this process's runs, kept for its later runs.
        self.mcp = McpPool(self.settings)
        # True behind `agio serve`: tools then treat the network as someone else's (fetch).
        self.serving = serving
        self._services = Services(self.settings, self.store, self.providers, self.mcp, serving)
        self._runners: dict[str, Runner] = {}
        self._control = RunControl(self.store, self._runners)
        self._events = self._control.events
        self._history = History(self.store, self.get_run)
        self._agents = AgentRegistry(self.store, self.settings)
        self._opened = False

    async def __aenter__(self) -> Agio:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        if not self._opened:
            await self.store.open()
            self._opened = True

    async def close(self) -> None:
        """Stop the runs this process drives: each is left `interrupted` at its last checkpoint."""
        runners = list(self._runners.values())
        for runner in runners:
            runner.stop("shutdown")
        for runner in runners:
            if runner.task is not None:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await runner.task
        await self.providers.aclose()
        await self.mcp.aclose()
        await self.store.close()
        self._opened = False

    # agents

    async def get_agent(self, agent_id: str) -> Agent:
        return await self._agents.get(agent_id)

    async def list_agents(
        self, tag: str | None = None, limit: int = 20, offset: int = 0
    ) -> Page[Agent]:
        agents = await self._agents.listed(tag)
        return Page(
            total=len(agents), items=agents[offset : offset + limit], limit=limit, offset=offset
        )

    async def create_agent(
        self, spec: AgentSpec | dict[str, Any], *, replace: bool = False
    ) -> Agent:
        return await self._agents.create(spec, replace=replace)

    async def update_agent(self, agent_id: str, spec: AgentSpec | dict[str, Any]) -> Agent:
        return await self._agents.update(agent_id, spec)

    async def list_tools(
        self, agent_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> Page[ToolInfo]:
        """The tools agent `agent_id` can use, with where each comes from and its approval
        policy (its MCP servers are started to list theirs); without an agent, every
        built-in tool with its default policy."""
        items = await self._agents.tools(agent_id, self.mcp)
        return Page(
            total=len(items), items=items[offset : offset + limit], limit=limit, offset=offset
        )

    async def delete_agent(self, agent_id: str) -> None:
        await self._agents.delete(agent_id)

    async def create_agent_from_file(self, path: Any, *, replace: bool = False) -> Agent:
        return await self.create_agent(load_agent_file(Path(path)), replace=replace)

    # models

    async def list_models(self) -> ModelCatalog:
        """The offline models and what the OpenAI-compatible server lists (with a note if it
        does not answer)."""
        return await list_models(self.settings)

    # runs: reading

    async def get_run(self, run_id: str) -> Run:
        return await self._control.get_run(run_id)

    async def list_runs(
        self,
        *,
        agent_id: str | None = None,
        status: str | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
        search: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> Page[Run]:
        """Newest first; `search` finds text in the input or the answer, ignoring case."""
        if status is not None and status not in RUN_STATUSES:
            raise InvalidInputError(f"status: must be one of {', '.join(RUN_STATUSES)}")
        if status in {"running", "interrupted"}:
            # The listing says `running` for runs whose process died; find those first.
            await self.interrupt_orphans()
        total, runs = await self.store.list_runs(
            agent_id=agent_id,
            status=status,
            session_id=session_id,
            user_id=None if user_id is None else check_user_id(user_id),
            search=search or None,
            limit=limit,
            offset=offset,
        )
        items = [await self._control.reconciled(run) for run in runs]
        return Page(total=total, items=items, limit=limit, offset=offset)

    async def delete_run(self, run_id: str) -> None:
        """Delete a run that is not running; runs that build on it keep working."""
        await _deletion.delete_run(
            self.store, await self.get_run(run_id), self._history.messages_of
        )

    async def prune_runs(
        self,
        *,
        older_than: timedelta | None = None,
        status: str | None = None,
        dry_run: bool = False,
    ) -> list[str]:
        """Delete the runs created more than `older_than` ago (and in `status`), newest
        first; return their ids. Runs that cannot be deleted (running) are left alone."""
        await self.interrupt_orphans()
        before = utcnow() - older_than if older_than is not None else None
        return await _deletion.prune(
            self.store,
            self._history.messages_of,
            created_before=before,
            status=status,
            dry_run=dry_run,
        )

    async def interrupt_orphans(self) -> list[str]:
        """Mark every `running` run whose owner is gone `interrupted`; return their ids.

        Reading a run does this lazily; a server calls it periodically so that runs of a
        worker that died show up as resumable without anyone looking at them first.
        """
        return await self._control.interrupt_orphans()

    async def check_store(self, *, repair: bool = False) -> list[Damage]:
        """Files (or rows) of the store that cannot be read; with `repair`, moved aside."""
        return await self.store.check(repair=repair)

    async def latest_session(self) -> str | None:
        _, runs = await self.store.list_runs(limit=1)
        return runs[0].session_id if runs else None

    async def events(
        self, run_id: str, *, after_seq: int = 0, follow: bool = True
    ) -> AsyncIterator[Event]:
        """The run's events after `after_seq`; with `follow`, wait for more until it stops.
        A finished run's events always end with its terminal event."""
        async for batch in self.event_batches(run_id, after_seq=after_seq, follow=follow):
            for event in batch:
                yield event

    def event_batches(
        self, run_id: str, *, after_seq: int = 0, follow: bool = True, coalesce_s: float = 0.0
    ) -> AsyncGenerator[list[Event]]:
        """`events()`, in batches of whatever was there to read: a relay that writes each
        batch at once pays per batch, not per token. With `coalesce_s`, the events after a
        batch of tokens pile up for up to that long (or until `COALESCE_MAX_EVENTS` have, or
        the stream ends: `EventLog.follow`)."""
        return self._events.batches(
            run_id, after_seq=after_seq, follow=follow, coalesce_s=coalesce_s
        )

    # runs: starting

    async def _start(self, launch: Launch) -> RunHandle:
        runner = Runner(self._services, launch)
        await runner.prepare()
        run_id = launch.run.id
        self._runners[run_id] = runner
        runner.task = asyncio.create_task(runner.execute(), name=f"agio-run-{run_id}")
        runner.task.add_done_callback(lambda _: self._runners.pop(run_id, None))
        return RunHandle(self, runner)

    async def start_chat(
        self,
        agent_id: str,
        message: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        workspace: str | None = None,
        model: str | None = None,
        system_prompt: str | None = None,
        model_params: dict[str, Any] | None = None,
        attachments: list[Attachment] | None = None,
    ) -> RunHandle:
        """Start a run answering `message`; with `session_id`, continue that conversation;
        `user_id` is recorded on the run (the caller's name for its user).

        `workspace` replaces the agent's workspace folder for this run (`chat --workspace`);
        `model`, `system_prompt` and `model_params` change the agent for this run only (the
        run's checkpoints record them); `model_params` are checked for the model's provider.
        """
        if user_id is not None:
            check_user_id(user_id)
        snapshot = chat_agent(
            await self.get_agent(agent_id),
            model=model,
            system_prompt=system_prompt,
            model_params=model_params,
            workspace=workspace,
        )
        last = None
        if session_id is not None:
            last = await self._control.idle_session(check_session_id(session_id))
        base: CheckpointRecord | None = None
        previous: list[Message] = []
        if last is not None and last.last_checkpoint_id:
            base, previous = await self._history.state_at(last.last_checkpoint_id)
        content = user_content(message, attachments or [])
        run_id = new_run_id()
        with owning(run_id) as owner:
            run = Run(
                id=run_id,
                agent_id=snapshot.agent_id,
                session_id=session_id or new_session_id(),
                user_id=user_id,
                input=message,
                owner=owner,
                heartbeat_at=utcnow(),
                # `remember` holds for the whole session
                approval_rules=dict(last.approval_rules) if last is not None else {},
            )
            # Stores the run with its first checkpoint.
            launch = Launch.new_chat(run, snapshot, content, base=base, previous=previous)
            return await self._start(launch)

    async def chat(
        self, agent_id: str, message: str, *, session_id: str | None = None, **options: Any
    ) -> Run:
        """`start_chat` (same options), waiting for the run to stop."""
        handle = await self.start_chat(agent_id, message, session_id=session_id, **options)
        return await handle.wait()

    # runs: control

    async def pause_run(self, run_id: str, *, wait: float = CONTROL_WAIT_S) -> Run:
        """Ask the run to pause now (a model stream is cut, a tool call finishes first);
        wait up to `wait` s for it to do so."""
        return await self._control.pause(run_id, wait=wait)

    async def cancel_run(
        self, run_id: str, *, reason: str = "cancelled by user", wait: float = CONTROL_WAIT_S
    ) -> Run:
        return await self._control.cancel(run_id, reason=reason, wait=wait)

    async def resume_run(self, run_id: str) -> RunHandle:
        """Continue a paused or interrupted run from its last checkpoint, in this process."""
        run = await self._control.resumable(run_id)
        assert run.last_checkpoint_id is not None
        record, messages = await self._history.state_at(run.last_checkpoint_id)
        with owning(run_id) as owner:
            claimed = await self._control.claim(
                run_id, owner, RESUMABLE, f"run {run_id} was resumed or cancelled by someone else"
            )
            return await self._resume(claimed, record, messages, run.status)

    async def decide(
        self,
        run_id: str,
        decisions: list[ApprovalDecision] | list[dict[str, Any]],
        *,
        remember: bool = False,
    ) -> Run:
        """Decide tool calls the run waits on (see `decide_and_continue`); returns the run:
        `awaiting_approval` while calls are undecided, else going on in this process."""
        await self.decide_and_continue(run_id, decisions, remember=remember)
        return await self.get_run(run_id)

    async def decide_and_continue(
        self,
        run_id: str,
        decisions: list[ApprovalDecision] | list[dict[str, Any]],
        *,
        remember: bool = False,
    ) -> RunHandle | None:
        """Approve or deny tool calls that the run waits on, from any process.

        Each decision is stored at once (a later one for the same call replaces it); with
        `remember`, it also becomes a rule for the tool for the rest of the session. The
        decision that leaves no call undecided claims the run for this process, which
        continues it like `resume_run`: approved calls run, denied ones get an error result
        carrying the reason. Returns the continuation, or None while calls are undecided.
        """
        parsed = [ApprovalDecision.model_validate(d) for d in decisions]
        run = await self._control.decidable(run_id, parsed, remember=remember)
        assert run.last_checkpoint_id is not None
        record, messages = await self._history.state_at(run.last_checkpoint_id)
        with owning(run_id) as owner:
            updated = await self._control.record_decisions(run_id, owner, parsed, remember=remember)
            if updated is None:
                return None
            return await self._resume(updated, record, messages, "awaiting_approval")

    async def _resume(
        self, claimed: Run, record: CheckpointRecord, messages: list[Message], status: str
    ) -> RunHandle:
        """Drive `claimed` on from its last checkpoint `record`, its events after those of
        the stretch that left it in `status`."""
        last_seq = await self._events.end_seq(claimed.id, status)
        return await self._start(Launch.resume(claimed, record, messages, last_seq=last_seq))

    # checkpoints

    async def list_checkpoints(
        self, run_id: str, *, limit: int = 20, offset: int = 0
    ) -> Page[CheckpointSummary]:
        """A page of the run's checkpoints, oldest first, with how many it has in all."""
        total, items = await self._history.page(run_id, limit=limit, offset=offset)
        return Page(total=total, items=items, limit=limit, offset=offset)

    async def get_checkpoint(self, checkpoint_id_: str) -> Checkpoint:
        return await self._history.checkpoint(checkpoint_id_)

    async def create_checkpoint(
        self, run_id: str, *, description: str = "", tags: list[str] | None = None
    ) -> CheckpointSummary:
        """A manual checkpoint of the run's current state (the run must not be running)."""
        return await self._history.add_manual(run_id, description=description, tags=tags or [])

    async def restore_checkpoint(
        self,
        checkpoint_id_: str,
        *,
        create_new_run: bool = True,
        modifications: Modifications | dict[str, Any] | None = None,
    ) -> RunHandle:
        """Continue from a checkpoint: in a new run, or by rewinding its own run."""
        mods = Modifications.parse(modifications)
        if create_new_run:
            return await self.fork_checkpoint(checkpoint_id_, modifications=mods)
        source = await self._history.record(checkpoint_id_)
        planned = await self._history.continuation(source, mods)
        run = await self._control.rewindable(source.run_id)
        later = await self._history.later_than(source)
        with owning(run.id) as owner:
            claimed = await self._control.claim_rewind(run.id, owner, source, mods.modified_query)
            await self.store.mark_superseded(run.id, later)
            last_seq = await self._events.end_seq(run.id, run.status)
            return await self._start(Launch.rewind(claimed, source, planned, last_seq=last_seq))

    async def fork_checkpoint(
        self, checkpoint_id_: str, *, modifications: Modifications | dict[str, Any] | None = None
    ) -> RunHandle:
        """Continue from a checkpoint in a new run; the source run is left untouched."""
        mods = Modifications.parse(modifications)
        source = await self._history.record(checkpoint_id_)
        planned = await self._history.continuation(source, mods)
        parent = await self.get_run(source.run_id)
        run_id = new_run_id()
        with owning(run_id) as owner:
            run = Run(
                id=run_id,
                agent_id=parent.agent_id,
                session_id=new_session_id(),
                user_id=parent.user_id,
                input=mods.modified_query or parent.input,
                parent_run_id=parent.id,
                from_checkpoint_id=source.id,
                owner=owner,
                heartbeat_at=utcnow(),
            )
            # Stores the run with its first checkpoint.
            return await self._start(Launch.fork(run, source, planned))

    async def checkpoint_tree(self, run_id: str) -> TreeNode:
        """The fork tree that `run_id` belongs to, from its root run down."""
        return await self._history.tree(run_id)

    async def diff_checkpoints(self, a: str, b: str) -> MessageDiff:
        return await self._history.diff(a, b)
