"""agio's core: agents, runs, checkpoints and run control, behind one facade (`Agio`).

Importing this package is cheap: providers (and `openai`) load only when a run needs them.
"""

from ._facade import AgioFacade, RunHandleFacade
from ._version import __version__
from .agents import Agent, AgentSpec
from .approvals import ApprovalDecision, PendingApproval
from .checkpoints import Checkpoint, CheckpointSummary, MessageDiff, Modifications, TreeNode
from .errors import (
    AgioError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    ProviderError,
    StoreError,
)
from .events import (
    BaseEvent,
    CheckpointCreated,
    ContentDelta,
    Event,
    EventType,
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
    parse_event,
)
from .runs import Run, RunMetrics, RunStatus
from .service import Agio, Page, RunHandle
from .settings import Settings

__all__ = [
    "Agent",
    "AgentSpec",
    "Agio",
    "AgioError",
    "AgioFacade",
    "ApprovalDecision",
    "BaseEvent",
    "Checkpoint",
    "CheckpointCreated",
    "CheckpointSummary",
    "ConflictError",
    "ContentDelta",
    "Event",
    "EventType",
    "InvalidInputError",
    "MessageDiff",
    "Modifications",
    "NotFoundError",
    "Page",
    "PendingApproval",
    "ProviderError",
    "Run",
    "RunAwaitingApproval",
    "RunCancelled",
    "RunCompleted",
    "RunFailed",
    "RunHandle",
    "RunHandleFacade",
    "RunMetrics",
    "RunPaused",
    "RunResumed",
    "RunStarted",
    "RunStatus",
    "Settings",
    "StepDiscarded",
    "StepStarted",
    "StoreError",
    "ToolApprovalRequested",
    "ToolApprovalResolved",
    "ToolCallCompleted",
    "ToolCallStarted",
    "TreeNode",
    "Usage",
    "__version__",
    "parse_event",
]
