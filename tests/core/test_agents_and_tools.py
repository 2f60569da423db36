"""Agents from YAML, the default agent, and the tool registry."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from agio_core import Agio, InvalidInputError, NotFoundError, Settings
from agio_core.agents import load_agent_file, load_agent_yaml
from agio_core.tools import BUILTIN_TOOLS, RunContext, tool_from_function
from agio_core.tools._registry import import_tool


def test_yaml_substitutes_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_MODEL", "openai/gpt-4o-mini")
    monkeypatch.delenv("AGENT_TEMP", raising=False)
    spec = load_agent_yaml(
        "id: writer\nmodel: ${AGENT_MODEL}\nmodel_params: {temperature: ${AGENT_TEMP:-0.3}}\n"
    )
    assert spec.model == "openai/gpt-4o-mini"
    assert spec.model_params == {"temperature": 0.3}
    assert spec.max_steps == 10


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: a\nmodel: offline/demo\ntemperature: 1\n", "temperature: unknown field"),
        ("id: a\nmodel: [unclosed\n", "invalid YAML (line"),
        ("id: A B\nmodel: offline/demo\n", "id: Value error, must be a slug"),
        ("id: a\nmodel: gpt4\n", "model: Value error, must look like 'provider/model'"),
        ("id: a\nmodel: offline/demo\nmax_steps: 0\n", "max_steps"),
        ("- just a list\n", "expected a mapping"),
        ("id: a\nmodel: ${NOT_SET_ANYWHERE}\n", "${NOT_SET_ANYWHERE} is not set"),
    ],
)
def test_bad_yaml_names_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInputError) as caught:
        load_agent_file(path)
    assert str(path) in caught.value.message
    assert message in caught.value.message


async def test_default_agent_follows_default_model(home: Path) -> None:
    async with Agio(Settings(home=home)) as agio:
        assert (await agio.get_agent("assistant")).model == "offline/demo"
    async with Agio(Settings(home=home, default_model="openai/gpt-4o-mini")) as agio:
        assistant = await agio.get_agent("assistant")
        assert assistant.model == "openai/gpt-4o-mini"
        assert [a.id for a in (await agio.list_agents()).items] == ["assistant"]


async def test_agent_crud_and_validation(agio: Agio) -> None:
    created = await agio.create_agent({"id": "bot", "model": "offline/demo", "tags": ["x"]})
    assert (await agio.get_agent("bot")).created_at == created.created_at
    assert [a.id for a in (await agio.list_agents(tag="x")).items] == ["bot"]
    updated = await agio.update_agent(
        "bot", {"model": "offline/demo", "system_prompt": "Be brief."}
    )
    assert updated.system_prompt == "Be brief." and updated.created_at == created.created_at
    with pytest.raises(InvalidInputError, match="unknown model"):
        await agio.create_agent({"id": "x", "model": "nope/model"})
    with pytest.raises(InvalidInputError, match="unknown tool"):
        await agio.create_agent({"id": "x", "model": "offline/demo", "tools": ["rm_rf"]})
    with pytest.raises(InvalidInputError, match="colour: unknown field"):
        await agio.create_agent({"id": "x", "model": "offline/demo", "colour": "red"})
    await agio.delete_agent("bot")
    with pytest.raises(NotFoundError):
        await agio.get_agent("bot")
    with pytest.raises(NotFoundError):
        await agio.start_chat("bot", "hi")


@pytest.mark.parametrize(
    ("expression", "result"),
    [("12*7", "84"), ("(3 + 4) ** 2 / 7", "7"), ("2^10", "1024"), ("-5 + 3", "-2"), ("7/2", "3.5")],
)
async def test_calculator(expression: str, result: str) -> None:
    outcome = await BUILTIN_TOOLS["calculator"].call(json.dumps({"expression": expression}), CTX)
    assert (outcome.content, outcome.is_error) == (result, False)


@pytest.mark.parametrize(
    "expression",
    ["__import__('os').system('true')", "open('/etc/passwd')", "9**9**9", "1/0", "x + 1", "()"],
)
async def test_calculator_refuses_anything_but_arithmetic(expression: str) -> None:
    outcome = await BUILTIN_TOOLS["calculator"].call(json.dumps({"expression": expression}), CTX)
    assert outcome.is_error


CTX = RunContext(run_id="r", agent_id="a", workspace=Path("/nonexistent"), settings=Settings())


def shout(text: str, times: int = 1) -> str:
    """Repeat text in capitals.

    Args:
        text: What to shout.
        times: How often.
    """
    if times > 3:
        raise RuntimeError("too loud")
    return " ".join([text.upper()] * times)


async def test_user_tool_by_import_path() -> None:
    tool = import_tool(f"{__name__}:shout")
    assert tool.openai_schema()["function"] == {
        "name": "shout",
        "description": "Repeat text in capitals.",
        "parameters": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "text": {"type": "string", "description": "What to shout."},
                "times": {"type": "integer", "description": "How often.", "default": 1},
            },
            "required": ["text"],
        },
    }
    assert (await tool.call('{"text": "hi", "times": 2}', CTX)).content == "HI HI"
    too_loud = await tool.call('{"text": "hi", "times": 9}', CTX)
    assert too_loud.is_error and "too loud" in too_loud.content
    wrong_type = await tool.call('{"text": "hi", "times": "many"}', CTX)
    assert wrong_type.is_error and "times" in wrong_type.content


def test_unimportable_tool_is_a_clear_error() -> None:
    with pytest.raises(InvalidInputError, match="cannot be imported"):
        import_tool("no_such_module_xyz:tool")


async def test_sync_tools_do_not_block_the_loop() -> None:
    import time

    def slow() -> str:
        """Sleep."""
        time.sleep(0.3)
        return "done"

    tool = tool_from_function(slow)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    assert (await tool.call("{}", CTX)).content == "done"
    ticker.cancel()
    assert ticks > 10
