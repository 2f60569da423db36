"""What the parts of a run's driver share: the state one `Runner` holds while it drives a run.

`Runner` (`_engine.py`) is built from one part per concept, each in its own module: the model
step (`_modelstep.py`), the tool calls and their approval gate (`_toolcalls.py`), checkpoints
and the run record (`_checkpointing.py`) and the run's end (`_ending.py`). They work on this
one state, set by `Runner.__init__`; this class only declares it, for the type checker and for
the reader.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

from ._eventlog import EventLog
from .approvals import PendingApproval
from .checkpoints import AgentSnapshot, CheckpointRecord, Message
from .runs import Run
from .store import Store
from .tools import RunContext
from .tools._toolbox import Toolbox

StopReason = Literal["cancel", "shutdown"]


class RunState:
    store: Store
    run: Run
    agent: AgentSnapshot
    log: EventLog
    messages: list[Message]
    step: int
    last_checkpoint: CheckpointRecord | None
    checkpointed: int  # how many of `messages` the last checkpoint holds
    partial: list[str]  # the text streamed so far in this step
    toolbox: Toolbox
    context: RunContext
    decisions: dict[str, PendingApproval]
    stop_reason: StopReason | None
    cancel_reason: str
    _save_lock: asyncio.Lock
    _segment_started: float
    _base_duration_ms: int
    _end_recorded: bool
    _ending: asyncio.Task[None] | None

    def _elapsed_ms(self) -> int:
        """Time spent driving the run in this process so far."""
        return int((time.monotonic() - self._segment_started) * 1000)
