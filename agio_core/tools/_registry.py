from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from ..errors import InvalidInputError

IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
MAX_RESULT_CHARS = 20_000


@dataclass(frozen=True)
class ToolResult:
    content: str
    is_error: bool = False


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    arguments_model: type[BaseModel]
    function: Callable[..., Any]

    @property
    def parameters(self) -> dict[str, Any]:
        schema = self.arguments_model.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        return schema

    def openai_schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    async def call(self, arguments: str) -> ToolResult:
        """Run the tool on the model's JSON arguments; any failure is a result the model sees."""
        try:
            raw = json.loads(arguments or "{}")
        except json.JSONDecodeError as exc:
            return ToolResult(f"invalid JSON arguments: {exc.msg}", is_error=True)
        if not isinstance(raw, dict):
            return ToolResult("arguments must be a JSON object", is_error=True)
        try:
            parsed = self.arguments_model.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors()
            )
            return ToolResult(f"invalid arguments: {problems}", is_error=True)
        kwargs = {name: getattr(parsed, name) for name in type(parsed).model_fields}
        try:
            if inspect.iscoroutinefunction(self.function):
                value = await self.function(**kwargs)
            else:
                # Sync tools run in a thread so a slow one cannot stall streaming or control.
                value = await asyncio.to_thread(self.function, **kwargs)
        except Exception as exc:
            return ToolResult(f"{type(exc).__name__}: {exc}", is_error=True)
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        if len(text) > MAX_RESULT_CHARS:
            text = text[:MAX_RESULT_CHARS] + f"\n[truncated: {len(text)} characters in all]"
        return ToolResult(text)


def _docstring_parts(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into its summary and its `Args:` descriptions."""
    summary_lines: list[str] = []
    params: dict[str, str] = {}
    in_args = False
    current: str | None = None
    for line in inspect.cleandoc(doc).splitlines():
        stripped = line.strip()
        if stripped in {"Args:", "Arguments:", "Parameters:"}:
            in_args = True
            continue
        if in_args:
            match = re.match(r"^(\w+)\s*(?:\([^)]*\))?:\s*(.*)$", stripped)
            if match and line.startswith((" ", "\t")):
                current = match.group(1)
                params[current] = match.group(2)
            elif stripped and current and line.startswith((" ", "\t")):
                params[current] += " " + stripped
            elif stripped.endswith(":"):
                in_args = False
        elif not params:
            summary_lines.append(line)
    return "\n".join(summary_lines).strip(), params


def tool_from_function(function: Callable[..., Any], name: str | None = None) -> Tool:
    """Describe a plain Python function as a tool: schema from signature and docstring."""
    from pydantic import Field

    summary, param_docs = _docstring_parts(function.__doc__ or "")
    fields: dict[str, Any] = {}
    for param in inspect.signature(function).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = Any if param.annotation is inspect.Parameter.empty else param.annotation
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (
            annotation,
            Field(default=default, description=param_docs.get(param.name)),
        )
    tool_name = name or function.__name__
    model = create_model(f"{tool_name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    return Tool(
        name=tool_name,
        description=summary or tool_name,
        arguments_model=model,
        function=function,
    )


def _import_tool(path: str) -> Tool:
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
        function = getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        raise InvalidInputError(f"tool {path!r} cannot be imported: {exc}") from None
    if not callable(function):
        raise InvalidInputError(f"tool {path!r} is not a function")
    return tool_from_function(function, name=attribute)


def check_tool_names(names: Iterable[str]) -> None:
    """Reject names that are neither a built-in nor a `module:function` path."""
    from .builtin import BUILTIN_TOOLS

    for name in names:
        if name not in BUILTIN_TOOLS and not IMPORT_PATH.match(name):
            known = ", ".join(sorted(BUILTIN_TOOLS))
            raise InvalidInputError(
                f"unknown tool {name!r}: use a built-in ({known}) or 'module:function'"
            )


def resolve_tools(names: Iterable[str]) -> dict[str, Tool]:
    from .builtin import BUILTIN_TOOLS

    names = list(names)
    check_tool_names(names)
    tools = {}
    for name in names:
        tool = BUILTIN_TOOLS[name] if name in BUILTIN_TOOLS else _import_tool(name)
        tools[tool.name] = tool
    return tools
