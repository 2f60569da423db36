"""The `cli` fixture: run `agio` in this process (CliRunner) or as a real process, in a fresh home.

Test agents are created the way a user creates them: a YAML file and `agio agents create -f`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from agio_cli.main import app

# delay_ms 0: answers arrive at once. `slow` streams 50 words a second (for Ctrl-C and
# streaming tests); `stepper` takes one calculator step per expression (for pause/resume).
# Its max_steps is above the longest question's 2,000 steps: at ~4 ms a step, a run that hit
# a lower limit could fail before a test's pause (1.5 s in, from a process that starts in
# ~0.5 s) reached it, on a slow machine.
AGENTS: dict[str, str] = {
    "fast": "model_params: {delay_ms: 0}\ntools: [calculator]\n",
    "slow": "model_params: {delay_ms: 20}\ntools: [calculator]\n",
    "stepper": (
        "model_params: {delay_ms: 0, parallel_tool_calls: false}\n"
        "tools: [calculator]\nmax_steps: 2500\n"
    ),
    "one-step": "model_params: {delay_ms: 0}\ntools: [calculator]\nmax_steps: 1\n",
}


@dataclass
class Cli:
    home: Path
    runner: CliRunner

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(app, list(args), input=input, prog_name="agio")

    def ok(self, *args: str, input: str | None = None) -> str:
        result = self(*args, input=input)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def agent(self, name: str) -> str:
        path = self.home.parent / f"{name}.yaml"
        path.write_text(f"id: {name}\nmodel: offline/demo\n{AGENTS[name]}")
        assert self.ok("agents", "create", "-f", str(path)).strip() == name
        return name

    def chat(self, *args: str) -> dict[str, Any]:
        """`agio chat … --json`: the run record."""
        return json.loads(self.ok("chat", *args, "--json"))

    # real processes

    @staticmethod
    def command(*args: str) -> list[str]:
        return [sys.executable, "-m", "agio_cli", *args]

    def spawn(self, *args: str, **options: Any) -> subprocess.Popen[str]:
        options.setdefault("stdin", subprocess.DEVNULL)
        options.setdefault("stdout", subprocess.PIPE)
        options.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(self.command(*args), text=True, env=dict(os.environ), **options)

    def process(
        self, *args: str, input: str | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(os.environ),
        )


@pytest.fixture
def cli(home: Path) -> Cli:
    home.mkdir(parents=True, exist_ok=True)
    return Cli(home=home, runner=CliRunner())
