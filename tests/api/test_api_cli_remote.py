"""The CLI's remote mode: `agio --server URL …` in real processes against `agio serve`,
behaving as embedded mode does (same output, same exit codes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import API_KEY
from helpers.agents import sums_answer, sums_question
from helpers.servers import Server, clean_env, free_port


class RemoteCli:
    def __init__(self, url: str, workdir: Path) -> None:
        self.url = url
        self.workdir = workdir

    def __call__(
        self, *args: str, input: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        environment = clean_env(self.workdir / "local-home", **env)
        environment.setdefault("AGIO_SERVER_URL", self.url)
        return subprocess.run(
            [sys.executable, "-m", "agio_cli", *args],
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=self.workdir,
            env=environment,
        )

    def ok(self, *args: str, input: str | None = None) -> str:
        result = self(*args, input=input)
        assert result.returncode == 0, (args, result.returncode, result.stdout, result.stderr)
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))


@pytest.fixture
def agio(server: Server, tmp_path: Path) -> RemoteCli:
    return RemoteCli(server.url, tmp_path)


def test_chat_and_runs(agio: RemoteCli) -> None:
    assert agio.ok("chat", "-a", "quick", "What is 12*7?") == "12*7 = 84.\n"
    streamed = agio.ok("chat", "--events", "-a", "quick", "What is 3*3?")
    events = [json.loads(line) for line in streamed.splitlines()]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_completed"
    run_id = events[0]["run_id"]
    assert agio.ok("runs", "events", run_id) == streamed
    assert run_id in agio.ok("runs", "list", "-a", "quick", "-q").split()
    record = agio.json("runs", "show", run_id)
    assert record["status"] == "completed" and record["response"] == "3*3 = 9."
    assert "owner" not in record
    missing = agio("runs", "show", "run_0123456789abcdef")
    assert missing.returncode == 3 and missing.stderr.count("\n") == 1


def test_remote_output_is_the_embedded_output(agio: RemoteCli, tmp_path: Path) -> None:
    remote = agio("chat", "What is 12*7?")
    embedded = subprocess.run(
        [sys.executable, "-m", "agio_cli", "chat", "What is 12*7?"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=clean_env(tmp_path / "embedded-home"),
    )
    assert (remote.returncode, remote.stdout, remote.stderr) == (
        embedded.returncode,
        embedded.stdout,
        embedded.stderr,
    )


def test_continue_the_latest_session(agio: RemoteCli) -> None:
    first = agio.json("chat", "-a", "quick", "My name is Ada.")
    second = agio.json("chat", "-a", "quick", "-c", "What is my name?")
    assert second["session_id"] == first["session_id"]
    assert second["response"] == "Your name is Ada."


def test_agents(agio: RemoteCli, tmp_path: Path) -> None:
    spec = tmp_path / "remote-agent.yaml"
    spec.write_text("id: cli-remote\nmodel: offline/demo\ntags: [${TAG:-remote}]\n")
    assert agio.ok("agents", "create", "-f", str(spec)).strip() == "cli-remote"
    listed = agio.ok("agents", "list", "-q").split()
    assert {"assistant", "quick", "slow", "stepper", "cli-remote"} <= set(listed)
    assert agio("agents", "delete", "cli-remote").returncode == 0
    missing = agio("agents", "show", "cli-remote")
    assert missing.returncode == 3 and "agent not found" in missing.stderr


def test_pause_resume_cancel(agio: RemoteCli, server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        # ~5 s of steps: a CLI process on a loaded machine takes a second or two to start.
        body = {"agent_id": "stepper", "message": sums_question(40)}
        run_id = http.post("/api/runs", json=body).json()["id"]
        assert agio.json("runs", "pause", run_id)["status"] == "paused"
        assert agio.ok("runs", "resume", run_id) == f"{sums_answer(40)}\n"
        again = agio("runs", "resume", run_id)
        assert again.returncode == 1 and "completed" in again.stderr

        slow = http.post("/api/runs", json={"agent_id": "slow", "message": "count to 400"})
        slow_id = slow.json()["id"]
        assert agio.ok("runs", "cancel", slow_id, "-r", "from the cli") == f"{slow_id}\n"
        assert http.get(f"/api/runs/{slow_id}").json()["status"] == "cancelled"


def test_checkpoints_list_fork_tree_diff_restore(agio: RemoteCli, server: Server) -> None:
    body = {"agent_id": "quick", "message": "What is 12*7?", "stream": False}
    run_id = httpx.post(f"{server.url}/api/chat", json=body).json()["run_id"]
    ids = agio.ok("checkpoints", "list", run_id, "-q").split()
    assert len(ids) == 3
    fork_id = agio.ok("checkpoints", "fork", ids[0], "-q", "--query", "count to 2").strip()
    assert fork_id.startswith("run_") and fork_id != run_id
    tree = agio.ok("checkpoints", "tree", fork_id).splitlines()
    assert tree == [
        f'{run_id} completed "What is 12*7?"',
        f'  {fork_id} completed from {ids[0]} "count to 2"',
    ]
    fork_last = f"ck_{fork_id[4:]}_0001"
    differs = agio("checkpoints", "diff", ids[2], fork_last)
    assert differs.returncode == 1, differs.stderr  # as diff(1): they differ
    assert "-user: What is 12*7?" in differs.stdout and "+user: count to 2" in differs.stdout
    events = agio.ok("checkpoints", "restore", ids[0], "--in-place", "--events").splitlines()
    parsed = [json.loads(line) for line in events]
    assert {e["run_id"] for e in parsed} == {run_id}
    assert parsed[0]["type"] == "run_resumed" and parsed[-1]["type"] == "run_completed"


def test_server_flag_auth_and_unreachable_servers(auth_server: Server, tmp_path: Path) -> None:
    cli = RemoteCli(auth_server.url, tmp_path)
    refused = cli("agents", "list")
    assert refused.returncode == 2 and "AGIO_API_KEY" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    keyed = cli("chat", "What is 2*5?", AGIO_API_KEY=API_KEY)
    assert keyed.returncode == 0 and keyed.stdout == "2*5 = 10.\n"
    assert API_KEY not in keyed.stdout + keyed.stderr

    nowhere = f"http://127.0.0.1:{free_port()}"
    down = cli("--server", nowhere, "agents", "list", AGIO_SERVER_URL=auth_server.url)
    assert down.returncode == 1 and "cannot reach" in down.stderr
    assert len(down.stderr.strip().splitlines()) == 1


def test_dotenv_server_url_and_api_key_are_honoured(auth_server: Server, tmp_path: Path) -> None:
    """SPEC §7: `.env` is read by every entry point, the CLI included."""
    cli = RemoteCli(auth_server.url, tmp_path)
    (tmp_path / ".env").write_text(
        f"AGIO_SERVER_URL={auth_server.url}\nAGIO_API_KEY={API_KEY}\n", encoding="utf-8"
    )
    environment_without_url = {"AGIO_SERVER_URL": ""}
    listed = cli("runs", "list", "--json", **environment_without_url)
    assert listed.returncode == 0, listed.stderr
    assert set(json.loads(listed.stdout)) == {"total", "items", "limit", "offset"}
    (tmp_path / ".env").write_text(f"AGIO_SERVER_URL={auth_server.url}\n", encoding="utf-8")
    refused = cli("runs", "list", **environment_without_url)
    assert refused.returncode == 2 and "needs an API key: set AGIO_API_KEY" in refused.stderr
