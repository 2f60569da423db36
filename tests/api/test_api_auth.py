"""Bearer keys (AGIO_API_KEYS) and CORS (AGIO_CORS_ORIGINS), on a server launched as
`uvicorn agio_core.api.app:app` that reads both from its environment."""

from __future__ import annotations

import httpx
import pytest
from api_helpers import API_KEY, OTHER_KEY
from helpers.servers import Server

PROTECTED = [
    ("GET", "/api/agents"),
    ("GET", "/api/agents/assistant"),
    ("POST", "/api/chat"),
    ("GET", "/api/runs"),
    ("GET", "/api/runs/run_0123456789abcdef/events"),
    ("POST", "/api/runs/run_0123456789abcdef/pause"),
    ("GET", "/api/checkpoints/ck_0123456789abcdef_0000"),
    ("GET", "/api/sessions/latest"),
]


@pytest.fixture
def anonymous(auth_server: Server) -> httpx.Client:
    return httpx.Client(base_url=auth_server.url, timeout=30)


def test_only_health_stays_open(anonymous: httpx.Client) -> None:
    assert anonymous.get("/api/health").status_code == 200
    key = {"Authorization": f"Bearer {API_KEY}"}
    for path in ("/openapi.json", "/docs", "/redoc"):
        assert anonymous.get(path).status_code == 401, path
        assert anonymous.get(path, headers=key).status_code == 200, path


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_api_route_needs_a_key(anonymous: httpx.Client, method: str, path: str) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {API_KEY}x"},
        {"Authorization": f"Basic {API_KEY}"},
        {"Authorization": API_KEY},
    ):
        response = anonymous.request(method, path, headers=headers, json={"message": "x"})
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert API_KEY not in response.text


def test_any_configured_key_works(anonymous: httpx.Client, auth_server: Server) -> None:
    for key in (API_KEY, OTHER_KEY):
        response = anonymous.get("/api/agents", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200
    answer = anonymous.post(
        "/api/chat",
        json={"message": "What is 2*21?", "stream": False},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert answer.status_code == 200 and "42" in answer.json()["response"]
    assert API_KEY not in auth_server.log() and OTHER_KEY not in auth_server.log()


def test_openapi_declares_the_bearer_scheme(anonymous: httpx.Client) -> None:
    schema = anonymous.get("/openapi.json", headers={"Authorization": f"Bearer {API_KEY}"}).json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_cors_allows_only_the_configured_origin(anonymous: httpx.Client) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    allowed = anonymous.options("/api/chat", headers={"Origin": "https://app.example", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    denied = anonymous.options("/api/chat", headers={"Origin": "https://evil.example", **preflight})
    assert denied.headers.get("access-control-allow-origin") != "https://evil.example"
