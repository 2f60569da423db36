"""The HTTP API from a real browser: Debian's Chromium driven by Playwright.

The page is served by a second loopback server, so every call is cross-origin, as from a
web app: the seed README's EventSource client, a fetch-streamed chat, a reconnect with
Last-Event-ID, CORS on and off, a server with keys followed through a stream token, and a
DNS-rebinding page refused by the Host check.
"""

from __future__ import annotations

import re
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import API_KEY
from helpers.servers import Server, agio_serve, clean_env, free_port, start_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A name of the "attacker's" that resolves to loopback, as DNS rebinding makes it.
    "--host-resolver-rules=MAP rebind.test 127.0.0.1",
]
SLOW = {"id": "slow", "model": "offline/demo", "model_params": {"delay_ms": 20}}
PAGE = b"<!doctype html><meta charset=utf-8><title>agio browser test</title><p>agio"

# The seed README's browser client, as written there, on a stream of any run.
SEED_CLIENT = """
({url, timeoutMs}) => new Promise((resolve, reject) => {
  const es = new EventSource(url);
  const parts = [];
  es.addEventListener('content_delta', e => parts.push(JSON.parse(e.data).content));
  es.addEventListener('run_completed', e => {
    es.close();
    resolve({text: parts.join(''), metrics: JSON.parse(e.data).metrics});
  });
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) reject(new Error('EventSource failed: ' + url));
  };
  setTimeout(() => { es.close(); reject(new Error('no run_completed in time')); }, timeoutMs);
})
"""
# Whether an EventSource on `url` is refused (it then closes for good, no reconnects).
EVENTSOURCE_REFUSED = """
({url}) => new Promise(resolve => {
  const es = new EventSource(url);
  es.onopen = () => { es.close(); resolve(false); };
  es.onerror = () => { if (es.readyState === EventSource.CLOSED) resolve(true); };
  setTimeout(() => { es.close(); resolve(false); }, 10000);
})
"""
POST_JSON = """
async ({url, body, headers}) => {
  const r = await fetch(url, {
    method: 'POST',
    headers: {'Content-Type': 'application/json', ...(headers || {})},
    body: JSON.stringify(body),
  });
  return {status: r.status, body: await r.json()};
}
"""


def _page_server() -> Iterator[str]:
    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """A second loopback server, on its own port: another origin than any API server."""
    yield from _page_server()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any, page_origin: str) -> Iterator[Any]:
    context = browser.new_context()
    tab = context.new_page()
    tab.goto(page_origin)
    yield tab
    context.close()


@pytest.fixture(scope="module")
def cors_api(tmp_path_factory: pytest.TempPathFactory, page_origin: str) -> Iterator[Server]:
    """`agio serve` without keys, with CORS for the page's origin."""
    instance = agio_serve(
        tmp_path_factory.mktemp("cors"),
        "cors",
        AGIO_CORS_ORIGINS=f"https://x.example,{page_origin}",
    )
    httpx.post(f"{instance.url}/api/agents", json=SLOW).raise_for_status()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def keyed_api(tmp_path_factory: pytest.TempPathFactory, page_origin: str) -> Iterator[Server]:
    """`uvicorn agio_core.api.app:app` with keys and CORS for the page's origin."""
    workdir = tmp_path_factory.mktemp("keyed-cors")
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "agio_core.api.app:app", "--port", str(port)]
    env = clean_env(workdir / "home", AGIO_API_KEYS=API_KEY, AGIO_CORS_ORIGINS=page_origin)
    instance = start_server(argv, workdir, port, env, "keyed-cors")
    yield instance
    instance.stop()


def _run(server: Server, run_id: str, key: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    run: dict[str, Any] = httpx.get(f"{server.url}/api/runs/{run_id}", headers=headers).json()
    return run


def _start(page: Any, api: Server, message: str, agent_id: str = "slow") -> str:
    started = page.evaluate(
        POST_JSON,
        {"url": f"{api.url}/api/runs", "body": {"agent_id": agent_id, "message": message}},
    )
    assert started["status"] == 201, started
    run_id: str = started["body"]["id"]
    return run_id


def test_the_seed_eventsource_client_follows_a_run(page: Any, cors_api: Server) -> None:
    run_id = _start(page, cors_api, "count to 30")
    got = page.evaluate(
        SEED_CLIENT, {"url": f"{cors_api.url}/api/runs/{run_id}/events", "timeoutMs": 20000}
    )
    run = _run(cors_api, run_id)
    assert run["status"] == "completed"
    assert got["text"] == run["response"] and got["text"].startswith("1 2 3")
    assert got["metrics"] == run["metrics"] and got["metrics"]["total_tokens"] > 0
    # A finished run replays in full to a late EventSource.
    again = page.evaluate(
        SEED_CLIENT, {"url": f"{cors_api.url}/api/runs/{run_id}/events", "timeoutMs": 20000}
    )
    assert again == got


def test_the_readmes_browser_client_runs_as_written(page: Any, cors_api: Server) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    (client,) = re.findall(r"```js\n(.*?)```", readme, re.DOTALL)
    run_id = _start(page, cors_api, "count to 12")
    got = page.evaluate(
        "({API, runId}) => new Promise((resolve, reject) => {"
        " const parts = [];"
        " const append = text => parts.push(text);"
        " const show = metrics => resolve({text: parts.join(''), metrics});"
        f" {client}"
        " setTimeout(() => reject(new Error('no run_completed in time')), 20000);"
        "})",
        {"API": cors_api.url, "runId": run_id},
    )
    run = _run(cors_api, run_id)
    assert got == {"text": run["response"], "metrics": run["metrics"]}


def test_a_fetch_streamed_chat_arrives_in_pieces(page: Any, cors_api: Server) -> None:
    got = page.evaluate(
        """
        async ({url}) => {
          const r = await fetch(url, {
            method: 'POST',
            headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({agent_id: 'slow', message: 'count to 40'}),
          });
          const reader = r.body.getReader();
          const decoder = new TextDecoder();
          let buffer = '', reads = 0;
          const events = [];
          for (;;) {
            const {value, done} = await reader.read();
            if (done) break;
            reads += 1;
            buffer += decoder.decode(value, {stream: true});
            let end;
            while ((end = buffer.indexOf('\\n\\n')) >= 0) {
              const frame = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const data = frame.split('\\n').filter(l => l.startsWith('data:'))
                .map(l => l.slice(5).trim()).join('\\n');
              if (data) events.push(JSON.parse(data));
            }
          }
          return {status: r.status, type: r.headers.get('content-type'), reads, events};
        }
        """,
        {"url": f"{cors_api.url}/api/chat"},
    )
    assert got["status"] == 200 and got["type"].startswith("text/event-stream")
    events = got["events"]
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_completed"
    assert got["reads"] > 5, "the stream came in one piece: it was buffered, not streamed"
    text = "".join(e["content"] for e in events if e["type"] == "content_delta")
    assert text == events[-1]["response"] == _run(cors_api, events[0]["run_id"])["response"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_eventsource_reconnects_with_last_event_id(page: Any, cors_api: Server) -> None:
    """The stream ends when the run pauses; the EventSource reconnects by itself, sending
    Last-Event-ID, and gets what happened since (the resume) exactly once."""
    run_id = _start(page, cors_api, "count to 80")
    got = page.evaluate(
        """
        ({api, runId}) => new Promise((resolve, reject) => {
          const es = new EventSource(`${api}/api/runs/${runId}/events`);
          const seen = [];
          let opens = 0, paused = false;
          es.onopen = () => { opens += 1; };
          const record = e => {
            const event = JSON.parse(e.data);
            seen.push([event.seq, event.type, e.lastEventId]);
            if (event.type === 'content_delta' && !paused && seen.length > 10) {
              paused = true;
              const post = path => fetch(`${api}/api/runs/${runId}/${path}`, {method: 'POST'});
              post('pause').then(() => post('resume'));
            }
            if (event.type === 'run_completed') { es.close(); resolve({seen, opens}); }
          };
          for (const type of ['run_started', 'step_started', 'content_delta', 'step_discarded',
                              'checkpoint_created', 'usage', 'run_paused', 'run_resumed',
                              'run_completed'])
            es.addEventListener(type, record);
          setTimeout(() => { es.close(); reject(new Error(JSON.stringify(seen))); }, 30000);
        })
        """,
        {"api": cors_api.url, "runId": run_id},
    )
    seqs = [seq for seq, _, _ in got["seen"]]
    types = [kind for _, kind, _ in got["seen"]]
    assert got["opens"] >= 2, got
    assert "run_paused" in types and "run_resumed" in types
    assert types.index("run_paused") < types.index("run_resumed")
    assert seqs == list(range(1, len(seqs) + 1)), "an event was lost or sent twice"
    assert all(str(seq) == last_id for seq, _, last_id in got["seen"])
    assert _run(cors_api, run_id)["status"] == "completed"


def test_without_cors_a_page_cannot_call_the_api(page: Any, server: Server) -> None:
    """`server` has no AGIO_CORS_ORIGINS: the browser refuses the page every answer."""
    refused = page.evaluate(
        """
        async ({url}) => {
          try { await fetch(url); return false; } catch (e) { return e instanceof TypeError; }
        }
        """,
        {"url": f"{server.url}/api/agents"},
    )
    assert refused
    run_id = httpx.post(
        f"{server.url}/api/chat", json={"agent_id": "quick", "message": "hi", "stream": False}
    ).json()["run_id"]
    url = f"{server.url}/api/runs/{run_id}/events"
    assert page.evaluate(EVENTSOURCE_REFUSED, {"url": url})


def test_cors_admits_only_the_configured_origins(
    browser: Any, page_origin: str, cors_api: Server
) -> None:
    # Same page server, reached as `localhost`: another origin, not in AGIO_CORS_ORIGINS.
    other_origin = page_origin.replace("127.0.0.1", "localhost")
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.goto(other_origin)
        answer = tab.evaluate(
            "async ({url}) => { try { await fetch(url); return 'answered'; }"
            " catch (e) { return 'refused'; } }",
            {"url": f"{cors_api.url}/api/agents"},
        )
        assert answer == "refused"
    finally:
        context.close()


def test_a_server_with_keys_is_followed_through_a_stream_token(
    page: Any, keyed_api: Server
) -> None:
    """The page's backend holds the key and asks for a token; the browser's EventSource,
    which cannot send the key, shows the token instead."""
    bearer = {"Authorization": f"Bearer {API_KEY}"}
    chat = page.evaluate(
        POST_JSON,
        {
            "url": f"{keyed_api.url}/api/chat",
            "body": {"message": "What is 12*7?", "stream": False, "user_id": "browser-user"},
            "headers": bearer,
        },
    )
    assert chat["status"] == 200, chat
    run_id = chat["body"]["run_id"]
    events_url = f"{keyed_api.url}/api/runs/{run_id}/events"
    assert page.evaluate(EVENTSOURCE_REFUSED, {"url": events_url}), "no key, no token: refused"

    minted = httpx.post(f"{keyed_api.url}/api/runs/{run_id}/stream-token", headers=bearer).json()
    got = page.evaluate(SEED_CLIENT, {"url": minted["events_url"], "timeoutMs": 20000})
    run = _run(keyed_api, run_id, API_KEY)
    assert got["text"] == run["response"] == chat["body"]["response"]
    assert "84" in got["text"] and got["metrics"] == run["metrics"]
    # The token is for that run's events only.
    other = httpx.post(
        f"{keyed_api.url}/api/chat", json={"message": "hi", "stream": False}, headers=bearer
    ).json()["run_id"]
    wrong = f"{keyed_api.url}/api/runs/{other}/events?token={minted['token']}"
    assert page.evaluate(EVENTSOURCE_REFUSED, {"url": wrong})
    assert minted["token"].rsplit(".", 1)[1] not in keyed_api.log()


def test_a_dns_rebinding_page_is_refused(browser: Any, server: Server) -> None:
    """A page served as http://rebind.test:PORT/ (the attacker's name, resolving to
    127.0.0.1) is same-origin with the API, so CORS does not stop it: the Host check does."""
    port = server.url.rsplit(":", 1)[1]
    context = browser.new_context()
    try:
        tab = context.new_page()
        answer = tab.goto(f"http://rebind.test:{port}/api/agents")
        assert answer is not None and answer.status == 400
        assert "AGIO_ALLOWED_HOSTS" in answer.json()["detail"]
        status = tab.evaluate(
            "async () => (await fetch('/api/chat', {method: 'POST',"
            " headers: {'Content-Type': 'application/json'},"
            " body: JSON.stringify({message: 'hi', stream: false})})).status"
        )
        assert status == 400
        assert tab.goto(f"http://127.0.0.1:{port}/api/health").status == 200
    finally:
        context.close()


def test_the_page_server_is_another_origin(page_origin: str, cors_api: Server) -> None:
    assert page_origin != cors_api.url and Path(CHROMIUM).name == "chromium"
