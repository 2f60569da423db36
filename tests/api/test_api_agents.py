"""Agents over HTTP: list (limit/offset/tag), get, create, update, delete."""

from __future__ import annotations

import httpx


def _agent(agent_id: str, **fields: object) -> dict[str, object]:
    return {"id": agent_id, "model": "offline/demo", **fields}


def test_list_has_the_default_agent_and_pages(client: httpx.Client) -> None:
    for n in range(3):
        client.post("/api/agents", json=_agent(f"pager-{n}", tags=["pager"]))
    page = client.get("/api/agents", params={"tag": "pager", "limit": 2}).json()
    assert page["total"] == 3 and page["limit"] == 2 and page["offset"] == 0
    assert [a["id"] for a in page["items"]] == ["pager-0", "pager-1"]
    rest = client.get("/api/agents", params={"tag": "pager", "limit": 2, "offset": 2}).json()
    assert [a["id"] for a in rest["items"]] == ["pager-2"]
    everything = client.get("/api/agents").json()
    assert "assistant" in [a["id"] for a in everything["items"]]
    assert client.get("/api/agents", params={"tag": "no-such-tag"}).json()["total"] == 0


def test_create_get_update_delete(client: httpx.Client) -> None:
    created = client.post(
        "/api/agents",
        json=_agent("crud", name="CRUD", model_params={"temperature": 0.2}, tags=["x"]),
    )
    assert created.status_code == 201, created.text
    agent = created.json()
    assert agent["name"] == "CRUD" and agent["max_steps"] == 10 and agent["created_at"]
    assert client.get("/api/agents/crud").json() == agent

    duplicate = client.post("/api/agents", json=_agent("crud"))
    assert duplicate.status_code == 409
    replaced = client.post("/api/agents?replace=true", json=_agent("crud", name="Again"))
    assert replaced.status_code == 201 and replaced.json()["name"] == "Again"

    updated = client.put("/api/agents/crud", json={"model": "offline/demo", "name": "New"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["name"] == "New"
    assert updated.json()["created_at"] == agent["created_at"]
    renamed = client.put("/api/agents/crud", json=_agent("other-id"))
    assert renamed.status_code == 422

    assert client.delete("/api/agents/crud").status_code == 204
    assert client.get("/api/agents/crud").status_code == 404
    assert client.delete("/api/agents/crud").status_code == 404
    assert client.put("/api/agents/crud", json=_agent("crud")).status_code == 404


def test_invalid_agents_are_422(client: httpx.Client) -> None:
    cases = [
        {"id": "Bad Id", "model": "offline/demo"},
        {"id": "ok", "model": "no-slash"},
        {"id": "ok", "model": "nosuchprovider/x"},
        {"id": "ok", "model": "offline/demo", "tools": ["no_such_tool"]},
        {"id": "ok", "model": "offline/demo", "max_steps": 0},
        {"id": "ok", "model": "offline/demo", "colour": "blue"},
        {"model": "offline/demo"},
    ]
    for body in cases:
        response = client.post("/api/agents", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["detail"]


def test_import_path_tools_cannot_be_set_over_http(client: httpx.Client) -> None:
    response = client.post("/api/agents", json=_agent("rce", tools=["os:system"]))
    assert response.status_code == 422
    assert "agents create -f" in response.json()["detail"]
    client.post("/api/agents", json=_agent("safe"))
    response = client.put("/api/agents/safe", json=_agent("safe", tools=["os:system"]))
    assert response.status_code == 422


def test_default_agent_cannot_be_deleted(client: httpx.Client) -> None:
    response = client.delete("/api/agents/assistant")
    assert response.status_code == 409
    assert "built in" in response.json()["detail"]
