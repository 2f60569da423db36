"""Every Python example of the README runs as written against a real server (the one with
keys for the example that needs a key)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from api_helpers import API_KEY
from helpers.servers import Server

README = Path(__file__).resolve().parents[2] / "README.md"
DEFAULT_BASE = 'BASE = "http://127.0.0.1:8000"'
PLACEHOLDER_KEY = "Bearer <key>"


def python_examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


def _asked_and_waited(output: str, server: Server) -> None:
    assert output.startswith("completed") and "84" in output


def _streamed_with_httpx_sse(output: str, server: Server) -> None:
    # The flat fields: `content` of each delta, `metrics` of the end.
    assert "20." in output and re.search(r"\[run_completed: \d+ tokens\]$", output.rstrip())


def _left_rejoined_forked(output: str, server: Server) -> None:
    assert output.split()[0] == "content_delta" and "run_completed" in output
    assert output.rstrip().endswith("cancelled")


def _minted_a_stream_token(output: str, server: Server) -> None:
    events_url, expires_at = output.split()
    assert events_url.startswith(f"{server.url}/api/runs/run_") and "?token=" in events_url
    assert expires_at.startswith("20")
    # What the page would open: no key, only the URL.
    with httpx.stream("GET", events_url, timeout=30) as response:
        assert response.status_code == 200
        assert "event: run_completed" in response.read().decode()


# What each example prints, told apart by a line of its own.
CHECKS: dict[str, Callable[[str, Server], None]] = {
    '"stream": False': _asked_and_waited,
    "from httpx_sse import connect_sse": _streamed_with_httpx_sse,
    "/fork": _left_rejoined_forked,
    "/stream-token": _minted_a_stream_token,
}


def check_of(example: str) -> Callable[[str, Server], None]:
    found = [check for marker, check in CHECKS.items() if marker in example]
    assert len(found) == 1, f"no single check for this README example:\n{example}"
    return found[0]


def test_every_python_example_is_checked() -> None:
    examples = python_examples()
    assert len(examples) == len(CHECKS)
    assert all(DEFAULT_BASE in example for example in examples)
    assert {check_of(example) for example in examples} == set(CHECKS.values())


@pytest.mark.parametrize("number", range(len(CHECKS)))
def test_readme_example_runs(request: pytest.FixtureRequest, number: int, tmp_path: Path) -> None:
    example = python_examples()[number]
    # A key set in the code, not just mentioned in a comment.
    needs_key = f'= {{"Authorization": "{PLACEHOLDER_KEY}"}}' in example
    server: Server = request.getfixturevalue("auth_server" if needs_key else "server")
    code = example.replace(DEFAULT_BASE, f'BASE = "{server.url}"').replace(
        PLACEHOLDER_KEY, f"Bearer {API_KEY}"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    check_of(example)(result.stdout, server)
