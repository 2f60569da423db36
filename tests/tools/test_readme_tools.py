"""The agent YAML examples of the README's "Tools and MCP" section are valid agents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agio_core import Agio
from agio_core.agents import load_agent_yaml

README = Path(__file__).parents[2] / "README.md"


def section_yaml() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Tools and MCP", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)


async def test_readme_tool_agents_are_valid(agio: Agio, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCS_TOKEN", "t")
    blocks = section_yaml()
    assert len(blocks) == 3
    for block in blocks:
        await agio.create_agent(load_agent_yaml(block, source="README"))
