"""A short run of `bench/load_test.py` against a real `agio serve`: no errors under mixed load
(chats, streams, pause/resume, cancel from 4 concurrent users), and memory stays flat."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# CPU-heavy: these run one after the other on one worker, never two at once
pytestmark = pytest.mark.xdist_group("cpu-heavy")

LOAD_TEST = Path(__file__).parents[2] / "bench" / "load_test.py"


def test_load_smoke(home: Path, tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    argv = [sys.executable, str(LOAD_TEST), "--seconds", "4", "--users", "4"]
    argv += ["--home", str(home), "--json", str(figures)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(figures.read_text())
    assert data["errors"] == 0, data["error_samples"]
    assert data["requests"] >= 30, data
    assert set(data["scenarios"]) == {"chat", "chat_stream", "pause_resume", "cancel"}, data
    assert data["rss_growth_mb"] is not None and data["rss_growth_mb"] < 25, data
