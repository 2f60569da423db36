"""The README's HTTP client examples run as written against a real server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from api_servers import Server

README = Path(__file__).resolve().parents[2] / "README.md"
DEFAULT_BASE = 'BASE = "http://127.0.0.1:8000"'


def http_api_examples() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## HTTP API\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_the_readme_has_python_sse_and_httpx_examples() -> None:
    examples = http_api_examples()
    assert len(examples) == 3
    assert all(DEFAULT_BASE in example for example in examples)
    assert any("httpx_sse" in example for example in examples)


@pytest.mark.parametrize("number", range(3))
def test_readme_example_runs(server: Server, number: int, tmp_path: Path) -> None:
    code = http_api_examples()[number].replace(DEFAULT_BASE, f'BASE = "{server.url}"')
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout
    if number == 0:
        assert output.startswith("completed") and "84" in output
    elif number == 1:
        # The flat fields: `content` of each delta, `metrics` of the end.
        assert "20." in output and re.search(r"\[run_completed: \d+ tokens\]$", output.rstrip())
    else:
        assert output.split()[0] == "content_delta" and "run_completed" in output
        assert output.rstrip().endswith("cancelled")
