"""One damaged file spoils only its own run (SPEC §7, issue 13), and `agio store check`
finds it and moves it aside.

A real store is seeded with runs, then files are damaged the way a crash, a bad disk or a
hand edit does: garbage in one run's `run.json`, a garbage line in the run listing, a
garbage line in the middle of another run's `events.jsonl`, a truncated `index.json`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from agio_core import Agio, Settings

from .conftest import ServerFactory
from .support import no_traceback, run_agio

AGENT = {"id": "calc", "model": "offline/demo", "model_params": {"delay_ms": 0}}


async def seed(settings: Settings) -> list[str]:
    async with Agio(settings) as agio:
        await agio.create_agent(AGENT)
        return [(await agio.chat("calc", f"What is {i}+{i}?")).id for i in range(4)]


@pytest.fixture
def damaged(settings: Settings, home: Path) -> dict[str, str]:
    """Runs 0 (bad record) and 1 (bad event line) damaged; 2 and 3 intact; listing and
    agent index damaged too."""
    ids = asyncio.run(seed(settings))
    (home / "runs" / ids[0] / "run.json").write_text('{"id": "run_')
    events = home / "runs" / ids[1] / "events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)
    events.write_bytes(b"".join([lines[0], b"\x00\xffnot json\n", *lines[1:]]))
    with open(home / "runs.jsonl", "ab") as listing:
        listing.write(b'{"id": "run_0000000000000000", "status"\n')
    index = home / "index.json"
    index.write_bytes(index.read_bytes()[:20])
    return {"bad_record": ids[0], "bad_events": ids[1], "ok": ids[2], "ok2": ids[3]}


def test_the_cli_lists_the_rest_chats_and_warns(home: Path, damaged: dict[str, str]) -> None:
    listed = run_agio(home, "runs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    ids = {run["id"] for run in json.loads(listed.stdout)["items"]}
    assert ids == {damaged["bad_events"], damaged["ok"], damaged["ok2"]}
    warnings = listed.stderr.strip().splitlines()
    assert any("run.json is damaged" in w for w in warnings), warnings
    assert any("runs.jsonl has a damaged line" in w for w in warnings), warnings
    assert no_traceback(listed.stderr)
    # A damaged agent index hides the stored agents; the default agent still answers.
    chat = run_agio(home, "chat", "--json", "What is 2*21?")
    assert chat.returncode == 0, chat.stderr
    assert json.loads(chat.stdout)["response"].endswith("42.")
    assert "index.json is damaged" in chat.stderr and no_traceback(chat.stderr)
    # The damaged run itself: one clear line, exit 1.
    shown = run_agio(home, "runs", "show", damaged["bad_record"])
    assert shown.returncode == 1 and no_traceback(shown.stderr), shown
    assert "run.json is damaged" in shown.stderr.strip().splitlines()[-1]
    # A garbage event line is skipped: the log reads, in order, to its end.
    events = run_agio(home, "runs", "events", damaged["bad_events"])
    assert events.returncode == 0, events.stderr
    types = [json.loads(line)["type"] for line in events.stdout.splitlines()]
    assert types[0] == "run_started" and types[-1] == "run_completed"


def test_the_server_serves_the_rest_and_streams_end_cleanly(
    home: Path, damaged: dict[str, str], start_server: ServerFactory
) -> None:
    server = start_server()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        runs = client.get("/api/runs").json()["items"]
        assert {r["id"] for r in runs} == {damaged["bad_events"], damaged["ok"], damaged["ok2"]}
        bad = client.get(f"/api/runs/{damaged['bad_record']}")
        assert bad.status_code == 503 and "damaged" in bad.json()["detail"], bad.text
        with client.stream("GET", f"/api/runs/{damaged['bad_events']}/events") as stream:
            text = "".join(stream.iter_text())
        assert text.rstrip().splitlines()[-1].startswith('data: {"seq"')
        assert "event: run_completed" in text
        chat = client.post("/api/chat", json={"message": "What is 6*7?", "stream": False})
        assert chat.status_code == 200 and chat.json()["status"] == "completed"
    log = server.log()
    assert no_traceback(log) and '" 500 ' not in log, log[-3000:]


def test_store_check_reports_then_moves_damaged_files_aside(
    home: Path, damaged: dict[str, str]
) -> None:
    report = run_agio(home, "store", "check", "--json")
    assert report.returncode == 1, report
    page = json.loads(report.stdout)
    assert page["total"] == len(page["items"])
    found = {Path(d["path"]).relative_to(home).as_posix(): d for d in page["items"]}
    assert set(found) == {
        "index.json",
        "runs.jsonl",
        f"runs/{damaged['bad_record']}/run.json",
        f"runs/{damaged['bad_events']}/events.jsonl",
    }, found
    assert all(d["moved_to"] is None for d in found.values())

    repaired = run_agio(home, "store", "check", "--repair")
    assert repaired.returncode == 0, repaired
    moved = [line.split("\tmoved to ")[1] for line in repaired.stdout.splitlines()]
    assert len(moved) == 4 and all(Path(p).exists() for p in moved), repaired.stdout
    assert all(Path(p).is_relative_to(home / "damaged") for p in moved)
    # A run whose record is damaged goes aside whole, with its checkpoints and log.
    assert any(Path(p).name == damaged["bad_record"] and Path(p).is_dir() for p in moved), moved

    again = run_agio(home, "store", "check")
    assert again.returncode == 0 and "sound" in again.stderr, again
    listed = run_agio(home, "runs", "list", "--json")
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    assert json.loads(listed.stdout)["total"] == 3
    events = run_agio(home, "runs", "events", damaged["bad_events"])
    assert events.returncode == 0 and events.stderr == "", events.stderr
