"""agio's core: agents, runs, checkpoints and run control, behind one facade (`Agio`).

Importing this package is cheap: providers (and `openai`) load only when a run needs them.
"""

from ._version import __version__
from .agents import Agent, AgentSpec
from .checkpoints import Checkpoint, CheckpointSummary, MessageDiff, Modifications, TreeNode
from .errors import (
    AgioError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    ProviderError,
    StoreError,
)
from .events import Event, EventType
from .runs import Run, RunMetrics, RunStatus
from .service import Agio, Page, RunHandle
from .settings import Settings

__all__ = [
    "Agent",
    "AgentSpec",
    "Agio",
    "AgioError",
    "Checkpoint",
    "CheckpointSummary",
    "ConflictError",
    "Event",
    "EventType",
    "InvalidInputError",
    "MessageDiff",
    "Modifications",
    "NotFoundError",
    "Page",
    "ProviderError",
    "Run",
    "RunHandle",
    "RunMetrics",
    "RunStatus",
    "Settings",
    "StoreError",
    "TreeNode",
    "__version__",
]
