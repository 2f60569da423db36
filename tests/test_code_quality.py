"""The tree stays linted, formatted and type-checked, and the core stays free of UI libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(
    "command",
    [("ruff", "check", "."), ("ruff", "format", "--check", "."), ("mypy", "agio_core", "agio_cli")],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_tool_passes(command: tuple[str, ...]) -> None:
    result = run(*command)
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_never_imports_ui_libraries() -> None:
    probe = (
        "import sys, agio_core, agio_core.api.app, agio_core.store.tinydb;"
        "print(sorted(m for m in ('typer', 'rich', 'textual') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_shipped_packages_hold_no_test_doubles() -> None:
    # SPEC §1: test doubles live under tests/, not in what `pip install agio` installs.
    shipped = [p for package in ("agio_core", "agio_cli") for p in (ROOT / package).rglob("*.py")]
    doubles = [p for p in shipped if {"testing", "fake_openai.py"} & set(p.parts)]
    assert not doubles
    assert not [p for p in shipped if "fake_openai" in p.read_text(encoding="utf-8")]
