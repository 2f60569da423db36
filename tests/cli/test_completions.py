"""completions/: generated from the CLI, not stale, valid shell, and they complete."""

from __future__ import annotations

import json
import os
import shlex
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
        "models",
        "tui",
        "serve",
        "agents",
        "runs",
        "checkpoints",
        "config",
        "tools",
        "store",
    ]
    assert bash_complete("agio", "--server", "http://x", "runs", "re") == ["resume"]
    assert bash_complete("agio", "checkpoints", "fork", "--q") == ["--query", "--quiet"]
    assert "interrupted" in bash_complete("agio", "runs", "list", "--status", "")
    assert bash_complete("agio", "chat", "-a", "") == ["assistant"]  # looked up live


def _checkpoints_of_a_run(home: Path) -> tuple[str, list[str]]:
    """A finished run (made by the real `agio`, as a user would) and its checkpoint ids."""
    env = dict(os.environ)
    agio = [sys.executable, "-m", "agio_cli"]
    run = subprocess.run(
        [*agio, "chat", "What is 12*7?", "--json"], capture_output=True, text=True, env=env
    )
    run_id = json.loads(run.stdout)["id"]
    listed = subprocess.run(
        [*agio, "checkpoints", "list", run_id, "-q"], capture_output=True, text=True, env=env
    )
    return run_id, listed.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_checkpoint_and_run_ids(home: Path) -> None:
    run_id, checkpoints = _checkpoints_of_a_run(home)
    assert len(checkpoints) == 3
    assert bash_complete("agio", "checkpoints", "show", "") == checkpoints
    assert bash_complete("agio", "checkpoints", "fork", checkpoints[1][:-2]) == checkpoints
    assert bash_complete("agio", "checkpoints", "diff", checkpoints[0], "") == checkpoints
    assert bash_complete("agio", "runs", "delete", "") == [run_id]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completes_checkpoint_ids(home: Path) -> None:
    """zsh's completion system needs a terminal; its builtins are stubbed to print what the
    generated functions hand them, and the live lookup runs for real."""
    _, checkpoints = _checkpoints_of_a_run(home)
    script = f"""
        compdef() {{ : }}
        _describe() {{ local -a got; got=("${{(@P)${{@[-1]}}}}"); print -l -- $got }}
        _arguments() {{ print -l -- "$@" }}
        source {SCRIPTS / "agio.zsh"}
        PREFIX=""
        _agio_live_checkpoints
        print -- ---
        _agio_checkpoints_show
    """
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    result = subprocess.run(
        ["zsh", "-f", "-c", script], capture_output=True, text=True, timeout=30, env=env
    )
    assert result.returncode == 0, result.stderr
    ids, _, specs = result.stdout.partition("---\n")
    assert ids.split() == checkpoints
    assert "_agio_live_checkpoints" in specs and "--messages" in specs


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_commands_and_checkpoint_ids(home: Path) -> None:
    _, checkpoints = _checkpoints_of_a_run(home)
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}

    def complete(line: str) -> list[str]:
        script = f"source {SCRIPTS / 'agio.fish'}; complete -C {shlex.quote(line)}"
        result = subprocess.run(
            ["fish", "--no-config", "-c", script],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
        )
        assert result.returncode == 0, result.stderr
        return [line.split("\t")[0] for line in result.stdout.splitlines()]

    assert "resume" in complete("agio runs ")
    assert complete("agio checkpoints show ") == checkpoints
    assert "--query" in complete("agio checkpoints fork --q")
