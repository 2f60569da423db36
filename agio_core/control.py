"""Run control: who drives a run, whether that driver is still alive, and the run state
machine (`RunControl`: reconcile, pause, cancel, wait, claim).

A running run records its owner (`host:pid`) and a heartbeat. Any process that reads a
`running` run whose owner is gone marks it `interrupted`, which makes it resumable. On the
owner's own host a dead pid is noticed at once; elsewhere a heartbeat older than
`STALE_AFTER_S` means the owner is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ._eventlog import EventLog, EventReader
from ._time import utcnow
from .approvals import ApprovalDecision, apply_decisions, recording, undecided
from .errors import ConflictError, NotFoundError, StoreError
from .ids import check_run_id
from .runs import FINISHED, RESUMABLE, RUN_STATUSES, WAITING, ControlRequest, Run, RunMetrics

if TYPE_CHECKING:
    from ._engine import Runner
    from .checkpoints import CheckpointRecord
    from .store import Store  # which imports this module's CONTROL_POLL_S

# A third of the time after which an owner counts as gone: two beats may be missed. Each
# beat rewrites the run's record; 500 runs beating every 5 s took ~5 % of `agio serve`'s
# event loop (bench/serve_capacity.py).
HEARTBEAT_EVERY_S = 10.0
STALE_AFTER_S = 30.0
CONTROL_POLL_S = 0.1
CONTROL_WAIT_S = 10.0  # how long pause and cancel wait, by default, for the run to stop

# Runs this process has claimed (created, resumed, rewound) and not yet let go: how a run
# owned by our own pid is told from an orphan.
LIVE_RUNS: set[str] = set()


@contextlib.contextmanager
def owning(run_id: str) -> Iterator[str]:
    """Claim `run_id` for this process, yielding the owner id to record on the run.

    The claim ends when the block fails; when it succeeds, the runner that now drives the run
    lets go of it (`release`) once it stops.
    """
    LIVE_RUNS.add(run_id)
    try:
        yield owner_id()
    except BaseException:
        release(run_id)
        raise


def release(run_id: str) -> None:
    LIVE_RUNS.discard(run_id)


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed child stays a zombie until its parent reaps it: dead all the same.
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def owner_alive(run: Run) -> bool:
    if run.owner is None:
        return False
    if run.heartbeat_at and utcnow() - run.heartbeat_at > timedelta(seconds=STALE_AFTER_S):
        return False
    host, _, pid_text = run.owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return run.id in LIVE_RUNS
    return _pid_alive(pid)


def claim(owner: str) -> dict[str, Any]:
    """The fields that make a run `running` under `owner` again (resume, decide, rewind)."""
    return {
        "status": "running",
        "owner": owner,
        "heartbeat_at": utcnow(),
        "updated_at": utcnow(),
        "finished_at": None,
        "error": None,
    }


class RunControl:
    """The run state machine, from any process: reconcile runs whose owner died, pause and
    cancel (asked through the store, acted on by the owner, or here for a run nobody
    drives), wait for a status, and the guards and claims of resume, decide and rewind.

    `runners` are the runs this process drives (run id → its `Runner`), kept by the facade.
    """

    def __init__(self, store: Store, runners: Mapping[str, Runner]) -> None:
        self.store = store
        self._runners = runners
        self.events = EventReader(store, self._live_log, self.get_run)

    def _live_log(self, run_id: str) -> EventLog | None:
        runner = self._runners.get(run_id)
        return runner.log if runner is not None else None

    # reading, with dead owners reconciled

    async def reconciled(self, run: Run) -> Run:
        """A `running` run whose owner is gone is `interrupted`: say so, durably."""
        if run.status != "running" or owner_alive(run):
            return run
        try:
            updated = await self.store.transition_run(
                run.id,
                {"running"},
                lambda current: (
                    {"status": "interrupted", "owner": None} if current.owner == run.owner else {}
                ),
            )
        except StoreError:  # e.g. the disk is full: reading must still work; record it later
            return run.model_copy(update={"status": "interrupted", "owner": None})
        return updated or run

    async def get_run(self, run_id: str) -> Run:
        run = await self.store.get_run(check_run_id(run_id))
        if run is None:
            raise NotFoundError(f"run not found: {run_id!r}")
        return await self.reconciled(run)

    async def interrupt_orphans(self) -> list[str]:
        """Mark every `running` run whose owner is gone `interrupted`; return their ids."""
        _, running = await self.store.list_runs(status="running", limit=10_000)
        reconciled = [await self.reconciled(run) for run in running]
        return [run.id for run in reconciled if run.status == "interrupted"]

    # waiting

    async def wait_for_status(self, run_id: str, statuses: set[str], timeout: float) -> Run:
        runner = self._runners.get(run_id)
        if runner is not None and runner.task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(runner.task), timeout)
            return await self.get_run(run_id)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            run = await self.get_run(run_id)
            if run.status in statuses or asyncio.get_running_loop().time() > deadline:
                return run
            await asyncio.sleep(CONTROL_POLL_S / 2)

    async def target(self, run_id: str) -> Run:
        """The run a control call acts on. A run of this process that has recorded its end
        is still logging it: wait for that, so that an answer saying the run has ended
        comes after its log says so too."""
        run = await self.get_run(run_id)
        runner = self._runners.get(run_id)
        if run.status != "running" and runner is not None and runner.task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(runner.task), CONTROL_WAIT_S)
            run = await self.get_run(run_id)
        return run

    # pause and cancel

    async def pause(self, run_id: str, *, wait: float = CONTROL_WAIT_S) -> Run:
        run = await self.target(run_id)
        if run.status != "running":
            raise ConflictError(f"run {run_id} is {run.status}; only a running run can be paused")
        # Stored even when the run is driven here: the control log says who asked whom.
        await self.store.request_control(
            run_id, ControlRequest(action="pause", requested_by=owner_id())
        )
        if runner := self._runners.get(run_id):
            runner.request_pause()
        if wait <= 0:
            return run
        # Awaiting approval counts: it stopped (durably) before the pause came to it.
        settled = await self.wait_for_status(run_id, {*WAITING, *FINISHED}, wait)
        if settled.status in FINISHED:
            # It ended before it came to a safe point: say so, as for a run already ended.
            raise ConflictError(f"run {run_id} {settled.status} before it could pause")
        return settled

    async def cancel(self, run_id: str, *, reason: str, wait: float = CONTROL_WAIT_S) -> Run:
        run = await self.target(run_id)
        if run.status in FINISHED:
            raise ConflictError(f"run {run_id} is already {run.status}")
        if run.status in WAITING:
            # Nobody drives it: cancel it here, atomically against a concurrent resume or
            # the decision that would continue it.
            cancelled = await self.store.transition_run(
                run_id,
                WAITING,
                {
                    "status": "cancelled",
                    "finished_at": utcnow(),
                    "updated_at": utcnow(),
                    "pending_approvals": [],
                },
            )
            if cancelled is None:
                return await self.cancel(run_id, reason=reason, wait=wait)
            await self.events.log_end(cancelled, run.status, reason)
            return cancelled
        await self.store.request_control(
            run_id, ControlRequest(action="cancel", reason=reason, requested_by=owner_id())
        )
        if runner := self._runners.get(run_id):
            runner.stop("cancel", reason)
        if wait <= 0:
            return run
        settled = await self.wait_for_status(run_id, {*FINISHED, *WAITING}, wait)
        if settled.status in WAITING:
            # It paused, began to wait for approval, or its process died, before it saw the
            # request: cancel it there.
            return await self.cancel(run_id, reason=reason, wait=wait)
        if settled.status in {"completed", "failed"}:
            # It ended otherwise before it could be cancelled: the answer says what the record
            # and the log say, as for a run that had ended before the call.
            raise ConflictError(f"run {run_id} {settled.status} before it could be cancelled")
        return settled

    # going on: the guards first, then the claim that makes this process the owner

    async def idle_session(self, session_id: str) -> Run | None:
        """The last run of `session_id`, which a new chat in it continues; a conflict while
        that run still runs or waits for approval."""
        _, previous = await self.store.list_runs(session_id=session_id, limit=1)
        if not previous:
            return None
        last = await self.reconciled(previous[0])
        if last.status == "running":
            raise ConflictError(f"session {session_id!r} is busy: run {last.id} is still running")
        if last.status == "awaiting_approval":
            raise ConflictError(
                f"session {session_id!r} is busy: run {last.id} is awaiting approval "
                f"(agio runs approve|deny {last.id}, or cancel it)"
            )
        return last

    async def resumable(self, run_id: str) -> Run:
        run = await self.get_run(run_id)
        if run.status == "awaiting_approval":
            raise ConflictError(
                f"run {run_id} is awaiting approval; it goes on once its tool calls are "
                f"decided (agio runs approve|deny {run_id})"
            )
        if run.status not in RESUMABLE:
            raise ConflictError(
                f"run {run_id} is {run.status}; only a paused or interrupted run can be resumed"
            )
        if run.last_checkpoint_id is None:
            raise ConflictError(f"run {run_id} has no checkpoint to resume from")
        return run

    async def decidable(
        self, run_id: str, decisions: list[ApprovalDecision], *, remember: bool
    ) -> Run:
        run = await self.get_run(run_id)
        if run.status != "awaiting_approval" or not undecided(run.pending_approvals):
            raise ConflictError(f"run {run_id} is {run.status}; no tool call waits for a decision")
        # Refuse unknown calls before anything is written (the write checks again).
        apply_decisions(run.pending_approvals, decisions, remember=remember, rules={})
        if run.last_checkpoint_id is None:
            raise ConflictError(f"run {run_id} has no checkpoint to continue from")
        return run

    async def rewindable(self, run_id: str) -> Run:
        run = await self.get_run(run_id)
        if run.status == "running":
            raise ConflictError(f"run {run.id} is running; pause or cancel it before rewinding it")
        return run

    async def claim(
        self,
        run_id: str,
        owner: str,
        statuses: set[str] | frozenset[str],
        refused: str,
        **fields: Any,
    ) -> Run:
        """Make `run_id` (in one of `statuses`) run under `owner`, with `fields` changed too;
        `refused` is the conflict's message when it is no longer in one of them."""
        claimed = await self.store.transition_run(run_id, statuses, {**claim(owner), **fields})
        if claimed is None:
            raise ConflictError(refused)
        await self.store.clear_control(run_id)
        return claimed

    async def claim_rewind(
        self, run_id: str, owner: str, source: CheckpointRecord, new_input: str | None
    ) -> Run:
        """Claim `run_id` to go on from its own earlier checkpoint `source`: what it answered
        since is gone; `new_input` is the new question, if the rewind changes it."""
        return await self.claim(
            run_id,
            owner,
            {s for s in RUN_STATUSES if s != "running"},
            f"run {run_id} started running; try again when it stops",
            response=None,
            metrics=RunMetrics(**source.metrics),
            # The run answers the new question now: its record says so.
            **({"input": new_input} if new_input is not None else {}),
            pending_approvals=[],
        )

    async def record_decisions(
        self, run_id: str, owner: str, decisions: list[ApprovalDecision], *, remember: bool
    ) -> Run | None:
        """Store `decisions`; the one that leaves no call undecided claims the run for
        `owner` (returned). None while calls are undecided (the claim is let go)."""
        decided = recording(decisions, remember=remember, claim=claim(owner))
        updated = await self.store.transition_run(run_id, {"awaiting_approval"}, decided)
        if updated is None or updated.status == "awaiting_approval":
            release(run_id)
            if updated is None:
                raise ConflictError(
                    f"run {run_id} is no longer awaiting approval (cancelled, or its last "
                    "call was decided by someone else)"
                )
            return None
        await self.store.clear_control(run_id)
        return updated
