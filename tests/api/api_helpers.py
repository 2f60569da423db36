"""Helpers for the API tests: keys, SSE reading, and starting the stepper over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
from helpers.agents import STEPPER_QUESTION
from httpx_sse import EventSource

from agio_core.events import parse_event

API_KEY = "test-key-0123456789"
OTHER_KEY = "second-key-abcdef"
TERMINAL = {"run_completed", "run_failed", "run_cancelled"}


def iter_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The events of an SSE response, checking that `id:` and `event:` agree with the data,
    and that the data is one flat event of its model (SPEC §2), exactly as serialised."""
    for sse in EventSource(response).iter_sse():
        event: dict[str, Any] = json.loads(sse.data)
        assert sse.id == str(event["seq"])
        assert sse.event == event["type"]
        assert parse_event(sse.data).model_dump(mode="json") == event
        yield event


def sse_events(response: httpx.Response, *, stop_after: int | None = None) -> list[dict[str, Any]]:
    events = []
    for event in iter_events(response):
        events.append(event)
        if stop_after is not None and len(events) >= stop_after:
            break
    return events


def stream_events(
    client: httpx.Client, method: str, url: str, **kwargs: Any
) -> list[dict[str, Any]]:
    with client.stream(method, url, **kwargs) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return sse_events(response)


def assert_well_formed(events: list[dict[str, Any]], run_id: str | None = None) -> None:
    """run_started first, seq strictly increasing by one, exactly one terminal event, last."""
    assert events[0]["type"] == "run_started"
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    terminals = [e for e in events if e["type"] in TERMINAL]
    assert len(terminals) == 1 and events[-1] is terminals[0]
    if run_id is not None:
        assert {e["run_id"] for e in events} == {run_id}


def wait_for_status(
    client: httpx.Client, run_id: str, statuses: set[str], timeout: float = 10.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["status"] in statuses or time.monotonic() > deadline:
            return run
        time.sleep(0.05)


def start_stepper_run(client: httpx.Client) -> str:
    """Start a many-step run in the background; return its id once its first tool ran."""
    body = {"agent_id": "stepper", "message": STEPPER_QUESTION}
    response = client.post("/api/runs", json=body)
    assert response.status_code == 201, response.text
    run_id: str = response.json()["id"]
    with client.stream("GET", f"/api/runs/{run_id}/events") as stream:
        for event in iter_events(stream):
            if event["type"] == "tool_call_completed":
                break
    return run_id
