"""Property-based requests from /openapi.json (schemathesis): never a 5xx, and every answer
matches its documented status, content type and schema. SSE routes are left out."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_helpers import API_KEY
from helpers.servers import Server, clean_env, free_port, start_server

# CPU-heavy: these run one after the other on one worker, never two at once
pytestmark = pytest.mark.xdist_group("cpu-heavy")

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


@pytest.fixture
def fuzzed_server(tmp_path: Path) -> Iterator[Server]:
    """Its own server, since fuzzing rewrites agents; the store on tmpfs where there is one
    (thousands of fsyncs otherwise dominate the run)."""
    shm = Path("/dev/shm")
    home = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else tmp_path)) / "home"
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "agio_core.api.app:app", "--port", str(port)]
    argv += ["--log-level", "warning"]
    server = start_server(argv, tmp_path, port, clean_env(home, AGIO_API_KEYS=API_KEY), "fuzzed")
    headers = {"Authorization": f"Bearer {API_KEY}"}
    # The offline model at full speed: fuzzed chats should not each take a second.
    fast = {"id": "assistant", "model": "offline/demo", "model_params": {"delay_ms": 0}}
    httpx.post(f"{server.url}/api/agents?replace=true", json=fast, headers=headers)
    yield server
    server.stop()
    shutil.rmtree(home.parent, ignore_errors=True)


def test_no_server_errors_and_responses_match_the_schema(
    fuzzed_server: Server, tmp_path: Path
) -> None:
    argv = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{fuzzed_server.url}/openapi.json",
        "--header",
        f"Authorization: Bearer {API_KEY}",
        "--exclude-path-regex",
        "/events$",
        "--phases",
        "coverage,fuzzing",
        "--max-examples",
        "5",
        "--checks",
        CHECKS,
        # One worker: CPython 3.11's parser can fail in hypothesis' lambda descriptions
        # when run from several threads ("AST constructor recursion depth mismatch").
        "--workers",
        "1",
        "--no-shrink",
        "--seed",
        "20261125",
        "--request-timeout",
        "30",
    ]
    result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Traceback" not in fuzzed_server.log(), fuzzed_server.log()
