"""Stream tokens (SPEC §5): how a browser EventSource, which cannot send headers, joins one
run's events on a server with AGIO_API_KEYS, and nowhere else."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from api_helpers import API_KEY, OTHER_KEY, assert_well_formed, iter_events
from helpers.servers import Server, clean_env, free_port, start_server

from agio_core.api.stream_tokens import StreamTokens

KEY = {"Authorization": f"Bearer {API_KEY}"}


def uvicorn_server(workdir: Path, home: Path, name: str, **env: str) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "agio_core.api.app:app", "--port", str(port)]
    return start_server(argv, workdir, port, clean_env(home, **env), name)


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("tokens")
    instance = uvicorn_server(
        workdir, workdir / "home", "keyed", AGIO_API_KEYS=f"{API_KEY},{OTHER_KEY}"
    )
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def finished_run(keyed: Server) -> str:
    body = {"message": "What is 6*7?", "stream": False}
    answer = httpx.post(f"{keyed.url}/api/chat", json=body, headers=KEY, timeout=30)
    assert answer.status_code == 200, answer.text
    run_id: str = answer.json()["run_id"]
    return run_id


def mint(server: Server, run_id: str, key: str = API_KEY) -> dict[str, str]:
    answer = httpx.post(
        f"{server.url}/api/runs/{run_id}/stream-token",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    minted: dict[str, str] = answer.json()
    return minted


def events_with(server: Server, run_id: str, token: str) -> httpx.Response:
    url = f"{server.url}/api/runs/{run_id}/events"
    return httpx.get(url, params={"token": token}, timeout=30)


def test_a_token_opens_that_runs_events(keyed: Server, finished_run: str) -> None:
    minted = mint(keyed, finished_run)
    assert set(minted) == {"token", "expires_at", "events_url"}
    expires = datetime.fromisoformat(minted["expires_at"])
    assert 590 <= (expires - datetime.now(UTC)).total_seconds() <= 601  # default 10 minutes
    url = urlsplit(minted["events_url"])
    assert f"{url.scheme}://{url.netloc}" == keyed.url
    assert url.path == f"/api/runs/{finished_run}/events"
    assert parse_qs(url.query) == {"token": [minted["token"]]}

    with httpx.stream("GET", minted["events_url"], timeout=30) as response:
        assert response.status_code == 200, response.read()
        events = list(iter_events(response))
    assert_well_formed(events, finished_run)
    assert events[-1]["type"] == "run_completed"
    # Last-Event-ID still works with a token (an EventSource reconnecting).
    with httpx.stream(
        "GET", minted["events_url"], headers={"Last-Event-ID": str(events[-2]["seq"])}
    ) as response:
        assert [e["seq"] for e in iter_events(response)] == [events[-1]["seq"]]


def test_minting_needs_a_key_and_a_known_run(keyed: Server, finished_run: str) -> None:
    path = f"{keyed.url}/api/runs/{finished_run}/stream-token"
    assert httpx.post(path).status_code == 401
    assert httpx.post(path, headers={"Authorization": "Bearer nope"}).status_code == 401
    unknown = f"{keyed.url}/api/runs/run_0123456789abcdef/stream-token"
    assert httpx.post(unknown, headers=KEY).status_code == 404
    # Keys are never taken from the URL, not even by the route that mints tokens.
    assert httpx.post(path, params={"token": API_KEY}).status_code == 401


def test_a_token_admits_nowhere_else(keyed: Server, finished_run: str) -> None:
    token = mint(keyed, finished_run)["token"]
    other = httpx.post(
        f"{keyed.url}/api/chat", json={"message": "hi", "stream": False}, headers=KEY
    ).json()["run_id"]
    assert events_with(keyed, other, token).status_code == 401
    for method, path in [
        ("GET", f"/api/runs/{finished_run}"),
        ("GET", "/api/runs"),
        ("POST", f"/api/runs/{finished_run}/stream-token"),
        ("GET", f"/api/checkpoints/runs/{finished_run}/checkpoints"),
        ("POST", f"/api/runs/{finished_run}/cancel"),
        ("GET", "/openapi.json"),
    ]:
        answer = httpx.request(method, f"{keyed.url}{path}", params={"token": token})
        assert answer.status_code == 401, (path, answer.text)


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: API_KEY,  # an API key is never accepted in a URL
        lambda token: OTHER_KEY,
        lambda token: "",
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature changed
        lambda token: token.replace(".", ".9", 1),  # expiry pushed out
        lambda token: token + "=",
        lambda token: token.upper(),
        lambda token: "run_0123456789abcdef" + token[len("run_0123456789abcdef") :],
        lambda token: token.replace("1", "١"),  # Unicode digits
        lambda token: "x" * 10_000,
    ],
)
def test_forged_tokens_are_refused(keyed: Server, finished_run: str, forge: object) -> None:
    token = mint(keyed, finished_run)["token"]
    forged = forge(token)  # type: ignore[operator]
    answer = events_with(keyed, finished_run, forged)
    assert answer.status_code == 401, answer.text
    assert (not forged or forged not in answer.text) and token not in answer.text


def test_any_host_with_the_same_keys_accepts_it(
    keyed: Server, finished_run: str, tmp_path: Path
) -> None:
    """Nothing is shared but the keys: a second server on the same store (another worker or
    host) accepts the first one's token; a server without that key does not."""
    minted = mint(keyed, finished_run, key=OTHER_KEY)
    # Keys in another order, and more of them: only the one the token was asked with counts.
    twin = uvicorn_server(
        tmp_path, keyed.home, "twin", AGIO_API_KEYS=f"third-key,{OTHER_KEY},{API_KEY}"
    )
    rotated = uvicorn_server(tmp_path, keyed.home, "rotated", AGIO_API_KEYS=API_KEY)
    try:
        with httpx.stream(
            "GET", f"{twin.url}/api/runs/{finished_run}/events", params={"token": minted["token"]}
        ) as response:
            assert response.status_code == 200
            assert list(iter_events(response))[-1]["type"] == "run_completed"
        # OTHER_KEY was removed from this one: its tokens die with it.
        assert events_with(rotated, finished_run, minted["token"]).status_code == 401
    finally:
        twin.stop()
        rotated.stop()


def test_tokens_never_reach_the_log(keyed: Server, finished_run: str) -> None:
    token = mint(keyed, finished_run)["token"]
    assert events_with(keyed, finished_run, token).status_code == 200
    assert events_with(keyed, finished_run, token + "x").status_code == 401
    signature = token.rsplit(".", 1)[1]
    deadline = time.monotonic() + 10
    while "token=[redacted]" not in keyed.log() and time.monotonic() < deadline:
        time.sleep(0.05)  # the access log line is written after the response
    log = keyed.log()
    assert f"/api/runs/{finished_run}/events?token=[redacted]" in log
    assert signature not in log and API_KEY not in log and OTHER_KEY not in log


def test_the_lifetime_is_a_setting(tmp_path: Path) -> None:
    server = uvicorn_server(
        tmp_path, tmp_path / "home", "ttl", AGIO_API_KEYS=API_KEY, AGIO_STREAM_TOKEN_TTL_S="45"
    )
    try:
        run_id = httpx.post(
            f"{server.url}/api/chat", json={"message": "hi", "stream": False}, headers=KEY
        ).json()["run_id"]
        expires = datetime.fromisoformat(mint(server, run_id)["expires_at"])
        assert 40 <= (expires - datetime.now(UTC)).total_seconds() <= 46
    finally:
        server.stop()


def test_an_expired_token_is_refused() -> None:
    run_id = "run_0123456789abcdef"
    live = StreamTokens([API_KEY.encode()], ttl_s=60)
    expired = StreamTokens([API_KEY.encode()], ttl_s=-1)
    assert live.valid_for(live.mint(run_id, API_KEY.encode()).token, run_id)
    assert not live.valid_for(expired.mint(run_id, API_KEY.encode()).token, run_id)


def test_without_keys_the_route_still_answers(server: Server) -> None:
    """Without AGIO_API_KEYS the API is open: events need no token, and the route still
    gives one, so browser code is the same either way."""
    run_id = httpx.post(
        f"{server.url}/api/chat", json={"agent_id": "quick", "message": "hi", "stream": False}
    ).json()["run_id"]
    minted = httpx.post(f"{server.url}/api/runs/{run_id}/stream-token").json()
    with httpx.stream("GET", minted["events_url"]) as response:
        assert response.status_code == 200
        assert list(iter_events(response))[-1]["type"] == "run_completed"
    assert httpx.post(f"{server.url}/api/runs/run_0123456789abcdef/stream-token").status_code == 404
