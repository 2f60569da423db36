"""Over HTTP: deleting runs, searching them, per-run options, one check of model params."""

from __future__ import annotations

import httpx
from api_helpers import start_stepper_run, wait_for_status

DONE = {"completed", "failed", "cancelled"}


def _run(client: httpx.Client, message: str, **extra: object) -> dict[str, object]:
    started = client.post("/api/runs", json={"message": message, **extra})
    assert started.status_code == 201, started.text
    return wait_for_status(client, started.json()["id"], DONE)


def test_delete_a_run_and_the_session_goes_on(client: httpx.Client) -> None:
    first = _run(client, "My name is Grace.", session_id="api-delete-session")
    second = _run(client, "hello", session_id="api-delete-session")
    assert client.delete(f"/api/runs/{first['id']}").status_code == 204
    assert client.get(f"/api/runs/{first['id']}").status_code == 404
    assert client.delete(f"/api/runs/{first['id']}").status_code == 404
    third = _run(client, "What is my name?", session_id="api-delete-session")
    assert third["response"] == "Your name is Grace."
    checkpoint = client.get(f"/api/checkpoints/{second['last_checkpoint_id']}").json()
    assert checkpoint["messages"][1]["content"] == "My name is Grace."


def test_a_running_run_is_not_deleted(client: httpx.Client) -> None:
    run_id = start_stepper_run(client)
    refused = client.delete(f"/api/runs/{run_id}")
    assert refused.status_code == 409 and "running" in refused.json()["detail"]
    client.post(f"/api/runs/{run_id}/cancel")
    assert client.delete(f"/api/runs/{run_id}").status_code == 204


def test_search_with_q(client: httpx.Client) -> None:
    found = _run(client, "a needle in the api haystack")
    page = client.get("/api/runs", params={"q": "NEEDLE IN THE API"}).json()
    assert [r["id"] for r in page["items"]] == [found["id"]] and page["total"] == 1


def test_per_run_options_and_their_checks(client: httpx.Client) -> None:
    run = _run(client, "hello", system_prompt="Answer in haiku.", model_params={"temperature": 1})
    checkpoint = client.get(f"/api/checkpoints/{run['last_checkpoint_id']}").json()
    assert checkpoint["agent"]["system_prompt"] == "Answer in haiku."
    assert checkpoint["agent"]["model_params"]["temperature"] == 1.0
    bad = client.post("/api/runs", json={"message": "hi", "model_params": {"temperature": "hot"}})
    assert bad.status_code == 422 and "temperature" in bad.json()["detail"]
    unknown = client.post("/api/runs", json={"message": "hi", "model_params": {"colour": 1}})
    assert unknown.status_code == 422 and "colour: not a parameter" in unknown.json()["detail"]
    redirect = client.post(
        "/api/runs", json={"message": "hi", "model_params": {"base_url": "http://evil.example"}}
    )
    assert redirect.status_code == 422


def test_fork_modifications_are_checked_for_the_provider(client: httpx.Client) -> None:
    run = _run(client, "hello")
    checkpoint = run["last_checkpoint_id"]
    for params in ({"temperature": "abc"}, {"max_tokens": 2.5}, {"nonsense": True}):
        body = {"modifications": {"model_params": params}}
        forked = client.post(f"/api/checkpoints/{checkpoint}/fork", json=body)
        assert forked.status_code == 422, (params, forked.text)
        restored = client.post(
            f"/api/checkpoints/{checkpoint}/restore", json={"create_new_run": False, **body}
        )
        assert restored.status_code == 422, (params, restored.text)
    good = client.post(
        f"/api/checkpoints/{checkpoint}/fork",
        json={"modifications": {"model_params": {"temperature": "0.5"}}},
    )
    assert good.status_code == 200, good.text


def test_models(client: httpx.Client) -> None:
    catalog = client.get("/api/models").json()
    assert catalog["items"][0] == {"id": "offline/demo", "provider": "offline", "offline": True}
    assert isinstance(catalog["notes"], list)
