"""Agents: what they are, and how they are read from YAML files."""

from __future__ import annotations

import itertools
import os
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Self

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


HIDDEN = "***"  # a literal env or header value, as listings show it
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

    def resolved(self, env: Mapping[str, str] | None = None) -> McpServer:
        """The server with its `${VAR}` references filled in, for connecting to it.

        `args`, `env` and `headers` are where credentials go (a token, a database URL), so
        they keep their references as written until the server is used: what is stored and
        listed never holds a value read from the environment."""

        def fill(value: str, where: str) -> str:
            return substitute_env(value, env, source=where)

        return self.model_copy(
            update={
                "args": [fill(a, "args") for a in self.args],
                "env": {k: fill(v, f"env.{k}") for k, v in self.env.items()},
                "headers": {k: fill(v, f"headers.{k}") for k, v in self.headers.items()},
            }
        )

    def redacted(self) -> McpServer:
        """The server as listings show it: `env` and `headers` values written as literals
        (a pasted token) are hidden; `${VAR}` references are shown, they hold no secret."""

        def hide(values: dict[str, str]) -> dict[str, str]:
            return {k: v if not v or _VAR.search(v) else HIDDEN for k, v in values.items()}

        return self.model_copy(update={"env": hide(self.env), "headers": hide(self.headers)})

    def keeping_hidden(self, stored: McpServer | None) -> McpServer:
        """This definition, with each `HIDDEN` value that a listing showed in place of a
        stored value replaced by that value again (so editing a listed agent keeps them)."""
        if stored is None:
            return self

        def keep(values: dict[str, str], old: dict[str, str]) -> dict[str, str]:
            return {k: old.get(k, v) if v == HIDDEN else v for k, v in values.items()}

        return self.model_copy(
            update={
                "env": keep(self.env, stored.env),
                "headers": keep(self.headers, stored.headers),
            }
        )


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

    def resolved(self) -> Self:
        """This agent with its MCP servers' `${VAR}`s filled in (see `McpServer.resolved`)."""
        servers = {name: server.resolved() for name, server in self.mcp_servers.items()}
        return self.model_copy(update={"mcp_servers": servers})

    def redacted(self) -> Self:
        """This agent as listings show it (see `McpServer.redacted`)."""
        servers = {name: server.redacted() for name, server in self.mcp_servers.items()}
        return self.model_copy(update={"mcp_servers": servers})

    def keeping_hidden(self, stored: AgentSpec) -> Self:
        """See `McpServer.keeping_hidden`: `stored` is the agent this one replaces."""
        servers = {
            name: server.keeping_hidden(stored.mcp_servers.get(name))
            for name, server in self.mcp_servers.items()
        }
        return self.model_copy(update={"mcp_servers": servers})

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
    `module:function` tools, a workspace outside AGIO_HOME; or read the host's environment:
    `${VAR}` in the headers of an MCP server (sent to whatever URL the agent names)."""
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
    reading = [
        name
        for name, server in spec.mcp_servers.items()
        if any(_VAR.search(value) for value in server.headers.values())
    ]
    if reading:
        reasons.append(f"MCP headers that read the host's environment ({', '.join(reading)})")
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


def substitute_env(
    text: str,
    env: Mapping[str, str] | None = None,
    *,
    source: str = "",
    keep: dict[int, str] | None = None,
) -> str:
    """Replace `${VAR}` and `${VAR:-default}`; an unset variable without default is an error.
    `keep` maps the index of a reference (in order of appearance) to what it becomes instead."""
    values = os.environ if env is None else env
    indexes = itertools.count()

    def replace(match: re.Match[str]) -> str:
        index = next(indexes)
        if keep is not None and index in keep:
            return keep[index]
        name, default = match.group(1), match.group(2)
        if name in values:
            return values[name]
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
    """An agent from YAML, with `${VAR}`s substituted from the environment, except in the
    values of `mcp_servers.*.args|env|headers`: those keep their references as written (see
    `McpServer.resolved`), so no secret from the environment is stored or listed."""
    refs = [match.group(0) for match in _VAR.finditer(text)]
    # Each reference replaced by a mark (a plain word, valid YAML wherever it stands) shows
    # which ones stand in those values.
    marks = {i: f"{_MARK}{i}x" for i in range(len(refs))}
    deferred: dict[int, str] = {}
    if refs:
        try:
            marked = _parse_yaml(substitute_env(text, keep=marks), source)
        except InvalidInputError:
            marked = None  # maybe it parses once substituted; if not, the error is below
        found: set[int] = set()

        def note(value: str) -> str:
            found.update(int(i) for i in _MARKED.findall(value))
            return value

        _each_mcp_secret(marked, note)
        deferred = {i: marks[i] for i in found}
    data = _parse_yaml(substitute_env(text, source=source, keep=deferred), source)
    _each_mcp_secret(data, lambda v: _MARKED.sub(lambda m: refs[int(m.group(1))], v))
    return parse_agent_spec(data, source=source)


_MARK = f"agio{secrets.token_hex(6)}ref"
_MARKED = re.compile(rf"{_MARK}(\d+)x")


def _each_mcp_secret(data: Any, change: Callable[[str], str]) -> None:
    """Replace each string value of `mcp_servers.*.args|env|headers` by `change(value)`."""
    servers = data.get("mcp_servers") if isinstance(data, dict) else None
    for server in servers.values() if isinstance(servers, dict) else ():
        for field in ("args", "env", "headers"):
            values = server.get(field) if isinstance(server, dict) else None
            if isinstance(values, list):
                values[:] = [change(v) if isinstance(v, str) else v for v in values]
            elif isinstance(values, dict):
                values.update({k: change(v) for k, v in values.items() if isinstance(v, str)})


def _parse_yaml(text: str, source: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidInputError(f"{source}: invalid YAML{where}: {problem}") from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise InvalidInputError(f"{source}: invalid YAML: nested too deeply") from None


def load_agent_file(path: Path) -> AgentSpec:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"{path}: not a UTF-8 text file") from None
    return load_agent_yaml(text, source=str(path))
