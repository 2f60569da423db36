"""`POST /api/chat`: SSE streaming, non-streaming answers, sessions, errors."""

from __future__ import annotations

import httpx
from api_helpers import assert_well_formed, sse_events, stream_events, wait_for_status

from agio_core.events import EVENT_CLASSES, EVENT_TYPES

EVENT_CLASSES_BY_TYPE = {cls.model_fields["type"].default: cls for cls in EVENT_CLASSES}


def test_streaming_chat_sends_spec_events_in_order(client: httpx.Client) -> None:
    events = stream_events(
        client, "POST", "/api/chat", json={"agent_id": "assistant", "message": "What is 12*7?"}
    )
    run_id = events[0]["run_id"]
    assert_well_formed(events, run_id)
    types = [e["type"] for e in events]
    assert types[-1] == "run_completed"
    for expected in ("step_started", "tool_call_started", "tool_call_completed", "usage"):
        assert expected in types
    assert types.index("tool_call_started") < types.index("tool_call_completed")
    started = events[0]
    assert started["run_id"] == run_id and started["agent_id"] == "assistant"
    completed = events[-1]
    assert "84" in completed["response"]
    assert set(completed["metrics"]) == {
        "duration_ms",
        "steps",
        "tool_calls",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "first_token_ms",
    }
    text = "".join(e["content"] for e in events if e["type"] == "content_delta")
    assert text == completed["response"]
    assert all(e["ts"] for e in events)


def test_non_streaming_chat_answers_json(client: httpx.Client) -> None:
    response = client.post(
        "/api/chat", json={"agent_id": "assistant", "message": "What is 6*7?", "stream": False}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"run_id", "response", "metrics", "status"}
    assert body["status"] == "completed" and "42" in body["response"]
    assert body["metrics"]["tool_calls"] == 1
    run = client.get(f"/api/runs/{body['run_id']}").json()
    assert run["status"] == "completed" and run["response"] == body["response"]
    assert "owner" not in run and "heartbeat_at" not in run


def test_a_session_chains_runs_into_a_conversation(client: httpx.Client) -> None:
    first = client.post(
        "/api/chat",
        json={
            "agent_id": "quick",
            "message": "my name is Ada",
            "stream": False,
            "session_id": "api-session-1",
        },
    ).json()
    second = client.post(
        "/api/chat",
        json={
            "agent_id": "quick",
            "message": "what is my name?",
            "stream": False,
            "session_id": "api-session-1",
        },
    ).json()
    assert "Ada" in second["response"]
    runs = client.get("/api/runs", params={"session_id": "api-session-1"}).json()
    assert [r["id"] for r in runs["items"]] == [second["run_id"], first["run_id"]]
    assert client.get("/api/sessions/latest").json()["session_id"] is not None


def test_a_busy_session_is_409(client: httpx.Client) -> None:
    body = {"agent_id": "slow", "message": "count to 400", "session_id": "busy-session"}
    with client.stream("POST", "/api/chat", json=body) as stream:
        run_id = sse_events(stream, stop_after=1)[0]["run_id"]
        response = client.post("/api/chat", json={**body, "stream": False})
        assert response.status_code == 409
        assert "busy" in response.json()["detail"]
    client.post(f"/api/runs/{run_id}/cancel")
    assert wait_for_status(client, run_id, {"cancelled"})["status"] == "cancelled"


def test_chat_errors(client: httpx.Client) -> None:
    assert client.post("/api/chat", json={"agent_id": "ghost", "message": "hi"}).status_code == 404
    assert client.post("/api/chat", json={"agent_id": "slow"}).status_code == 422
    bad_session = {"message": "hi", "session_id": "../etc/passwd", "stream": False}
    assert client.post("/api/chat", json=bad_session).status_code == 422
    bad_policy = {"message": "hi", "on_disconnect": "explode"}
    assert client.post("/api/chat", json=bad_policy).status_code == 422


def test_provider_errors_become_run_failed(client: httpx.Client) -> None:
    agent = {"id": "unreachable", "model": "openai/gpt-4o-mini"}
    client.post("/api/agents", json=agent)
    # No key and no base URL in the server's environment: the run fails, the request does not.
    events = stream_events(
        client, "POST", "/api/chat", json={"agent_id": "unreachable", "message": "hi"}
    )
    assert_well_formed(events)
    assert events[-1]["type"] == "run_failed"
    assert set(events[-1]["error"]) == {"type", "message"}


def test_sse_data_is_the_flat_event_as_the_seed_clients_read_it(client: httpx.Client) -> None:
    """`JSON.parse(e.data).content` and `.metrics`: the fields beside the envelope, no `data`."""
    events = stream_events(
        client, "POST", "/api/chat", json={"agent_id": "assistant", "message": "What is 12*7?"}
    )
    envelope = ["seq", "type", "run_id", "ts"]
    for event in events:
        assert list(event)[:4] == envelope and "data" not in event
        fields = set(EVENT_CLASSES_BY_TYPE[event["type"]].model_fields)
        assert set(event) == fields, event  # every field of the model, nothing else
    deltas = [e for e in events if e["type"] == "content_delta"]
    assert "".join(e["content"] for e in deltas) == "12*7 = 84."
    assert all(e["step"] == 2 for e in deltas)
    completed = events[-1]
    assert completed["type"] == "run_completed" and completed["response"] == "12*7 = 84."
    assert completed["metrics"]["steps"] == 2 and completed["metrics"]["tool_calls"] == 1
    usage = next(e for e in events if e["type"] == "usage")
    assert isinstance(usage["total_tokens"], int)
    # A join of the finished run at /events serves the same objects, byte for byte.
    joined = stream_events(client, "GET", f"/api/runs/{completed['run_id']}/events")
    assert joined == events


def test_openapi_documents_the_stream_as_the_event_union(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    union = components["Event"]
    assert union["discriminator"]["propertyName"] == "type"
    assert set(union["discriminator"]["mapping"]) == set(EVENT_TYPES)
    required = components["ContentDelta"]["required"]
    assert required == ["seq", "type", "run_id", "ts", "content", "step"]
    assert "metrics" in components["RunCompleted"]["properties"]
    for path, method in [
        ("/api/chat", "post"),
        ("/api/runs/{run_id}/events", "get"),
        ("/api/checkpoints/{checkpoint_id}/fork", "post"),
    ]:
        stream = schema["paths"][path][method]["responses"]["200"]["content"]["text/event-stream"]
        data = stream["schema"]["properties"]["data"]
        assert data["contentSchema"] == {"$ref": "#/components/schemas/Event"}, path
        assert set(stream["schema"]["properties"]["event"]["enum"]) == set(EVENT_TYPES)
    refs = {ref["$ref"].rsplit("/", 1)[1] for ref in union["oneOf"]}
    assert refs == {cls.__name__ for cls in EVENT_CLASSES} and refs <= set(components)
