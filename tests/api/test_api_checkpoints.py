"""Checkpoints over HTTP: list, get, manual create, restore, fork, diff, tree."""

from __future__ import annotations

from typing import Any

import httpx
from api_helpers import assert_well_formed, iter_events, stream_events, wait_for_status

DONE = {"completed", "failed", "cancelled", "paused"}


def _finished_run(client: httpx.Client, message: str = "What is 12*7?") -> dict[str, Any]:
    body = {"agent_id": "quick", "message": message, "stream": False}
    run_id = client.post("/api/chat", json=body).json()["run_id"]
    run: dict[str, Any] = client.get(f"/api/runs/{run_id}").json()
    return run


def test_list_get_and_create_checkpoints(client: httpx.Client) -> None:
    run = _finished_run(client)
    listed = client.get(f"/api/checkpoints/runs/{run['id']}/checkpoints").json()["items"]
    assert [c["step"] for c in listed] == [0, 1, 2]
    assert all("messages" not in c and c["run_id"] == run["id"] for c in listed)
    assert listed[-1]["id"] == run["last_checkpoint_id"]
    assert listed[-1]["message_count"] == 5 and listed[-1]["total_tokens"] > 0

    full = client.get(f"/api/checkpoints/{listed[1]['id']}").json()
    assert [m["role"] for m in full["messages"]] == ["system", "user", "assistant", "tool"]
    assert full["agent"]["model"] == "offline/demo" and full["metrics"]["steps"] == 1

    manual = client.post(
        f"/api/checkpoints/runs/{run['id']}/checkpoints",
        json={"description": "before trying again", "tags": ["keep"]},
    )
    assert manual.status_code == 201, manual.text
    summary = manual.json()
    assert summary["kind"] == "manual" and summary["tags"] == ["keep"]
    assert summary["parent_checkpoint_id"] == listed[-1]["id"]
    empty_body = client.post(f"/api/checkpoints/runs/{run['id']}/checkpoints")
    assert empty_body.status_code == 201 and empty_body.json()["description"] == ""


def test_fork_in_the_background_leaves_the_source_alone(client: httpx.Client) -> None:
    run = _finished_run(client)
    first = client.get(f"/api/checkpoints/runs/{run['id']}/checkpoints").json()["items"][0]
    forked = client.post(
        f"/api/checkpoints/{first['id']}/fork",
        json={"modifications": {"modified_query": "What is 6*7?"}},
    )
    assert forked.status_code == 200, forked.text
    body = forked.json()
    assert body["run_id"] != run["id"] and body["first_seq"] == 1
    assert body["run"]["parent_run_id"] == run["id"]
    assert body["run"]["from_checkpoint_id"] == first["id"]
    done = wait_for_status(client, body["run_id"], DONE)
    assert done["status"] == "completed" and "42" in done["response"]
    assert client.get(f"/api/runs/{run['id']}").json()["response"] == run["response"]

    tree = client.get(f"/api/runs/{body['run_id']}/tree").json()
    assert tree["run_id"] == run["id"]
    assert [c["run_id"] for c in tree["children"]] == [body["run_id"]]

    theirs = client.get(f"/api/checkpoints/runs/{body['run_id']}/checkpoints").json()["items"][-1]
    diff = client.get(f"/api/checkpoints/{run['last_checkpoint_id']}/diff/{theirs['id']}")
    assert diff.status_code == 200
    assert diff.json()["common_prefix"] == 1  # the system prompt
    assert "6*7" in diff.json()["unified"]


def test_fork_and_restore_can_stream_the_continuation(client: httpx.Client) -> None:
    run = _finished_run(client)
    checkpoints = client.get(f"/api/checkpoints/runs/{run['id']}/checkpoints").json()["items"]
    events = stream_events(
        client,
        "POST",
        f"/api/checkpoints/{checkpoints[1]['id']}/fork",
        json={"stream": True, "modifications": {"system_prompt": "Be brief."}},
    )
    assert_well_formed(events)
    assert events[0]["from_checkpoint_id"] == checkpoints[1]["id"]
    assert events[-1]["type"] == "run_completed" and "84" in events[-1]["response"]

    source_events = stream_events(client, "GET", f"/api/runs/{run['id']}/events")
    rewound = stream_events(
        client,
        "POST",
        f"/api/checkpoints/{checkpoints[0]['id']}/restore",
        json={"create_new_run": False, "stream": True},
    )
    assert rewound[0]["type"] == "run_resumed"
    assert rewound[0]["seq"] == source_events[-1]["seq"] + 1
    assert rewound[-1]["type"] == "run_completed"
    after = client.get(f"/api/checkpoints/runs/{run['id']}/checkpoints").json()["items"]
    assert [c["superseded"] for c in after[: len(checkpoints)]] == [False, True, True]


def test_restore_in_a_new_run_by_default(client: httpx.Client) -> None:
    run = _finished_run(client)
    restored = client.post(f"/api/checkpoints/{run['last_checkpoint_id']}/restore")
    assert restored.status_code == 200, restored.text
    body = restored.json()
    assert body["run_id"] != run["id"] and body["run"]["parent_run_id"] == run["id"]
    # The state ended in a final answer: continuing regenerates it.
    assert wait_for_status(client, body["run_id"], DONE)["response"] == run["response"]


def test_checkpoint_errors(client: httpx.Client) -> None:
    run = _finished_run(client)
    checkpoint = run["last_checkpoint_id"]
    unknown_ck = "ck_0123456789abcdef_0001"
    unknown_run = "run_0123456789abcdef"
    assert client.get(f"/api/checkpoints/{unknown_ck}").status_code == 404
    assert client.post(f"/api/checkpoints/{unknown_ck}/fork").status_code == 404
    assert client.post(f"/api/checkpoints/{unknown_ck}/restore").status_code == 404
    assert client.get(f"/api/checkpoints/runs/{unknown_run}/checkpoints").status_code == 404
    assert client.post(f"/api/checkpoints/runs/{unknown_run}/checkpoints").status_code == 404
    assert client.get(f"/api/checkpoints/{checkpoint}/diff/{unknown_ck}").status_code == 404

    unknown_key = client.post(
        f"/api/checkpoints/{checkpoint}/fork", json={"modifications": {"temperature": 1}}
    )
    assert unknown_key.status_code == 422 and "temperature" in unknown_key.text
    bad_model = client.post(
        f"/api/checkpoints/{checkpoint}/restore", json={"modifications": {"model": "nope/x"}}
    )
    assert bad_model.status_code == 422
    bad_steps = client.post(
        f"/api/checkpoints/{checkpoint}/fork", json={"modifications": {"max_steps": 0}}
    )
    assert bad_steps.status_code == 422
    extra = client.post(f"/api/checkpoints/{checkpoint}/fork", json={"create_new_run": False})
    assert extra.status_code == 422


def test_a_running_run_cannot_be_rewound_or_checkpointed(client: httpx.Client) -> None:
    body = {"agent_id": "slow", "message": "count to 400"}
    run_id = client.post("/api/runs", json=body).json()["id"]
    try:
        with client.stream("GET", f"/api/runs/{run_id}/events") as stream:
            first = next(
                e["checkpoint_id"] for e in iter_events(stream) if e["type"] == "checkpoint_created"
            )
        rewind = client.post(f"/api/checkpoints/{first}/restore", json={"create_new_run": False})
        assert rewind.status_code == 409
        manual = client.post(f"/api/checkpoints/runs/{run_id}/checkpoints", json={})
        assert manual.status_code == 409
    finally:
        client.post(f"/api/runs/{run_id}/cancel")


def test_the_checkpoint_listing_is_paginated_like_the_seeds(client: httpx.Client) -> None:
    run = _finished_run(client)
    path = f"/api/checkpoints/runs/{run['id']}/checkpoints"
    for number in range(20):
        made = client.post(path, json={"description": f"manual {number}"})
        assert made.status_code == 201, made.text
    page = client.get(path).json()
    assert set(page) == {"total", "items", "limit", "offset"}
    assert (page["total"], page["limit"], page["offset"]) == (23, 20, 0)
    first_ids = [c["id"] for c in page["items"]]
    assert [c["step"] for c in page["items"][:3]] == [0, 1, 2] and len(first_ids) == 20
    rest = client.get(path, params={"limit": 5, "offset": 20}).json()
    assert (rest["total"], rest["limit"], rest["offset"]) == (23, 5, 20)
    assert [c["description"] for c in rest["items"]] == ["manual 17", "manual 18", "manual 19"]
    assert rest["items"][-1]["id"] == run["last_checkpoint_id"].replace("_0002", "_0022")
    assert client.get(path, params={"offset": 99}).json()["items"] == []
    for bad in ({"limit": 0}, {"limit": 1001}, {"offset": -1}, {"limit": "٣"}, {"limit": "x"}):
        answer = client.get(path, params=bad)
        assert answer.status_code == 422, (bad, answer.text)
    assert client.get("/api/checkpoints/runs/run_0123456789abcdef/checkpoints").status_code == 404
