"""Health, docs, error shapes, body limits and CORS: what every route shares."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from agio_core import __version__


def test_health_needs_no_auth_and_says_healthy(client: httpx.Client) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "healthy"
    assert body["version"] == __version__
    assert body["timestamp"].endswith("Z") or "+00:00" in body["timestamp"]


def test_docs_redoc_and_openapi_are_served(client: httpx.Client) -> None:
    assert "swagger" in client.get("/docs").text.lower()
    assert "redoc" in client.get("/redoc").text.lower()
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    expected = {
        "/api/health": {"get"},
        "/api/agents": {"get", "post"},
        "/api/agents/{agent_id}": {"get", "put", "delete"},
        "/api/chat": {"post"},
        "/api/runs": {"get", "post"},
        "/api/runs/{run_id}": {"get", "delete"},
        "/api/runs/{run_id}/pause": {"post"},
        "/api/runs/{run_id}/resume": {"post"},
        "/api/runs/{run_id}/cancel": {"post"},
        "/api/runs/{run_id}/approvals": {"post"},
        "/api/runs/{run_id}/events": {"get"},
        "/api/runs/{run_id}/stream-token": {"post"},
        "/api/runs/{run_id}/tree": {"get"},
        "/api/sessions/latest": {"get"},
        "/api/tools": {"get"},
        "/api/models": {"get"},
        "/api/checkpoints/runs/{run_id}/checkpoints": {"get", "post"},
        "/api/checkpoints/{checkpoint_id}": {"get"},
        "/api/checkpoints/{checkpoint_id}/restore": {"post"},
        "/api/checkpoints/{checkpoint_id}/fork": {"post"},
        "/api/checkpoints/{a}/diff/{b}": {"get"},
    }
    assert {path: set(ops) for path, ops in paths.items()} == expected


def test_openapi_documents_bodies_and_responses(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    chat = schema["paths"]["/api/chat"]["post"]
    assert chat["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ChatRequest"
    )
    answers = chat["responses"]["200"]["content"]
    assert answers["application/json"]["schema"]["$ref"].endswith("/ChatResponse")
    assert "text/event-stream" in answers
    chat_request = schema["components"]["schemas"]["ChatRequest"]["properties"]
    assert {"agent_id", "message", "stream", "session_id", "user_id", "on_disconnect"} <= set(
        chat_request
    )
    events = schema["paths"]["/api/runs/{run_id}/events"]["get"]
    assert "token" in {p["name"] for p in events["parameters"] if p["in"] == "query"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method} {path} has no summary"
            if path != "/api/health":
                assert "401" in operation["responses"], f"{method} {path}: 401 undocumented"
    extensions = [
        f"{m} {p}"
        for p, ops in schema["paths"].items()
        for m, op in ops.items()
        if "(extension)" in op["summary"]
    ]
    assert "get /api/runs/{run_id}/events" in extensions
    assert "get /api/checkpoints/{a}/diff/{b}" in extensions


def test_errors_are_json_detail_with_the_right_status(client: httpx.Client) -> None:
    cases = [
        ("GET", "/api/agents/nobody", 404),
        ("GET", "/api/runs/run_0123456789abcdef", 404),
        ("GET", "/api/runs/not-a-run-id", 404),
        ("GET", "/api/runs/..%2F..%2Fetc", 404),
        ("GET", "/api/checkpoints/ck_0123456789abcdef_0001", 404),
        ("GET", "/api/checkpoints/whatever", 404),
        ("GET", "/api/runs?status=sleeping", 422),
        ("GET", "/api/agents?limit=0", 422),
        ("GET", "/api/agents?offset=-1", 422),
        ("GET", "/api/nowhere", 404),
    ]
    for method, url, status in cases:
        response = client.request(method, url)
        assert response.status_code == status, (url, response.text)
        assert "detail" in response.json()


def test_bad_json_and_wrong_types_are_422_not_500(client: httpx.Client) -> None:
    bad_bodies: list[bytes] = [b"{", b"[]", b'"text"', b"null", b'{"message": 12}']
    for body in bad_bodies:
        response = client.post(
            "/api/chat", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, (body, response.text)
    response = client.post("/api/chat", json={"message": "hi", "surprise": True})
    assert response.status_code == 422
    assert "surprise" in response.text


def test_oversized_bodies_are_413(client: httpx.Client) -> None:
    from agio_core.api.middleware import MAX_BODY_BYTES
    from agio_core.attachments import MAX_ATTACHED_BYTES

    # The routes that take attachments have room for them (see test_api_attachments.py).
    text = "x" * (MAX_BODY_BYTES + MAX_ATTACHED_BYTES)
    big = {"agent_id": "assistant", "message": text, "stream": False}
    response = client.post("/api/chat", json=big)
    assert response.status_code == 413
    assert "detail" in response.json()
    response = client.post("/api/agents", json={"id": "big", "description": text[:2_000_000]})
    assert response.status_code == 413

    def chunked() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * 65536

    response = client.post(
        "/api/agents", content=chunked(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_cors_is_off_by_default(client: httpx.Client) -> None:
    response = client.options(
        "/api/agents",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in response.headers
    response = client.get("/api/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_importing_the_app_does_no_io(tmp_path: Path) -> None:
    home = tmp_path / "not-yet"
    code = "import agio_core.api.app as m; assert m.app.title == 'agio'"
    env = {**os.environ, "AGIO_HOME": str(home)}
    subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, check=True, timeout=60)
    assert not home.exists()
