"""completions/: generated from the CLI, not stale, valid shell, and they complete."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "scripts" / "gen_completions.py"
SCRIPTS = ROOT / "completions"


def test_completions_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"{result.stdout}{result.stderr}"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_scripts_are_valid_shell(shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    subprocess.run([shell, "-n", str(SCRIPTS / f"agio.{shell}")], check=True, timeout=30)


def bash_complete(*words: str) -> list[str]:
    """What Tab offers after `words` (the last one is being typed), in bash."""
    script = (
        f"source {SCRIPTS / 'agio.bash'}\n"
        'COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _agio\n'
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    bin_dir = str(Path(sys.executable).parent)  # where `agio` lives, for live ids
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    result = subprocess.run(
        ["bash", "-c", script, "bash", *words],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=True,
    )
    return result.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_commands_options_choices_and_ids(home: Path) -> None:
    assert bash_complete("agio", "") == [
        "chat",
        "tui",
        "serve",
        "agents",
        "runs",
        "checkpoints",
        "config",
        "tools",
    ]
    assert bash_complete("agio", "--server", "http://x", "runs", "re") == ["resume"]
    assert bash_complete("agio", "checkpoints", "fork", "--q") == ["--query", "--quiet"]
    assert "interrupted" in bash_complete("agio", "runs", "list", "--status", "")
    assert bash_complete("agio", "chat", "-a", "") == ["assistant"]  # looked up live
