"""Bearer keys: every API route but health refuses a missing or wrong key, and changes
nothing; the comparison is constant-time; keys never reach logs, responses or the store.

The server runs with `AGIO_LOG_LEVEL=DEBUG`, talks to the fake model server with its own
upstream key, and gets requests with real ids (a completed run, a paused run, checkpoints).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_openai import FakeOpenAIServer, HttpErrorReply, TextReply

from agio_core.api import auth

from .conftest import ServerFactory
from .support import ServerProcess, no_traceback

KEYS = ("agio-key-first-0123456789abcdef", "agio-key-second-fedcba9876543210")
UPSTREAM_KEY = "sk-upstream-secret-0123456789"
SECRETS = (*KEYS, UPSTREAM_KEY)


def wrong_credentials() -> list[dict[str, str]]:
    key = KEYS[0]
    return [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {key[:-1]}"},  # a prefix
        {"Authorization": f"Bearer {key}x"},  # an extension
        {"Authorization": f"Bearer {key.upper()}"},
        {"Authorization": f"Bearer {KEYS[0]},{KEYS[1]}"},
        {"Authorization": f"Basic {key}"},
        {"Authorization": key},
        {"X-API-Key": key},
        {"Authorization": f"Bearer {UPSTREAM_KEY}"},
    ]


@pytest.fixture
def secured(
    start_server: ServerFactory, fake_openai: FakeOpenAIServer
) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    server = start_server(
        AGIO_API_KEYS=",".join(KEYS),
        AGIO_LOG_LEVEL="DEBUG",
        AGIO_OPENAI_BASE_URL=fake_openai.base_url,
        AGIO_OPENAI_API_KEY=UPSTREAM_KEY,
    )
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {KEYS[1]}"}, timeout=30
    ) as client:
        slow = {
            "id": "slow",
            "model": "offline/demo",
            "model_params": {"delay_ms": 30, "parallel_tool_calls": False},
            "tools": ["calculator"],
        }
        assert client.post("/api/agents", json=slow).status_code == 201
        done = client.post("/api/chat", json={"message": "What is 6*7?", "stream": False})
        question = "What is " + ", ".join(f"{i}*{i}" for i in range(2, 30)) + "?"
        paused = client.post("/api/runs", json={"agent_id": "slow", "message": question})
        paused_id = paused.json()["id"]
        assert client.post(f"/api/runs/{paused_id}/pause").json()["status"] == "paused"
        checkpoints = client.get(f"/api/checkpoints/runs/{paused_id}/checkpoints").json()["items"]
        ids = {
            "agent_id": "slow",
            "run_id": paused_id,
            "completed_run": done.json()["run_id"],
            "checkpoint_id": checkpoints[-1]["id"],
            "a": checkpoints[0]["id"],
            "b": checkpoints[-1]["id"],
        }
    yield server, ids


def operations(server: ServerProcess) -> list[tuple[str, str]]:
    """Every operation the API documents (the schema, like the docs, needs a key too)."""
    assert httpx.get(f"{server.url}/openapi.json").status_code == 401
    schema = httpx.get(
        f"{server.url}/openapi.json", headers={"Authorization": f"Bearer {KEYS[0]}"}
    ).json()
    return [(method.upper(), path) for path, ops in schema["paths"].items() for method in ops]


def test_every_route_but_health_refuses_a_wrong_key(
    secured: tuple[ServerProcess, dict[str, str]],
) -> None:
    server, ids = secured
    routes = operations(server)
    assert len(routes) >= 20
    bodies: list[Any] = [None, {}, {"message": "hi", "stream": False}, "not json"]
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for method, template in routes:
            path = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], template)
            for headers in wrong_credentials():
                for body in bodies:
                    response = client.request(method, path, headers=headers, json=body)
                    if template == "/api/health":
                        assert response.status_code == 200
                        continue
                    # 401 before anything else: an unknown caller learns nothing (no 404/422).
                    assert response.status_code == 401, (method, path, headers, response.text)
                    assert response.headers["www-authenticate"] == "Bearer"
                    assert response.json() == {
                        "detail": "missing or invalid API key: send 'Authorization: Bearer <key>'"
                    }
        # Nothing happened: the paused run is still paused, the agent still there.
        good = {"Authorization": f"Bearer {KEYS[0]}"}
        run = client.get(f"/api/runs/{ids['run_id']}", headers=good).json()
        assert run["status"] == "paused"
        assert client.get("/api/agents/slow", headers=good).status_code == 200
        assert client.get("/api/runs", headers=good).json()["total"] == 2


def test_key_comparison_is_constant_time() -> None:
    """Both keys are compared with `hmac.compare_digest`, every key every time (no early
    exit that would tell which key a guess is close to)."""
    source = inspect.getsource(auth.key_matches)
    assert "hmac.compare_digest" in source
    assert "==" not in source and "return True" not in source
    keys = [k.encode() for k in KEYS]
    assert auth.key_matches(KEYS[1], keys) and not auth.key_matches(KEYS[1][:-1], keys)
    assert not auth.key_matches("", keys) and not auth.key_matches("é", keys)


def test_keys_never_leak(
    secured: tuple[ServerProcess, dict[str, str]], fake_openai: FakeOpenAIServer, home: Path
) -> None:
    server, _ = secured
    seen: list[str] = []
    good = {"Authorization": f"Bearer {KEYS[0]}"}
    gpt = {"id": "gpt", "model": "openai/gpt-4o-mini", "model_params": {"max_retries": 0}}
    with httpx.Client(base_url=server.url, headers=good, timeout=30) as client:

        def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
            response = client.request(method, path, **kwargs)
            seen.append(str(response.headers) + response.text)
            return response

        call("POST", "/api/agents", json=gpt)
        fake_openai.queue(
            TextReply(("fine",)),
            HttpErrorReply.unauthorized(),
            # A model server that echoes the key it was sent in its error message.
            HttpErrorReply(400, f"invalid request with key {UPSTREAM_KEY}"),
            HttpErrorReply.server_error(),
        )
        for _ in range(4):
            call("POST", "/api/chat", json={"agent_id": "gpt", "message": "hi", "stream": False})
        with client.stream("POST", "/api/chat", json={"agent_id": "gpt", "message": "go"}) as sse:
            seen.append(sse.read().decode())
        runs = call("GET", "/api/runs", params={"limit": 100}).json()["items"]
        for run in runs:
            call("GET", f"/api/runs/{run['id']}")
            call("GET", f"/api/runs/{run['id']}/events", params={"follow": "false"})
            for checkpoint in call("GET", f"/api/checkpoints/runs/{run['id']}/checkpoints").json()[
                "items"
            ]:
                call("GET", f"/api/checkpoints/{checkpoint['id']}")
        call("GET", "/api/agents")
        call("GET", "/openapi.json")
        for headers in wrong_credentials():
            seen.append(client.get("/api/runs", headers=headers).text)
    assert fake_openai.chat_requests[0].headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert any(r["error"] and r["error"]["type"] == "api_error" for r in runs)

    log = server.log()
    assert '"POST /api/chat HTTP/1.1" 200' in log  # the access log was captured
    stored = b"".join(p.read_bytes() for p in server.home.rglob("*") if p.is_file())
    for secret in SECRETS:
        assert secret not in log, f"{secret} in the server log"
        assert not any(secret in text for text in seen), f"{secret} in a response"
        assert secret.encode() not in stored, f"{secret} in AGIO_HOME"
    assert no_traceback(log)
