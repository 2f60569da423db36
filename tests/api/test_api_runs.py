"""Runs over HTTP: listing, control (pause / resume / cancel), and the event stream."""

from __future__ import annotations

import uuid

import httpx
import pytest
from api_helpers import (
    assert_well_formed,
    iter_events,
    sse_events,
    start_stepper_run,
    stream_events,
    wait_for_status,
)
from helpers.agents import LONG_MESSAGE, STEPPER_ANSWER

from agio_core import Run
from agio_core.api.schemas import RunOut

TERMINAL_STATUSES = {"completed", "failed", "cancelled"}


def test_the_public_run_is_the_run_without_its_driver() -> None:
    internal = {"owner", "heartbeat_at"}
    assert set(RunOut.model_fields) == set(Run.model_fields) - internal


def test_list_and_get_runs_with_filters(client: httpx.Client) -> None:
    agent = {"id": "lister", "model": "offline/demo", "model_params": {"delay_ms": 0}}
    client.post("/api/agents", json=agent)
    ids = [
        client.post(
            "/api/chat", json={"agent_id": "lister", "message": f"hi {n}", "stream": False}
        ).json()["run_id"]
        for n in range(3)
    ]
    page = client.get("/api/runs", params={"agent_id": "lister", "limit": 2}).json()
    assert page["total"] == 3 and page["limit"] == 2 and page["offset"] == 0
    assert [r["id"] for r in page["items"]] == ids[::-1][:2]  # newest first
    done = client.get("/api/runs", params={"agent_id": "lister", "status": "completed"}).json()
    assert done["total"] == 3
    none = client.get("/api/runs", params={"agent_id": "lister", "status": "paused"}).json()
    assert none["total"] == 0
    run = client.get(f"/api/runs/{ids[0]}").json()
    assert run["id"] == ids[0] and run["agent_id"] == "lister" and run["input"] == "hi 0"
    assert run["last_checkpoint_id"] and run["finished_at"]


def test_background_run_and_replay_of_a_finished_run(client: httpx.Client) -> None:
    started = client.post("/api/runs", json={"message": "What is 2+3?"})
    assert started.status_code == 201
    run_id = started.json()["id"]
    live = stream_events(client, "GET", f"/api/runs/{run_id}/events")
    assert_well_formed(live, run_id)
    replay = stream_events(client, "GET", f"/api/runs/{run_id}/events")
    assert replay == live
    tail = stream_events(client, "GET", f"/api/runs/{run_id}/events", params={"after_seq": 3})
    assert tail == live[3:]
    resumed = stream_events(
        client, "GET", f"/api/runs/{run_id}/events", headers={"Last-Event-ID": "5"}
    )
    assert resumed == live[5:]
    header_wins = stream_events(
        client,
        "GET",
        f"/api/runs/{run_id}/events?after_seq=1",
        headers={"Last-Event-ID": str(live[-2]["seq"])},
    )
    assert header_wins == live[-1:]
    snapshot = stream_events(client, "GET", f"/api/runs/{run_id}/events?follow=false")
    assert snapshot == live
    bad = client.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": "x"})
    assert bad.status_code == 422


def test_pause_and_resume_a_many_step_run(client: httpx.Client) -> None:
    run_id = start_stepper_run(client)
    paused = client.post(f"/api/runs/{run_id}/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"
    events = stream_events(client, "GET", f"/api/runs/{run_id}/events")
    assert events[-1]["type"] == "run_paused"
    assert events[-1]["checkpoint_id"] == paused.json()["last_checkpoint_id"]
    assert client.post(f"/api/runs/{run_id}/pause").status_code == 409

    resumed = client.post(f"/api/runs/{run_id}/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "running"
    assert client.post(f"/api/runs/{run_id}/resume").status_code == 409
    rest = stream_events(
        client,
        "GET",
        f"/api/runs/{run_id}/events",
        headers={"Last-Event-ID": str(events[-1]["seq"])},
    )
    assert rest[0]["type"] == "run_resumed" and rest[0]["seq"] == events[-1]["seq"] + 1
    assert rest[-1]["type"] == "run_completed"
    assert rest[-1]["response"] == STEPPER_ANSWER
    whole = stream_events(client, "GET", f"/api/runs/{run_id}/events")
    assert [e["seq"] for e in whole] == list(range(1, len(whole) + 1))
    assert client.get(f"/api/runs/{run_id}").json()["status"] == "completed"


def test_cancel_mid_stream_keeps_the_partial_output(client: httpx.Client) -> None:
    with client.stream(
        "POST", "/api/chat", json={"agent_id": "slow", "message": LONG_MESSAGE}
    ) as stream:
        events = []
        for event in iter_events(stream):
            events.append(event)
            if event["type"] == "content_delta" and event["content"].startswith("3"):
                cancelled = client.post(
                    f"/api/runs/{event['run_id']}/cancel", json={"reason": "enough"}
                )
                assert cancelled.status_code == 200
                assert cancelled.json()["status"] == "cancelled"
    assert_well_formed(events)
    assert events[-1]["type"] == "run_cancelled"
    assert events[-1]["reason"] == "enough"
    run = client.get(f"/api/runs/{events[0]['run_id']}").json()
    assert run["status"] == "cancelled" and run["response"].startswith("1 2 3")
    again = client.post(f"/api/runs/{run['id']}/cancel")
    assert again.status_code == 409
    assert client.post(f"/api/runs/{run['id']}/resume").status_code == 409


def test_a_paused_run_can_be_cancelled(client: httpx.Client) -> None:
    run_id = start_stepper_run(client)
    assert client.post(f"/api/runs/{run_id}/pause").json()["status"] == "paused"
    cancelled = client.post(f"/api/runs/{run_id}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    events = stream_events(client, "GET", f"/api/runs/{run_id}/events")
    assert events[-1]["type"] == "run_cancelled"


def test_disconnecting_does_not_kill_the_run_and_it_can_be_rejoined(
    client: httpx.Client,
) -> None:
    with client.stream(
        "POST", "/api/chat", json={"agent_id": "slow", "message": "count to 60"}
    ) as stream:
        first = sse_events(stream, stop_after=8)
    run_id = first[0]["run_id"]
    assert client.get(f"/api/runs/{run_id}").json()["status"] == "running"
    rest = stream_events(
        client,
        "GET",
        f"/api/runs/{run_id}/events",
        headers={"Last-Event-ID": str(first[-1]["seq"])},
    )
    assert_well_formed(first + rest, run_id)
    assert rest[-1]["type"] == "run_completed"
    assert rest[-1]["response"].endswith("60.")


def test_on_disconnect_cancel_cancels_the_run(client: httpx.Client) -> None:
    body = {"agent_id": "slow", "message": LONG_MESSAGE, "on_disconnect": "cancel"}
    with client.stream("POST", "/api/chat", json=body) as stream:
        run_id = sse_events(stream, stop_after=6)[0]["run_id"]
    run = wait_for_status(client, run_id, TERMINAL_STATUSES)
    assert run["status"] == "cancelled"
    events = stream_events(client, "GET", f"/api/runs/{run_id}/events")
    assert events[-1]["type"] == "run_cancelled"
    assert events[-1]["reason"] == "client disconnected"


def test_run_control_errors(client: httpx.Client) -> None:
    unknown = "run_0123456789abcdef"
    for action in ("pause", "resume", "cancel"):
        response = client.post(f"/api/runs/{unknown}/{action}")
        assert response.status_code == 404, action
        assert response.json()["detail"]
    assert client.get(f"/api/runs/{unknown}/events").status_code == 404
    assert client.get(f"/api/runs/{unknown}/tree").status_code == 404
    body = {"agent_id": "quick", "message": "hi", "stream": False}
    done = client.post("/api/chat", json=body).json()["run_id"]
    assert client.post(f"/api/runs/{done}/pause").status_code == 409
    assert client.post(f"/api/runs/{done}/resume").status_code == 409
    assert client.post(f"/api/runs/{done}/cancel").status_code == 409
    assert client.post(f"/api/runs/{done}/cancel", json={"why": "x"}).status_code == 422
    assert client.post(f"/api/runs/{done}/pause?wait=-1").status_code == 422


def test_user_id_is_stored_sent_and_filtered(client: httpx.Client) -> None:
    user = f"ana+{uuid.uuid4().hex[:8]}@example.com «ü»"
    events = stream_events(
        client, "POST", "/api/chat", json={"agent_id": "quick", "message": "hi", "user_id": user}
    )
    assert events[0]["type"] == "run_started"
    assert (events[0].get("user_id") or events[0].get("data", {}).get("user_id")) == user
    run_id = events[0]["run_id"]
    assert client.get(f"/api/runs/{run_id}").json()["user_id"] == user
    answer = client.post(
        "/api/chat", json={"agent_id": "quick", "message": "hi", "user_id": user, "stream": False}
    )
    assert answer.status_code == 200, answer.text
    started = client.post("/api/runs", json={"agent_id": "quick", "message": "x", "user_id": user})
    assert started.status_code == 201 and started.json()["user_id"] == user
    client.post("/api/chat", json={"agent_id": "quick", "message": "someone else", "stream": False})

    page = client.get("/api/runs", params={"user_id": user}).json()
    assert page["total"] == 3 and {r["user_id"] for r in page["items"]} == {user}
    assert run_id in {r["id"] for r in page["items"]}
    assert client.get("/api/runs", params={"user_id": user[:-1]}).json()["total"] == 0


@pytest.mark.parametrize(
    "user_id", ["", "   ", "a\nb", "tab\there", "nul\x00", "\x7f", "\u2028", "x" * 257]
)
def test_bad_user_ids_are_422(client: httpx.Client, user_id: str) -> None:
    chat = client.post("/api/chat", json={"agent_id": "quick", "message": "hi", "user_id": user_id})
    assert chat.status_code == 422, chat.text
    assert client.get("/api/runs", params={"user_id": user_id}).status_code == 422


def test_a_lone_surrogate_user_id_is_422(client: httpx.Client) -> None:
    body = b'{"agent_id": "quick", "message": "hi", "user_id": "\\ud800"}'
    answer = client.post("/api/chat", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 422, answer.text
