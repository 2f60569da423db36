"""How a run ends (completes, pauses, fails, is cancelled or interrupted): its final record,
then its end event, once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from ._checkpointing import Checkpointing
from .errors import AgioError
from .events import RunCancelled, RunCompleted, RunFailed, RunPaused
from .runs import RunError, RunStatus

log = logging.getLogger("agio")


class Ending(Checkpointing):
    """The run's end: the record first (the truth), then its event, then the log synced.

    How it ends is decided once (`_ending`) and then carried out to the end whatever comes
    after: a stop arriving meanwhile neither cuts it halfway nor replaces it.
    """

    async def _end_with(self, ending: Coroutine[Any, Any, None]) -> None:
        """Carry out the run's end as a task of its own: a stop that comes meanwhile can
        neither cut it halfway (the record says `completed`, the log has no end) nor replace
        it (the record says `completed`, the log `run_cancelled`)."""
        self._ending = asyncio.ensure_future(ending)
        await asyncio.shield(self._ending)

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
