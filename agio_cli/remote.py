"""`RemoteAgio`: the `agio_core.Agio` facade over HTTP, for `--server URL` / AGIO_SERVER_URL.

Same methods, signatures and return types as `Agio`, the same pydantic models parsed from the
JSON, and the same `agio_core.errors` raised from the status codes, so every command has one
code path for both modes. Runs live in the server: a run started or resumed here goes on
there, and its events are followed over SSE (`/api/runs/{run_id}/events`), reconnecting from
the last seq seen if the connection drops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from agio_core.agents import Agent, AgentSpec, load_agent_file
from agio_core.approvals import ApprovalDecision
from agio_core.attachments import Attachment, check_attached
from agio_core.checkpoints import (
    Checkpoint,
    CheckpointSummary,
    MessageDiff,
    Modifications,
    TreeNode,
)
from agio_core.control import CONTROL_WAIT_S
from agio_core.errors import (
    ERROR_OF_KIND,
    AgioError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    StoreError,
    kind_of_status,
)
from agio_core.events import Event, parse_event, why_not_an_event
from agio_core.models import ModelCatalog
from agio_core.runs import DELETABLE, Run
from agio_core.service import Page
from agio_core.tools._toolbox import ToolInfo

log = logging.getLogger("agio.remote")
M = TypeVar("M", bound=BaseModel)

REQUEST_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# Streams and waits last as long as the run; keepalives arrive every 15 s.
LONG_TIMEOUT = httpx.Timeout(None, connect=5.0)
RECONNECTS = 5
RECONNECT_DELAY_S = 0.5


class AuthenticationError(InvalidInputError):
    """The server wants an API key (AGIO_API_KEY) that was missing or wrong."""


class ServerError(StoreError):
    """The server could not be reached, or failed."""


def _problem(item: dict[str, Any]) -> str:
    """One FastAPI validation error, worded as the core words its own."""
    where = ".".join(str(p) for p in item.get("loc", [])[1:]) or "(request)"
    reason = "unknown field" if item.get("type") == "extra_forbidden" else item.get("msg")
    return f"{where}: {reason}"


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text.strip()[:200] or response.reason_phrase
    if isinstance(detail, list):  # request validation errors: [{loc, msg, type}, ...]
        return "; ".join(_problem(item) for item in detail if isinstance(item, dict))
    return str(detail)


def error_for(response: httpx.Response, base_url: str) -> AgioError:
    """The exception the core would have raised, from the status (`agio_core.errors`'s table)."""
    detail = _detail(response)
    status = response.status_code
    if status == 401:
        return AuthenticationError(
            f"the agio server at {base_url} needs an API key: set AGIO_API_KEY "
            "to one of its AGIO_API_KEYS"
        )
    kind = kind_of_status(status)
    if kind is None or kind == "store":
        return ServerError(f"the agio server at {base_url} failed ({status}): {detail}")
    return ERROR_OF_KIND[kind](detail)


async def sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The `data` of each Server-Sent Event (comments, ids and event names are not needed:
    the data is the whole event)."""
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
        elif line.startswith("data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


def _segment(value: str) -> str:
    """An id as one URL path segment, whatever characters a user typed."""
    if not value:
        raise NotFoundError("not found: ''")
    return quote(value, safe="")


def _body(spec: AgentSpec | dict[str, Any]) -> dict[str, Any]:
    """An agent definition to send. One read here (from YAML) has the `${VAR}`s of its MCP
    servers filled from this machine's environment, as an embedded agio fills them from its
    own: the server never fills in a reference sent by a client from its environment."""
    if isinstance(spec, AgentSpec):
        return spec.resolved().model_dump(mode="json")
    return dict(spec)


def _modifications(value: Modifications | dict[str, Any] | None) -> dict[str, Any] | None:
    if isinstance(value, Modifications):
        return value.model_dump(exclude_none=True)
    return value


class RemoteRunHandle:
    """A run driven by the server: its events as they happen, and its end."""

    def __init__(self, agio: RemoteAgio, run_id: str, first_seq: int) -> None:
        self._agio = agio
        self.run_id = run_id
        # The seq of this stretch's first event, as the server answered it.
        self.first_seq = first_seq
        self._seen = first_seq - 1

    async def events(self, after_seq: int = 0) -> AsyncGenerator[Event, None]:
        async with aclosing(self._agio.events(self.run_id, after_seq=after_seq)) as stream:
            async for event in stream:
                self._seen = max(self._seen, event.seq)
                yield event

    async def wait(self) -> Run:
        """The run once it stops running (completed, failed, cancelled, paused, interrupted)."""
        for _ in range(RECONNECTS + 1):
            async with aclosing(self.events(after_seq=self._seen)) as stream:
                async for _event in stream:
                    pass
            run = await self._agio.get_run(self.run_id)
            if run.status != "running":
                return run
            await asyncio.sleep(RECONNECT_DELAY_S)
        return await self._agio.get_run(self.run_id)

    async def cancel(self, reason: str = "cancelled by user") -> Run:
        return await self._agio.cancel_run(self.run_id, reason=reason)

    async def pause(self) -> Run:
        return await self._agio.pause_run(self.run_id)

    async def decide(
        self, decisions: list[ApprovalDecision], *, remember: bool = False
    ) -> RemoteRunHandle | None:
        return await self._agio.decide_and_continue(self.run_id, decisions, remember=remember)


def _decisions(
    decisions: list[ApprovalDecision] | list[dict[str, Any]], remember: bool
) -> dict[str, Any]:
    """The approvals request body (decisions checked here, as `Agio.decide` does)."""
    parsed = [ApprovalDecision.model_validate(d) for d in decisions]
    return {"decisions": [d.model_dump(exclude_none=True) for d in parsed], "remember": remember}


class RemoteAgio:
    def __init__(self, base_url: str, api_key: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=REQUEST_TIMEOUT
        )

    async def __aenter__(self) -> RemoteAgio:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Nothing to open: connections are made on first use."""

    async def close(self) -> None:
        await self._client.aclose()

    # plumbing

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        timeout: httpx.Timeout = REQUEST_TIMEOUT,
    ) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = await self._client.request(
                method, path, json=body, params=query, timeout=timeout
            )
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        if response.status_code >= 400:
            raise error_for(response, self.base_url)
        return response.json() if response.content else None

    def _unreachable(self, exc: Exception) -> ServerError:
        reason = str(exc) or type(exc).__name__
        return ServerError(f"cannot reach the agio server at {self.base_url}: {reason}")

    async def _model(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        return model.model_validate(await self._call(method, path, **kwargs))

    # agents

    async def get_agent(self, agent_id: str) -> Agent:
        return await self._model(Agent, "GET", f"/api/agents/{_segment(agent_id)}")

    async def list_agents(
        self, tag: str | None = None, limit: int = 20, offset: int = 0
    ) -> Page[Agent]:
        params = {"tag": tag, "limit": limit, "offset": offset}
        return await self._model(Page[Agent], "GET", "/api/agents", params=params)

    async def create_agent(
        self, spec: AgentSpec | dict[str, Any], *, replace: bool = False
    ) -> Agent:
        body = _body(spec)
        params = {"replace": "true"} if replace else None
        return await self._model(Agent, "POST", "/api/agents", body=body, params=params)

    async def update_agent(self, agent_id: str, spec: AgentSpec | dict[str, Any]) -> Agent:
        body = _body(spec)
        return await self._model(Agent, "PUT", f"/api/agents/{_segment(agent_id)}", body=body)

    async def delete_agent(self, agent_id: str) -> None:
        await self._call("DELETE", f"/api/agents/{_segment(agent_id)}")

    async def list_tools(
        self, agent_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> Page[ToolInfo]:
        params = {"agent_id": agent_id, "limit": limit, "offset": offset}
        return await self._model(Page[ToolInfo], "GET", "/api/tools", params=params)

    async def create_agent_from_file(self, path: Any, *, replace: bool = False) -> Agent:
        return await self.create_agent(load_agent_file(Path(path)), replace=replace)

    # models

    async def list_models(self) -> ModelCatalog:
        return await self._model(ModelCatalog, "GET", "/api/models")

    # runs: reading

    async def get_run(self, run_id: str) -> Run:
        return await self._model(Run, "GET", f"/api/runs/{_segment(run_id)}")

    async def list_runs(
        self,
        *,
        agent_id: str | None = None,
        status: str | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
        search: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> Page[Run]:
        params = {
            "agent_id": agent_id,
            "status": status,
            "session_id": session_id,
            "user_id": user_id,
            "q": search or None,
            "limit": limit,
            "offset": offset,
        }
        return await self._model(Page[Run], "GET", "/api/runs", params=params)

    async def delete_run(self, run_id: str) -> None:
        await self._call("DELETE", f"/api/runs/{_segment(run_id)}")

    async def prune_runs(
        self,
        *,
        older_than: timedelta | None = None,
        status: str | None = None,
        dry_run: bool = False,
    ) -> list[str]:
        """As `Agio.prune_runs`, with the server's listing and one DELETE per run."""
        if status is not None and status not in DELETABLE:
            raise InvalidInputError(f"status: {status} runs cannot be deleted")
        before = datetime.now(UTC) - older_than if older_than is not None else None
        chosen: list[str] = []
        offset = 0
        while True:
            page = await self.list_runs(status=status, limit=1000, offset=offset)
            chosen += [
                r.id
                for r in page.items
                if r.status in DELETABLE and (before is None or r.created_at < before)
            ]
            offset += len(page.items)
            if not page.items or offset >= page.total:
                break
        deleted = []
        for run_id in chosen:  # newest first, as the listing is
            if not dry_run:
                try:
                    await self.delete_run(run_id)
                except (NotFoundError, ConflictError):
                    continue
            deleted.append(run_id)
        return deleted

    async def latest_session(self) -> str | None:
        found = await self._call("GET", "/api/sessions/latest")
        session_id: str | None = found.get("session_id")
        return session_id

    async def events(
        self, run_id: str, *, after_seq: int = 0, follow: bool = True
    ) -> AsyncGenerator[Event, None]:
        """The run's events after `after_seq`; with `follow`, wait for more until it stops."""
        last, failures = after_seq, 0
        while True:
            try:
                async with aclosing(self._event_stream(run_id, last, follow)) as stream:
                    async for event in stream:
                        last, failures = event.seq, 0
                        yield event
                return
            except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ConnectError) as exc:
                failures += 1
                if failures > RECONNECTS:
                    raise self._unreachable(exc) from None
                await asyncio.sleep(RECONNECT_DELAY_S * failures)

    async def _event_stream(
        self, run_id: str, after_seq: int, follow: bool
    ) -> AsyncGenerator[Event, None]:
        path = f"/api/runs/{_segment(run_id)}/events"
        params = {"follow": "true" if follow else "false"}
        # Where to go on from, as a reconnecting EventSource says it.
        headers = {"Accept": "text/event-stream", "Last-Event-ID": str(after_seq)}
        async with self._client.stream(
            "GET", path, params=params, headers=headers, timeout=LONG_TIMEOUT
        ) as response:
            if response.status_code >= 400:
                await response.aread()
                raise error_for(response, self.base_url)
            async for data in sse_data(response.aiter_lines()):
                try:
                    event = parse_event(data)
                except ValidationError as exc:  # e.g. a type from a newer server
                    reason = why_not_an_event(exc)
                    log.warning("skipped an event from %s: %s", self.base_url, reason)
                    continue
                yield event

    # runs: starting

    async def start_chat(
        self,
        agent_id: str,
        message: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        workspace: str | None = None,
        model: str | None = None,
        system_prompt: str | None = None,
        model_params: dict[str, Any] | None = None,
        attachments: list[Attachment] | None = None,
    ) -> RemoteRunHandle:
        if workspace is not None:
            raise InvalidInputError(
                "--workspace works embedded only: a server's runs use the folders that the "
                "agents defined on its host name"
            )
        # Refused here as embedded agio refuses it, before uploading what may be megabytes.
        check_attached(attachments or [])
        body = {
            "agent_id": agent_id,
            "message": message,
            "session_id": session_id,
            "user_id": user_id,
            "model": model,
            "system_prompt": system_prompt,
            "model_params": model_params,
            "attachments": [a.model_dump() for a in attachments or []],
        }
        run = await self._model(Run, "POST", "/api/runs", body=body)
        return RemoteRunHandle(self, run.id, first_seq=1)

    async def chat(
        self, agent_id: str, message: str, *, session_id: str | None = None, **options: Any
    ) -> Run:
        """`start_chat` (same options), waiting for the run to stop."""
        handle = await self.start_chat(agent_id, message, session_id=session_id, **options)
        return await handle.wait()

    # runs: control

    async def pause_run(self, run_id: str, *, wait: float = CONTROL_WAIT_S) -> Run:
        return await self._model(
            Run,
            "POST",
            f"/api/runs/{_segment(run_id)}/pause",
            params={"wait": wait},
            timeout=httpx.Timeout(wait + 30.0, connect=5.0),
        )

    async def cancel_run(
        self, run_id: str, *, reason: str = "cancelled by user", wait: float = CONTROL_WAIT_S
    ) -> Run:
        return await self._model(
            Run,
            "POST",
            f"/api/runs/{_segment(run_id)}/cancel",
            body={"reason": reason},
            params={"wait": wait},
            timeout=httpx.Timeout(wait + 30.0, connect=5.0),
        )

    async def resume_run(self, run_id: str) -> RemoteRunHandle:
        resumed = await self._call("POST", f"/api/runs/{_segment(run_id)}/resume")
        return RemoteRunHandle(self, resumed["id"], first_seq=resumed["first_seq"])

    async def decide(
        self,
        run_id: str,
        decisions: list[ApprovalDecision] | list[dict[str, Any]],
        *,
        remember: bool = False,
    ) -> Run:
        return await self._model(
            Run,
            "POST",
            f"/api/runs/{_segment(run_id)}/approvals",
            body=_decisions(decisions, remember),
        )

    async def decide_and_continue(
        self,
        run_id: str,
        decisions: list[ApprovalDecision] | list[dict[str, Any]],
        *,
        remember: bool = False,
    ) -> RemoteRunHandle | None:
        """`decide`; the server goes on with the run once no call is undecided, and says
        where the continuation's events start (`first_seq`)."""
        decided = await self._call(
            "POST", f"/api/runs/{_segment(run_id)}/approvals", body=_decisions(decisions, remember)
        )
        first_seq = decided.get("first_seq")
        if first_seq is None:
            return None
        return RemoteRunHandle(self, decided["id"], first_seq=first_seq)

    # checkpoints

    async def list_checkpoints(
        self, run_id: str, *, limit: int = 20, offset: int = 0
    ) -> Page[CheckpointSummary]:
        return await self._model(
            Page[CheckpointSummary],
            "GET",
            f"/api/checkpoints/runs/{_segment(run_id)}/checkpoints",
            params={"limit": limit, "offset": offset},
        )

    async def get_checkpoint(self, checkpoint_id_: str) -> Checkpoint:
        return await self._model(Checkpoint, "GET", f"/api/checkpoints/{_segment(checkpoint_id_)}")

    async def create_checkpoint(
        self, run_id: str, *, description: str = "", tags: list[str] | None = None
    ) -> CheckpointSummary:
        return await self._model(
            CheckpointSummary,
            "POST",
            f"/api/checkpoints/runs/{_segment(run_id)}/checkpoints",
            body={"description": description, "tags": tags or []},
        )

    async def restore_checkpoint(
        self,
        checkpoint_id_: str,
        *,
        create_new_run: bool = True,
        modifications: Modifications | dict[str, Any] | None = None,
    ) -> RemoteRunHandle:
        body = {"create_new_run": create_new_run, "modifications": _modifications(modifications)}
        started = await self._call(
            "POST", f"/api/checkpoints/{_segment(checkpoint_id_)}/restore", body=body
        )
        return RemoteRunHandle(self, started["run_id"], first_seq=started["first_seq"])

    async def fork_checkpoint(
        self, checkpoint_id_: str, *, modifications: Modifications | dict[str, Any] | None = None
    ) -> RemoteRunHandle:
        body = {"modifications": _modifications(modifications)}
        started = await self._call(
            "POST", f"/api/checkpoints/{_segment(checkpoint_id_)}/fork", body=body
        )
        return RemoteRunHandle(self, started["run_id"], first_seq=started["first_seq"])

    async def checkpoint_tree(self, run_id: str) -> TreeNode:
        return await self._model(TreeNode, "GET", f"/api/runs/{_segment(run_id)}/tree")

    async def diff_checkpoints(self, a: str, b: str) -> MessageDiff:
        return await self._model(
            MessageDiff, "GET", f"/api/checkpoints/{_segment(a)}/diff/{_segment(b)}"
        )


__all__ = ["AuthenticationError", "RemoteAgio", "RemoteRunHandle", "ServerError"]
