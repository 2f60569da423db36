"""Tools an agent may call: built-ins, user functions by import path, and MCP servers' tools."""

from ._context import RunContext
from ._policy import Policy, resolve_policy
from ._registry import FunctionTool, Tool, ToolResult, tool_from_function
from .builtin import BUILTIN_TOOLS

__all__ = [
    "BUILTIN_TOOLS",
    "FunctionTool",
    "Policy",
    "RunContext",
    "Tool",
    "ToolResult",
    "resolve_policy",
    "tool_from_function",
]
