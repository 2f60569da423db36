"""Tools an agent may call: a registry of built-ins plus user functions by import path."""

from ._registry import Tool, ToolResult, resolve_tools, tool_from_function
from .builtin import BUILTIN_TOOLS

__all__ = ["BUILTIN_TOOLS", "Tool", "ToolResult", "resolve_tools", "tool_from_function"]
