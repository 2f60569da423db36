"""A run's checkpoints and its run record, as the driver writes them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ._runstate import RunState
from ._time import utcnow
from .checkpoints import CheckpointKind, CheckpointRecord
from .events import CheckpointCreated
from .ids import checkpoint_id
from .runs import Run, RunStatus


class Checkpointing(RunState):
    """Storing the state so far: checkpoints, the run record, the events before them.

    Writes are shielded from cancellation and serialised by `_save_lock`: a cancel that
    lands mid-write must neither leave a half-recorded checkpoint nor let an older run
    record land after the final one.
    """

    async def _save(self) -> None:
        await asyncio.shield(self._locked(self._write_run))

    async def _locked(self, write: Callable[[], Awaitable[None]]) -> None:
        async with self._save_lock:
            await write()

    async def _write_run(self) -> None:
        self._stamp()
        await self.store.save_run(self.run.model_copy(deep=True))
        # Set here, inside the shielded write: a stop that lands just after it sees the end.
        self._end_recorded = self.run.status != "running"

    def _stamp(self) -> None:
        """The run record's times as of this write."""
        self.run.metrics.duration_ms = self._base_duration_ms + self._elapsed_ms()
        self.run.updated_at = self.run.heartbeat_at = utcnow()

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

    def _restore(self, run: Run, last: CheckpointRecord | None, checkpointed: int) -> None:
        """Put the run's state back as it was before a write that failed (the run record is
        updated in place: others hold it)."""
        for name in type(run).model_fields:
            setattr(self.run, name, getattr(run, name))
        self.last_checkpoint, self.checkpointed = last, checkpointed

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
            await self.log.flush()
            # Shallow: what a failed write must put back is fields set whole (the ending's,
            # the checkpoint's); the metrics' times are stamped again by the next write.
            before = (self.run.model_copy(), self.last_checkpoint, self.checkpointed)
            self._checkpointed(record)
            if ending is not None:
                self._end(*ending)
            self._stamp()
            try:
                await self.store.save_checkpoint(record, self.run.model_copy(deep=True))
            except BaseException:
                # Not stored (or the record not written): the run must not go on to point
                # at a checkpoint that may not exist, nor look ended.
                self._restore(*before)
                raise
            self._end_recorded = self.run.status != "running"

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
        """Mark the run record as ended (or paused) with `status`: written by the caller."""
        self.run.status = status
        self.run.owner = None
        self.run.finished_at = utcnow() if status in {"completed", "failed", "cancelled"} else None
        for key, value in changes.items():
            setattr(self.run, key, value)
