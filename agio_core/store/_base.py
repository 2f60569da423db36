"""The store contract. Every backend (TinyDB, PostgreSQL) implements exactly this.

Rules every backend keeps:
- A method returns only after its write is durable (acknowledged = on disk / committed).
- Writing a checkpoint costs the same whatever the step and however many runs exist:
  records hold only their new messages (see `CheckpointRecord`).
- `transition_run` is the only way to change a run's status from outside its owner: it is
  an atomic compare-and-set, so two processes can never both resume one run.
- Events of one run are appended by one writer at a time (the run's owner) in `seq` order.
- A checkpoint is never durable ahead of the events before it, nor a run record ahead of
  the checkpoint it points at: `save_checkpoint` writes the three in that order.
- `wait_for_events` and `wait_for_control` are optional: the defaults poll (sleep briefly);
  a backend that can be woken by other processes (PostgreSQL: LISTEN/NOTIFY) overrides them.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from ..agents import Agent
from ..checkpoints import CheckpointRecord
from ..control import CONTROL_POLL_S
from ..events import Event, parse_event, why_not_an_event
from ..runs import ControlRequest, Run

log = logging.getLogger("agio.store")

# Either the fields to set, or a function of the current run returning them (read-modify-write).
RunChanges = dict[str, Any] | Callable[[Run], dict[str, Any]]


def parse_logged(lines: Iterable[str | bytes], where: str) -> Iterator[Event]:
    """The events of a stored log, in either shape (see `parse_event`). A line that is no
    event this version knows (damaged, or a `type` from a newer agio) is skipped with a
    warning: one bad line must not make the whole run unreadable."""
    for number, line in enumerate(lines, 1):
        try:
            yield parse_event(line)
        except ValidationError as exc:
            log.warning("%s, event %d: skipped, %s", where, number, why_not_an_event(exc))


class Skipped:
    """Says once, as a warning, that a damaged record was left out: a damaged file or row
    spoils only its own run (or agent), and readers go on without it."""

    def __init__(self) -> None:
        self._warned: set[str] = set()

    def __call__(self, problem: str) -> None:
        if problem not in self._warned:
            self._warned.add(problem)
            log.warning("skipped: %s", problem)


class Damage(BaseModel):
    """A stored file (or row) that cannot be read: what `agio store check` reports."""

    path: str
    problem: str
    moved_to: str | None = None  # where `--repair` put it


class Store(ABC):
    async def open(self) -> None:  # noqa: B027 - optional hook
        """Create what is missing (directories, schema)."""

    async def reconcile(self) -> int:
        """Bring derived data (a run listing) back in line with the records after a crash;
        returns how many things it fixed. Called when the store opens and by the server's
        sweeper. The default has nothing derived to fix."""
        return 0

    async def check(self, *, repair: bool = False) -> list[Damage]:
        """Report what cannot be read; with `repair`, move it aside where the backend can."""
        return []

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and file handles."""

    # agents
    @abstractmethod
    async def get_agent(self, agent_id: str) -> Agent | None: ...

    @abstractmethod
    async def put_agent(self, agent: Agent) -> None: ...

    @abstractmethod
    async def delete_agent(self, agent_id: str) -> bool: ...

    @abstractmethod
    async def list_agents(self, tag: str | None = None) -> list[Agent]: ...

    # runs
    @abstractmethod
    async def create_run(self, run: Run, first_checkpoint: CheckpointRecord | None = None) -> None:
        """Store a new run; with `first_checkpoint`, the checkpoint it starts from, in the
        same write (the checkpoint first: the run never points at a missing one)."""

    @abstractmethod
    async def save_run(self, run: Run) -> None:
        """Write the owner's view of a run (progress, metrics, final state)."""

    async def save_checkpoint(self, record: CheckpointRecord, run: Run) -> None:
        """What a run's owner writes at each checkpoint, in this order: the events appended
        so far made durable, the checkpoint, then the run record that points at it. A
        backend overrides it to do all three in one write (one thread hop, one transaction)."""
        await self.sync_events(run.id)
        await self.put_checkpoint(record)
        await self.save_run(run)

    @abstractmethod
    async def get_run(self, run_id: str) -> Run | None: ...

    @abstractmethod
    async def transition_run(
        self, run_id: str, expected: Collection[str], changes: RunChanges
    ) -> Run | None:
        """Atomically apply `changes` if the run's status is in `expected`; else None."""

    @abstractmethod
    async def list_runs(
        self,
        *,
        agent_id: str | None = None,
        status: str | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
        parent_run_id: str | None = None,
        search: str | None = None,
        created_before: datetime | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[int, list[Run]]:
        """Newest first; returns (total matching, page). `search` matches the input or the
        response, ignoring case; `created_before` keeps runs created before that moment."""

    @abstractmethod
    async def delete_run(self, run_id: str, expected: Collection[str]) -> bool:
        """Delete the run, its checkpoints, events and control requests, atomically against
        `transition_run`, if its status is in `expected`; False if not (or no such run).
        Other runs' checkpoints that build on this run's must have been rewritten first."""

    # checkpoints
    @abstractmethod
    async def put_checkpoint(self, record: CheckpointRecord) -> None: ...

    @abstractmethod
    async def get_checkpoint(self, checkpoint_id: str) -> CheckpointRecord | None: ...

    @abstractmethod
    async def list_checkpoints(self, run_id: str) -> list[CheckpointRecord]:
        """In creation order."""

    @abstractmethod
    async def page_checkpoints(
        self, run_id: str, *, limit: int, offset: int = 0
    ) -> tuple[int, list[CheckpointRecord]]:
        """A page of `list_checkpoints`: (how many the run has, the page); reads only the
        page's records."""

    @abstractmethod
    async def mark_superseded(self, run_id: str, checkpoint_ids: Collection[str]) -> None: ...

    # events
    @abstractmethod
    async def append_events(self, run_id: str, events: list[Event]) -> None: ...

    @abstractmethod
    async def read_events(self, run_id: str, after_seq: int = 0) -> list[Event]: ...

    @abstractmethod
    async def sync_events(self, run_id: str) -> None:
        """Make appended events durable (called before each checkpoint and at the end)."""

    # cross-process control
    @abstractmethod
    async def request_control(self, run_id: str, request: ControlRequest) -> None: ...

    @abstractmethod
    async def get_control(self, run_id: str) -> ControlRequest | None: ...

    @abstractmethod
    async def clear_control(self, run_id: str) -> None: ...

    # cross-process wakeups (optional)
    async def wait_for_events(self, run_id: str, after_seq: int, timeout: float) -> None:
        """Return once events after `after_seq` may exist, or after at most `timeout` s.

        Never raises for a store problem, and may return early: callers read again. The
        default just sleeps a poll interval.
        """
        await asyncio.sleep(min(timeout, CONTROL_POLL_S))

    async def wait_for_control(self, run_id: str, timeout: float) -> None:
        """Return once a control request for `run_id` may have arrived, or after `timeout` s.

        Same rules as `wait_for_events`; the default sleeps a poll interval.
        """
        await asyncio.sleep(min(timeout, CONTROL_POLL_S))
