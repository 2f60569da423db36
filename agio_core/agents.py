"""Agents: what they are, and how they are read from YAML files."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ._time import utcnow
from .errors import InvalidInputError
from .tools._policy import Policy

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
MODEL_REF = re.compile(r"^[A-Za-z0-9_.-]+/\S+$")
DEFAULT_AGENT_ID = "assistant"
MAX_PARAMS_DEPTH = 32
MAX_PARAMS_ITEMS = 10_000


def check_json_params(value: dict[str, Any]) -> dict[str, Any]:
    """`model_params` are stored and sent to providers as JSON: plain JSON data, not too deep
    (deeper than the JSON encoders go would fail only when the agent is stored) and not too
    big (YAML aliases can make a small file expand to billions of items)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if seen > MAX_PARAMS_ITEMS:
            raise ValueError(f"too large (at most {MAX_PARAMS_ITEMS} values)")
        if depth > MAX_PARAMS_DEPTH:
            raise ValueError(f"nested too deeply (at most {MAX_PARAMS_DEPTH} levels)")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif item is not None and not isinstance(item, str | int | float | bool):
            raise ValueError(f"must be JSON data, not {type(item).__name__}")
    return value


SERVER_NAME = re.compile(r"^[A-Za-z0-9-]+(?:_[A-Za-z0-9-]+)*$")  # no "__": it separates the tool


class McpServer(BaseModel):
    """One MCP server: a command to start (stdio) or a URL (streamable HTTP)."""

    model_config = ConfigDict(extra="forbid")

    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_transport(self) -> McpServer:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either 'command' (a stdio server) or 'url' (streamable HTTP)")
        if self.url is not None:
            if self.args or self.env or self.cwd:
                raise ValueError("'args', 'env' and 'cwd' are for stdio servers ('command')")
            if not self.url.startswith(("http://", "https://")):
                raise ValueError("url: must start with http:// or https://")
        elif self.headers:
            raise ValueError("'headers' are for HTTP servers ('url')")
        elif not self.command:
            raise ValueError("command: must not be empty")
        return self

    @property
    def transport(self) -> Literal["stdio", "http"]:
        return "stdio" if self.command is not None else "http"


class AgentSpec(BaseModel):
    """The user-editable part of an agent: what a YAML file or a create request holds."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str = ""
    description: str = ""
    model: str
    model_params: dict[str, Any] = Field(default_factory=dict)
    system_prompt: str = "You are a helpful assistant."
    tools: list[str] = Field(default_factory=list)
    mcp_servers: dict[str, McpServer] = Field(default_factory=dict)
    # tool name or glob -> policy; the most specific match wins (see tools/_policy.py)
    approval: dict[str, Policy] = Field(default_factory=dict)
    # None: AGIO_HOME/workspaces/<id>/
    workspace: str | None = None
    tags: list[str] = Field(default_factory=list)
    max_steps: int = Field(default=10, ge=1, le=10_000)

    @field_validator("mcp_servers")
    @classmethod
    def _server_names(cls, value: dict[str, McpServer]) -> dict[str, McpServer]:
        for name in value:
            if not SERVER_NAME.match(name) or len(name) > 30:
                raise ValueError(
                    f"{name!r}: a server name is letters, digits, '-' or single '_' "
                    "(at most 30; '__' separates server and tool in tool names)"
                )
        return value

    @field_validator("workspace")
    @classmethod
    def _workspace(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or "\x00" in value):
            raise ValueError("must be a folder path")
        return value

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError("must be a slug: lowercase letters, digits, '-' or '_' (max 63)")
        return value

    @field_validator("model_params")
    @classmethod
    def _json_params(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_json_params(value)

    @field_validator("model")
    @classmethod
    def _model_ref(cls, value: str) -> str:
        if not MODEL_REF.match(value):
            raise ValueError("must look like 'provider/model', e.g. 'openai/gpt-4o-mini'")
        return value


def host_powers(spec: AgentSpec, settings: Any) -> list[str]:
    """Why an agent can run code on the host, if it can (SPEC §8): `shell`, stdio MCP servers,
    `module:function` tools, a workspace outside AGIO_HOME."""
    from .tools._context import inside_home, workspace_for

    reasons = []
    if "shell" in spec.tools:
        reasons.append("the shell tool")
    imported = [name for name in spec.tools if ":" in name]
    if imported:
        reasons.append(f"'module:function' tools ({', '.join(imported)})")
    stdio = [name for name, server in spec.mcp_servers.items() if server.transport == "stdio"]
    if stdio:
        reasons.append(f"stdio MCP servers ({', '.join(stdio)})")
    if spec.workspace is not None and not inside_home(
        settings, workspace_for(settings, spec.id, spec.workspace)
    ):
        reasons.append(f"a workspace outside AGIO_HOME ({spec.workspace})")
    return reasons


class Agent(AgentSpec):
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


def default_agent(model: str) -> Agent:
    return Agent(
        id=DEFAULT_AGENT_ID,
        name="Assistant",
        description="The default agent. Uses AGIO_DEFAULT_MODEL, else the offline demo model.",
        model=model,
        system_prompt="You are a helpful assistant.",
        tools=["calculator", "current_time"],
        tags=["default"],
    )


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def substitute_env(text: str, env: dict[str, str] | None = None, *, source: str = "") -> str:
    """Replace `${VAR}` and `${VAR:-default}`; an unset variable without default is an error."""
    env = dict(os.environ) if env is None else env

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise InvalidInputError(f"{source}: environment variable ${{{name}}} is not set")

    return _VAR.sub(replace, text)


def format_validation_error(error: ValidationError, source: str) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        reason = "unknown field" if item["type"] == "extra_forbidden" else item["msg"]
        problems.append(f"{where}: {reason}")
    return f"{source}: " + "; ".join(problems)


def parse_agent_spec(data: Any, *, source: str) -> AgentSpec:
    if not isinstance(data, dict):
        raise InvalidInputError(f"{source}: expected a mapping of agent fields")
    try:
        return AgentSpec.model_validate(data)
    except ValidationError as exc:
        raise InvalidInputError(format_validation_error(exc, source)) from None


def load_agent_yaml(text: str, *, source: str = "<yaml>") -> AgentSpec:
    import yaml

    text = substitute_env(text, source=source)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidInputError(f"{source}: invalid YAML{where}: {problem}") from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise InvalidInputError(f"{source}: invalid YAML: nested too deeply") from None
    return parse_agent_spec(data, source=source)


def load_agent_file(path: Path) -> AgentSpec:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"{path}: not a UTF-8 text file") from None
    return load_agent_yaml(text, source=str(path))
