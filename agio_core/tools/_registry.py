from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from ..errors import InvalidInputError
from ._context import RunContext
from ._policy import Policy

IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
MAX_RESULT_CHARS = 20_000


@dataclass(frozen=True)
class ToolResult:
    content: str
    is_error: bool = False


def truncated(text: str, limit: int = MAX_RESULT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[truncated: {len(text)} characters in all]"


class Tool(ABC):
    """Something the model can call: a name, a description, a JSON schema, and `call`."""

    name: str
    description: str
    # where it comes from: "builtin", "python" (module:function) or "mcp:SERVER"
    source: str
    # the approval policy when the agent's `approval` map says nothing about it
    default_policy: Policy

    @property
    @abstractmethod
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the arguments."""

    @abstractmethod
    async def call(self, arguments: str, ctx: RunContext) -> ToolResult:
        """Run on the model's JSON arguments; any failure is a result the model sees."""

    def openai_schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


def parse_arguments(arguments: str) -> dict[str, Any] | ToolResult:
    """The model's JSON arguments as an object, or the error result to give it."""
    try:
        raw = json.loads(arguments or "{}")
    except json.JSONDecodeError as exc:
        return ToolResult(f"invalid JSON arguments: {exc.msg}", is_error=True)
    if not isinstance(raw, dict):
        return ToolResult("arguments must be a JSON object", is_error=True)
    return raw


@dataclass(frozen=True)
class FunctionTool(Tool):
    """A Python function as a tool; its schema comes from its signature and docstring."""

    name: str
    description: str
    arguments_model: type[BaseModel]
    function: Callable[..., Any]
    source: str = "builtin"
    default_policy: Policy = "allow"
    takes_context: bool = False

    @property
    def parameters(self) -> dict[str, Any]:
        schema = self.arguments_model.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        return schema

    async def call(self, arguments: str, ctx: RunContext) -> ToolResult:
        raw = parse_arguments(arguments)
        if isinstance(raw, ToolResult):
            return raw
        try:
            parsed = self.arguments_model.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors()
            )
            return ToolResult(f"invalid arguments: {problems}", is_error=True)
        kwargs = {name: getattr(parsed, name) for name in type(parsed).model_fields}
        if self.takes_context:
            kwargs["ctx"] = ctx
        try:
            if inspect.iscoroutinefunction(self.function):
                value = await self.function(**kwargs)
            else:
                # Sync tools run in a thread so a slow one cannot stall streaming or control.
                value = await asyncio.to_thread(self.function, **kwargs)
        except Exception as exc:
            return ToolResult(f"{type(exc).__name__}: {exc}", is_error=True)
        if isinstance(value, ToolResult):
            return ToolResult(truncated(value.content), value.is_error)
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        return ToolResult(truncated(text))


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


def tool_from_function(
    function: Callable[..., Any],
    name: str | None = None,
    *,
    source: str = "builtin",
    default_policy: Policy = "allow",
) -> FunctionTool:
    """Describe a plain Python function as a tool: schema from signature and docstring.

    A first parameter named `ctx` receives the call's `RunContext` and is not in the schema.
    """
    from pydantic import Field

    summary, param_docs = _docstring_parts(function.__doc__ or "")
    fields: dict[str, Any] = {}
    parameters = list(inspect.signature(function).parameters.values())
    takes_context = bool(parameters) and parameters[0].name == "ctx"
    for param in parameters[1:] if takes_context else parameters:
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
    return FunctionTool(
        name=tool_name,
        description=summary or tool_name,
        arguments_model=model,
        function=function,
        source=source,
        default_policy=default_policy,
        takes_context=takes_context,
    )


def import_tool(path: str) -> FunctionTool:
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
        function = getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        raise InvalidInputError(f"tool {path!r} cannot be imported: {exc}") from None
    if not callable(function):
        raise InvalidInputError(f"tool {path!r} is not a function")
    return tool_from_function(function, name=attribute, source="python")
