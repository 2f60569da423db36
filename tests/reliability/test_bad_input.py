"""Bad input gives clear errors, never a crash: fuzzed agent YAML, fuzzed CLI arguments,
oversized bodies, path-traversal-looking ids, and schemathesis over the whole API.

Fuzzing is seeded (hypothesis `derandomize`, schemathesis `--seed`), so runs repeat.
The in-suite schemathesis run is bounded by examples (`AGIO_FUZZ_EXAMPLES`, 10 per operation:
the same requests every run); `AGIO_FUZZ_SECONDS` (default 30) only caps it, so a loaded
machine cannot cut the stateful phase short. Raise both for a thorough run (60 s and more
adds the coverage phase).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from agio_cli.main import app
from agio_core import Agio, InvalidInputError, Settings
from agio_core.agents import load_agent_yaml
from agio_core.api.middleware import MAX_BODY_BYTES
from agio_core.attachments import MAX_ATTACHED_BYTES

from .conftest import ServerFactory
from .support import ServerProcess, no_traceback

FUZZ_SECONDS = int(os.environ.get("AGIO_FUZZ_SECONDS", "30"))
FUZZ_EXAMPLES = int(os.environ.get("AGIO_FUZZ_EXAMPLES", "10"))
HYPOTHESIS = settings(
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
API_KEY = "fuzz-key-0123456789abcdef"
TRAVERSALS = [
    "../../../etc/passwd",
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2findex.json",
    "..\\..\\index.json",
    "run_0123456789abcdef/../../index.json",
    "ck_0123456789abcdef_0000/../../../index.json",
    "....//....//index.json",
    "/etc/passwd",
    "%00",
    "assistant%2F..%2F..%2Findex",
]


def fast_storage(tmp_path: Path) -> Path:
    """A folder on tmpfs where there is one: fuzzing makes thousands of fsyncs."""
    shm = Path("/dev/shm")
    return Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else tmp_path))


# --------------------------------------------------------------------------- agent YAML

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    ["id", "name", "description", "model", "model_params", "system_prompt", "tools", "tags",
     "max_steps", "created_at", "unknown", ""]
)  # fmt: skip
LIKELY = {
    "id": st.sampled_from(["ok", "Bad Id", "../x", "", "a" * 70, "x-1"]),
    "model": st.sampled_from(["offline/demo", "openai/gpt-4o", "nope/x", "offline", "/", ""]),
    "tools": st.lists(st.sampled_from(["calculator", "read_file", "a:b", "os:system", "??"])),
    "max_steps": st.sampled_from([0, 1, 10, 10_001, -5, "ten", None]),
}
AGENT_DOCS = st.dictionaries(FIELDS, JSON_VALUES, max_size=8).flatmap(
    lambda doc: st.fixed_dictionaries({k: LIKELY.get(k, st.just(v)) for k, v in doc.items()})
)
YAML_TEXTS = st.one_of(
    AGENT_DOCS.map(lambda doc: yaml.safe_dump(doc, allow_unicode=True)),
    st.text(max_size=200),
    st.lists(
        st.sampled_from(
            ["id: a\n", "model: offline/demo\n", "tools: [calculator\n", "  - x\n", "\t", "${X}",
             "${HOME:-d}", "&a [1]\n", "*a\n", "!!python/object:os.system\n", "---\n", ": :\n",
             "model_params: {a: " + "[" * 40 + "]" * 40 + "}\n", "[" * 50, "%YAML 9.9\n"]
        ),
        max_size=8,
    ).map("".join),
)  # fmt: skip


@pytest.fixture
def fuzz_home(tmp_path: Path) -> Iterator[Path]:
    folder = fast_storage(tmp_path)
    yield folder / "home"
    shutil.rmtree(folder, ignore_errors=True)


@settings(HYPOTHESIS, max_examples=150)
@given(text=YAML_TEXTS)
def test_fuzzed_agent_yaml_is_accepted_or_clearly_refused(fuzz_home: Path, text: str) -> None:
    """Through the facade into a real store: an agent, or `InvalidInputError`; nothing else."""

    async def create() -> None:
        async with Agio(Settings(home=fuzz_home)) as agio:
            await agio.create_agent(load_agent_yaml(text, source="fuzz.yaml"), replace=True)

    try:
        asyncio.run(create())
    except InvalidInputError as exc:
        assert exc.message and no_traceback(exc.message), exc.message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("id: deep\nmodel: offline/demo\ntags: " + "[" * 1000 + "]" * 1000, "nested too deeply"),
        (
            "id: deep\nmodel: offline/demo\nmodel_params: " + "{a: " * 300 + "1" + "}" * 300,
            "nested too deeply",
        ),
        (
            "id: lol\nmodel: offline/demo\nmodel_params:\n  a: &a [x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"  {n}: &{n} [{', '.join(['*' + p] * 9)}]\n"
                for p, n in zip("abcdefgh", "bcdefghi", strict=True)
            ),
            "too large",
        ),
        ("id: bin\nmodel: offline/demo\nmodel_params: {a: !!binary aGVsbG8=}", "JSON data"),
    ],
    ids=["deep-yaml", "deep-params", "billion-laughs", "binary"],
)
def test_hostile_yaml_is_refused_quickly(
    tmp_path: Path, text: str, words: str, cli_runner: CliRunner
) -> None:
    """Found by fuzzing: these crashed (RecursionError, serialization depth) or hung."""
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    result = cli_runner.invoke(app, ["agents", "create", "-f", str(path)], prog_name="agio")
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- CLI arguments


@pytest.fixture
def cli_runner(home: Path) -> CliRunner:
    return CliRunner()


WORDS = st.sampled_from(
    ["agents", "runs", "checkpoints", "config", "list", "show", "create", "delete", "events",
     "pause", "resume", "cancel", "restore", "fork", "tree", "diff", "path", "-f", "--json",
     "--tag", "--status", "--limit", "-n", "--offset", "--agent", "-a", "--session", "-s",
     "--follow", "--after", "--in-place", "--query", "--system-prompt", "--messages", "-d",
     "--reason", "--quiet", "--no-wait", "--server", "--help", "--version", "-1", "0",
     "99999999999999999999", "assistant", "run_0123456789abcdef", "ck_0123456789abcdef_0001",
     "../../etc/passwd", "/dev/null", "", " ", "é", "\x1b[31m", "--", "-", "running", "bogus",
     "--limit=-3", "--status=nope", "nul\x00"]
)  # fmt: skip
ARGUMENTS = st.lists(WORDS, min_size=1, max_size=6)


@settings(HYPOTHESIS, max_examples=300)
@given(args=ARGUMENTS)
def test_fuzzed_cli_arguments_give_clear_errors(cli_runner: CliRunner, args: list[str]) -> None:
    """Any argument list: exit 0, 1, 2 or 3 and at most one clear line on stderr."""
    if "--server" in args:  # a random "server" would be tried over the network
        args = [a for a in args if a != "--server"]
    result = cli_runner.invoke(app, args, prog_name="agio")
    assert isinstance(result.exception, SystemExit | None), (args, result.exception)
    assert result.exit_code in {0, 1, 2, 3}, (args, result.exit_code, result.output)
    assert no_traceback(result.output), (args, result.output)
    if result.exit_code != 0:
        errors = result.stderr.strip().splitlines()
        assert errors, (args, result.output)
        assert errors[-1].startswith("agio:") or "Usage:" in result.stderr, (args, errors)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["runs", "show", "../../etc/passwd"], 3),
        (["checkpoints", "show", "ck_../../../index"], 3),
        (["agents", "show", "../../index"], 3),
        (["agents", "delete", "../../index"], 3),
        (["runs", "list", "--status", "nope"], 2),
        (["chat", "--bogus"], 2),
        (["agents", "create", "-f", "/nonexistent.yaml"], 2),
        (["checkpoints", "restore", "ck_0123456789abcdef_0000", "--query"], 2),
    ],
)
def test_bad_arguments_in_a_real_process(home: Path, args: list[str], code: int) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agio_cli", *args],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == code, result
    assert no_traceback(result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("agio: error:"), lines
    assert not (home / "index.json").exists() or "passwd" not in (home / "index.json").read_text()


# --------------------------------------------------------------------------- HTTP API


@pytest.fixture
def api(start_server: ServerFactory, tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    """`agio serve` with keys, on a fast home; seeded with a run, a paused run and checkpoints."""
    home = fast_storage(tmp_path) / "home"
    server = start_server(home, AGIO_API_KEYS=API_KEY)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        fast = {"id": "assistant", "model": "offline/demo", "model_params": {"delay_ms": 0}}
        assert client.post("/api/agents?replace=true", json=fast).status_code == 201
        params = {"delay_ms": 30, "parallel_tool_calls": False}
        slow = {**fast, "id": "slow", "model_params": params, "tools": ["calculator"]}
        assert client.post("/api/agents", json=slow).status_code == 201
        done = client.post("/api/chat", json={"message": "What is 6*7?", "stream": False})
        assert done.json()["status"] == "completed"
        question = "What is " + ", ".join(f"{i}*{i}" for i in range(2, 30)) + "?"
        paused = client.post("/api/runs", json={"agent_id": "slow", "message": question})
        run_id = paused.json()["id"]
        assert client.post(f"/api/runs/{run_id}/pause").json()["status"] == "paused"
    yield server, home
    shutil.rmtree(home.parent, ignore_errors=True)


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


STORE_LAYOUT = re.compile(
    r"^(index\.json|runs\.jsonl|runs\.reconciled|index\.lock|control\.signal|runs|workspaces"
    r"|runs/run_[0-9a-f]{16}"
    r"(/(run\.json|lock|events\.jsonl|control\.json|checkpoints"
    r"(/ck_[0-9a-f]{16}_\d{4,9}\.json)?))?)$"
)


def test_oversized_bodies_are_refused(api: tuple[ServerProcess, Path]) -> None:
    server, _ = api
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    small_limit = MAX_BODY_BYTES + 1
    attaching_limit = MAX_BODY_BYTES + MAX_ATTACHED_BYTES + 1  # routes that take images
    big = b'{"message": "' + b"x" * attaching_limit + b'"}'

    def chunks(size: int) -> Iterator[bytes]:  # no Content-Length: the limit counts as it reads
        for start in range(0, size, 65536):
            yield big[start : min(size, start + 65536)]

    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        for method, path, size in [
            ("POST", "/api/chat", attaching_limit),
            ("POST", "/api/agents", small_limit),
            ("PUT", "/api/agents/assistant", small_limit),
            ("POST", "/api/runs", attaching_limit),
        ]:
            assert client.request(method, path, content=big[:size]).status_code == 413
            assert client.request(method, path, content=chunks(size)).status_code == 413
        # Deeply nested JSON inside the limit: a 422, not a crash (it was a 500).
        deep = '{"id": "deep", "model": "offline/demo", "model_params": ' + '{"a": ' * 400
        deep += "1" + "}" * 401
        assert client.post("/api/agents", content=deep).status_code == 422
        assert client.get("/api/health").status_code == 200
    assert server.alive() and no_traceback(server.log())


def raw_request(server: ServerProcess, method: str, path: str) -> int:
    """Send the path exactly as written (no client-side normalisation of `..`)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        connection.putheader("Authorization", f"Bearer {API_KEY}")
        connection.putheader("Content-Length", "0")
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


def test_path_traversal_ids_touch_nothing(api: tuple[ServerProcess, Path]) -> None:
    server, home = api
    outside_before = files_under(home.parent)
    index_before = (home / "index.json").read_bytes()
    templates = [
        ("GET", "/api/agents/{}"),
        ("DELETE", "/api/agents/{}"),
        ("GET", "/api/runs/{}"),
        ("GET", "/api/runs/{}/events?follow=false"),
        ("POST", "/api/runs/{}/resume"),
        ("POST", "/api/runs/{}/cancel"),
        ("GET", "/api/checkpoints/runs/{}/checkpoints"),
        ("POST", "/api/checkpoints/runs/{}/checkpoints"),
        ("GET", "/api/checkpoints/{}"),
        ("POST", "/api/checkpoints/{}/fork"),
        ("POST", "/api/checkpoints/{}/restore"),
        ("GET", "/api/checkpoints/{}/diff/{}"),
    ]
    for method, template in templates:
        for bad in TRAVERSALS:
            status = raw_request(server, method, template.replace("{}", bad))
            # 404 (unknown id), or 422 for a body/query problem; never a success or a 5xx.
            assert status in {404, 405, 422}, (method, template, bad, status)
    assert files_under(home.parent) == outside_before
    assert (home / "index.json").read_bytes() == index_before
    unexpected = [p for p in files_under(home) if not STORE_LAYOUT.match(p)]
    assert not unexpected, unexpected
    assert server.alive() and no_traceback(server.log())


def schemathesis_config(client: httpx.Client, folder: Path) -> Path:
    """Real ids (and traversal-looking ones) for the operations no schema link feeds."""
    runs = client.get("/api/runs", params={"limit": 100}).json()["items"]
    run_ids = [r["id"] for r in runs]
    checkpoint_ids = [
        c["id"]
        for run_id in run_ids
        for c in client.get(f"/api/checkpoints/runs/{run_id}/checkpoints").json()["items"]
    ]
    agent_ids = [a["id"] for a in client.get("/api/agents").json()["items"]]

    def values(items: list[str]) -> str:
        return json.dumps([*items, *TRAVERSALS])  # JSON strings are TOML strings

    config = folder / "schemathesis.toml"
    config.write_text(
        f"""
[dictionaries.runs]
values = {values(run_ids)}
[dictionaries.checkpoints]
values = {values(checkpoint_ids)}
[dictionaries.agents]
values = {values(agent_ids)}

[parameters]
"path.run_id" = {{ dictionary = "runs", probability = 0.6 }}
"path.checkpoint_id" = {{ dictionary = "checkpoints", probability = 0.6 }}
"path.a" = {{ dictionary = "checkpoints", probability = 0.6 }}
"path.b" = {{ dictionary = "checkpoints", probability = 0.6 }}
"path.agent_id" = {{ dictionary = "agents", probability = 0.5 }}
"""
    )
    return config


# Not `use_after_free`: deleting a stored `assistant` brings back the built-in default agent,
# by design. Not `positive_data_acceptance`: the schema does not spell out every rule (slugs,
# model references, session ids), so some schema-valid bodies are rightly refused with 422.
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "ensure_resource_availability",
]


@pytest.mark.timeout(FUZZ_SECONDS + 150)
@pytest.mark.xdist_group("cpu-heavy")  # its phases share --max-time: not beside another fuzz
def test_schemathesis_whole_api_stateful(api: tuple[ServerProcess, Path], tmp_path: Path) -> None:
    """Every operation (SSE joins left out: they stream until the run ends), fuzzed and
    chained through the links schemathesis infers; 0 server errors, answers as documented."""
    server, home = api
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        config = schemathesis_config(client, tmp_path)
    phases = "fuzzing,stateful" if FUZZ_SECONDS < 60 else "coverage,fuzzing,stateful"
    argv = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
        f"{server.url}/openapi.json", "--header", f"Authorization: Bearer {API_KEY}",
        "--exclude-path-regex", "/events$", "--phases", phases,
        "--max-examples", str(FUZZ_EXAMPLES), "--max-time", str(FUZZ_SECONDS),
        "--checks", ",".join(CHECKS), "--workers", "1", "--seed", "20261125",
        "--request-timeout", "30", "--no-shrink", "--warnings", "off",
    ]  # fmt: skip
    result = subprocess.run(
        argv, cwd=tmp_path, capture_output=True, text=True, timeout=FUZZ_SECONDS + 90
    )
    report = result.stdout[-8000:] + result.stderr[-2000:]
    print(result.stdout[-2500:])  # the summary, shown with `pytest -s`
    assert result.returncode == 0, report
    assert re.search(r"Stateful \(in .*?Scenarios:\s+[1-9]", result.stdout, re.S), report
    log = server.log()
    assert no_traceback(log) and '" 500 ' not in log, log[-5000:]
    assert server.alive()
    unexpected = [p for p in files_under(home) if not STORE_LAYOUT.match(p)]
    assert not unexpected, unexpected


# --------------------------------------------------------------------------- malformed Unicode
# Found by an independent probe (issue 13): a lone surrogate in any JSON string was a 500 on
# every route (and `POST /api/chat` left an empty run folder), `Last-Event-ID: ²` a 500.

# One at a time: a high surrogate then a low one would be a valid pair once decoded.
SURROGATES = st.characters(categories=["Cs"])
# Digits and numbers that `str.isdigit()` or `int()` take and ASCII parsers must not.
UNICODE_DIGITS = st.text(
    st.characters(categories=["Nd", "No", "Nl"]).filter(lambda c: not c.isascii()),
    min_size=1,
    max_size=4,
)
# Bytes that are not UTF-8: a UTF-8-encoded surrogate, stray continuation bytes, Latin-1.
INVALID_BYTES = st.sampled_from(
    [b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xff", b"\xfe\xff", b"\x80abc", b"caf\xe9", b"\xc3"]
)
# A string that mixes the bad part into otherwise ordinary text.
AROUND = st.tuples(st.text(max_size=5), st.text(max_size=5))


def bad_string() -> st.SearchStrategy[str]:
    return st.builds(lambda bad, around: around[0] + bad + around[1], SURROGATES, AROUND)


# (method, path, JSON body with "{}" where a string goes); ids filled in from the seeded store.
BODY_ROUTES = [
    ("POST", "/api/chat", {"message": "{}", "stream": False}),
    ("POST", "/api/chat", {"message": "hi", "agent_id": "{}", "stream": False}),
    ("POST", "/api/chat", {"message": "hi", "session_id": "{}", "stream": False}),
    ("POST", "/api/chat", {"message": "{}", "stream": True}),
    ("POST", "/api/runs", {"message": "{}"}),
    ("POST", "/api/agents", {"id": "u-{}", "model": "offline/demo"}),
    ("POST", "/api/agents", {"id": "u", "model": "offline/demo", "system_prompt": "{}"}),
    ("POST", "/api/agents", {"id": "u", "model": "offline/demo", "tags": ["{}"]}),
    ("POST", "/api/agents", {"id": "u", "model": "offline/demo", "model_params": {"{}": 1}}),
    ("PUT", "/api/agents/assistant", {"model": "offline/demo", "description": "{}"}),
    ("POST", "/api/runs/{run}/cancel", {"reason": "{}"}),
    ("POST", "/api/checkpoints/runs/{paused}/checkpoints", {"description": "{}"}),
    ("POST", "/api/checkpoints/runs/{paused}/checkpoints", {"tags": ["{}"]}),
    ("POST", "/api/checkpoints/{checkpoint}/fork", {"modifications": {"modified_query": "{}"}}),
    ("POST", "/api/checkpoints/{checkpoint}/restore", {"modifications": {"system_prompt": "{}"}}),
]
# (path, query parameter) of every integer or float in a query, and the Last-Event-ID header.
NUMBER_QUERIES = [
    ("/api/runs", "limit"),
    ("/api/runs", "offset"),
    ("/api/agents", "limit"),
    ("/api/agents", "offset"),
    ("/api/runs/{run}/events?follow=false", "after_seq"),
    ("/api/checkpoints/runs/{run}/checkpoints", "limit"),
    ("/api/runs/{finished}/cancel", "wait"),
]
TEXT_QUERIES = [
    ("/api/runs", "agent_id"),
    ("/api/runs", "session_id"),
    ("/api/runs", "status"),
    ("/api/agents", "tag"),
]


def seeded_ids(client: httpx.Client) -> dict[str, str]:
    def first(status: str) -> str:
        page = client.get("/api/runs", params={"status": status, "limit": 1}).json()
        return str(page["items"][0]["id"])

    paused, finished = first("paused"), first("completed")
    listed = client.get(f"/api/checkpoints/runs/{finished}/checkpoints").json()
    checkpoints = listed["items"] if isinstance(listed, dict) else listed  # a page, or a list
    return {
        "run": finished,
        "finished": finished,
        "paused": paused,
        "checkpoint": checkpoints[0]["id"],
    }


def fill(template: object, text: str) -> object:
    if isinstance(template, str):
        return template.replace("{}", text)
    if isinstance(template, list):
        return [fill(item, text) for item in template]
    if isinstance(template, dict):
        return {fill(k, text): fill(v, text) for k, v in template.items()}  # type: ignore[misc]
    return template


def run_folders_complete(home: Path) -> list[str]:
    """Run folders without a run record: what a failed create would leave behind."""
    return [p.name for p in (home / "runs").iterdir() if not (p / "run.json").is_file()]


@pytest.fixture
def unicode_api(
    api: tuple[ServerProcess, Path],
) -> Iterator[tuple[ServerProcess, Path, httpx.Client]]:
    server, home = api
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        yield server, home, client


@settings(HYPOTHESIS, max_examples=60)
@given(route=st.sampled_from(BODY_ROUTES), text=bad_string())
def test_a_lone_surrogate_in_any_json_string_is_a_422(
    unicode_api: tuple[ServerProcess, Path, httpx.Client],
    route: tuple[str, str, dict[str, object]],
    text: str,
) -> None:
    _, home, client = unicode_api
    method, path, template = route
    ids = seeded_ids(client)
    body = json.dumps(fill(template, text))  # ensure_ascii: a surrogate goes as "\udXXX"
    assert "\\ud" in body
    response = client.request(method, path.format(**ids), content=body)
    assert response.status_code == 422, (method, path, body, response.text)
    assert "surrogate" in response.json()["detail"], response.text
    assert not run_folders_complete(home)


@settings(HYPOTHESIS, max_examples=40)
@given(route=st.sampled_from(BODY_ROUTES), bad=INVALID_BYTES, around=AROUND)
def test_invalid_utf8_in_any_body_is_a_422(
    unicode_api: tuple[ServerProcess, Path, httpx.Client],
    route: tuple[str, str, dict[str, object]],
    bad: bytes,
    around: tuple[str, str],
) -> None:
    _, home, client = unicode_api
    method, path, template = route
    marker = "\u2603MARK\u2603"
    text = json.dumps(fill(template, around[0] + marker + around[1]), ensure_ascii=False)
    body = text.encode().replace(marker.encode(), bad)
    response = client.request(method, path.format(**seeded_ids(client)), content=body)
    assert response.status_code == 422, (method, path, body, response.text)
    assert not run_folders_complete(home)


@settings(HYPOTHESIS, max_examples=60)
@given(query=st.sampled_from(NUMBER_QUERIES), digits=UNICODE_DIGITS)
def test_unicode_digits_in_number_queries_and_last_event_id_are_a_422(
    unicode_api: tuple[ServerProcess, Path, httpx.Client],
    query: tuple[str, str],
    digits: str,
) -> None:
    _, _, client = unicode_api
    path, name = query
    ids = seeded_ids(client)
    url = path.format(**ids)
    response = client.request(
        "POST" if url.endswith("/cancel") else "GET", url, params={name: digits}
    )
    assert response.status_code in {409, 422}, (url, name, digits, response.text)
    if not url.endswith("/cancel"):  # a finished run's cancel may say 409 first
        assert response.status_code == 422
    events = f"/api/runs/{ids['run']}/events?follow=false"
    for header in (digits.encode(), digits.encode("utf-8")[:1] + b"1", b"1" + digits.encode()):
        answer = client.get(events, headers={"Last-Event-ID": header})  # type: ignore[dict-item]
        assert answer.status_code == 422, (header, answer.text)
    latin = digits.encode("latin-1", errors="ignore")  # "²" as one byte, as Latin-1 reads it
    if latin:
        answer = client.get(events, headers={"Last-Event-ID": latin})  # type: ignore[dict-item]
        assert answer.status_code == 422, (latin, answer.text)


@settings(HYPOTHESIS, max_examples=40)
@given(
    query=st.sampled_from(TEXT_QUERIES + NUMBER_QUERIES),
    raw=st.one_of(
        INVALID_BYTES,
        SURROGATES.map(lambda s: s.encode("utf-8", "surrogatepass")),
        UNICODE_DIGITS.map(str.encode),
    ),
)
def test_bad_bytes_in_any_query_or_header_are_no_500(
    unicode_api: tuple[ServerProcess, Path, httpx.Client],
    query: tuple[str, str],
    raw: bytes,
) -> None:
    server, _, client = unicode_api
    path, name = query
    url = path.format(**seeded_ids(client))
    quoted = "".join(f"%{b:02X}" for b in raw)
    joiner = "&" if "?" in url else "?"
    method = "POST" if url.endswith("/cancel") else "GET"
    response = client.request(method, f"{url}{joiner}{name}={quoted}")
    assert response.status_code < 500, (url, name, raw, response.text)
    for header in ("Last-Event-ID", "X-Request-Id", "Accept"):
        answer = client.get(url, headers={header: raw})  # type: ignore[dict-item]
        assert answer.status_code < 500, (header, raw, answer.text)
    assert server.alive()


def test_unicode_inputs_left_no_traceback(
    unicode_api: tuple[ServerProcess, Path, httpx.Client],
) -> None:
    """One of each, then the server log: warnings at most, never a traceback or a 500."""
    server, home, client = unicode_api
    ids = seeded_ids(client)
    assert client.post("/api/chat", content=b'{"message": "\\ud800"}').status_code == 422
    assert client.post("/api/chat", content=b'{"message": "\xed\xa0\x80"}').status_code == 422
    assert (
        client.post(
            "/api/chat", content=b'{"message": "\\ud83d\\ude00", "stream": false}'
        ).status_code
        == 200
    )
    events = f"/api/runs/{ids['run']}/events?follow=false"
    assert client.get(events, headers={"Last-Event-ID": "²".encode()}).status_code == 422  # type: ignore[dict-item]
    assert client.get(events, headers={"Last-Event-ID": b"\xb2"}).status_code == 422  # type: ignore[dict-item]
    assert client.get(events, params={"after_seq": "\u0663"}).status_code == 422
    assert not run_folders_complete(home)
    log = server.log()
    assert no_traceback(log) and '" 500 ' not in log, log[-3000:]
