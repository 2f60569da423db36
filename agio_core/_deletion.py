"""Deleting runs without breaking the runs that remain (SPEC §4, Delete).

A checkpoint stores only the messages new since its base (`CheckpointRecord.base_id`), and
that base can belong to another run: the run before it in a session, or the checkpoint a fork
started from. Before a run goes, every checkpoint of another run whose base is one of its
checkpoints is rewritten to hold its whole history (`base_id=None`), so those runs, their
resumes, forks and restores no longer need the deleted one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from .checkpoints import CheckpointRecord, Message
from .errors import ConflictError, InvalidInputError, NotFoundError
from .ids import run_of_checkpoint
from .runs import DELETABLE, Run
from .store import Store

_ALL = 1_000_000_000

History = Callable[[CheckpointRecord], Awaitable[list[Message]]]


async def _dependents(store: Store, run: Run) -> list[Run]:
    """Runs that may build on `run`: its forks and the other runs of its session."""
    _, forks = await store.list_runs(parent_run_id=run.id, limit=_ALL)
    _, session = await store.list_runs(session_id=run.session_id, limit=_ALL)
    found = {r.id: r for r in [*forks, *session] if r.id != run.id}
    return list(found.values())


async def detach_dependents(store: Store, run: Run, history: History) -> int:
    """Rewrite the checkpoints of other runs that are based on `run`'s; return how many."""
    rewritten = 0
    for other in await _dependents(store, run):
        for record in await store.list_checkpoints(other.id):
            if record.base_id is None or run_of_checkpoint(record.base_id) != run.id:
                continue
            whole = await history(record)
            await store.put_checkpoint(
                record.model_copy(update={"base_id": None, "base_len": 0, "new_messages": whole})
            )
            rewritten += 1
    return rewritten


async def delete_run(store: Store, run: Run, history: History) -> None:
    """Delete `run` (as read, reconciled, by the caller) once nothing else needs it."""
    if run.status not in DELETABLE:
        raise ConflictError(
            f"run {run.id} is {run.status}; cancel it or let it finish before deleting it"
        )
    await detach_dependents(store, run, history)
    if not await store.delete_run(run.id, DELETABLE):
        current = await store.get_run(run.id)
        if current is None:
            raise NotFoundError(f"run not found: {run.id!r}")
        raise ConflictError(f"run {run.id} is {current.status} now; it was not deleted")


async def prune(
    store: Store,
    history: History,
    *,
    created_before: datetime | None,
    status: str | None,
    dry_run: bool,
) -> list[str]:
    """Delete the runs created before `created_before` (and in `status`), newest first:
    deleting a run's dependents before the run itself leaves less history to copy. Returns
    their ids; runs that cannot be deleted (running) are left alone."""
    if status is not None and status not in DELETABLE:
        raise InvalidInputError(
            f"status: {status} runs cannot be deleted; one of {', '.join(sorted(DELETABLE))}"
        )
    _, runs = await store.list_runs(status=status, created_before=created_before, limit=_ALL)
    deleted = []
    for run in runs:
        if run.status not in DELETABLE:
            continue
        if not dry_run:
            try:
                await delete_run(store, run, history)
            except (NotFoundError, ConflictError):  # deleted or resumed meanwhile
                continue
        deleted.append(run.id)
    return deleted
