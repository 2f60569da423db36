"""Which model parameters each provider takes, and their types: the one check that `chat -o`,
`checkpoints fork|restore -p` and the API's `modifications.model_params` all go through.

Values are coerced to their type (`"0.5"` -> 0.5) and checked for range; a key the provider
does not know is an error rather than a parameter silently ignored.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from .errors import InvalidInputError
from .providers import split_model

_Float = Annotated[float, Field(allow_inf_nan=False)]
# What the OpenAI chat-completions API takes (passed through by the `openai` provider).
_SAMPLING: dict[str, Any] = {
    "temperature": Annotated[_Float, Field(ge=0, le=2)],
    "top_p": Annotated[_Float, Field(ge=0, le=1)],
    "max_tokens": Annotated[int, Field(ge=1)],
    "seed": int,
    "stop": str | list[str],
}
_OPENAI: dict[str, Any] = {
    **_SAMPLING,
    "max_completion_tokens": Annotated[int, Field(ge=1)],
    "presence_penalty": Annotated[_Float, Field(ge=-2, le=2)],
    "frequency_penalty": Annotated[_Float, Field(ge=-2, le=2)],
    "response_format": dict[str, Any],
    "reasoning_effort": Literal["none", "minimal", "low", "medium", "high", "xhigh"],
    "parallel_tool_calls": bool,
    "tool_choice": str | dict[str, Any],
    # agio's own, read by the provider itself
    "timeout": Annotated[_Float, Field(gt=0)],
    "max_retries": Annotated[int, Field(ge=0, le=100)],
}
# The offline model takes the sampling parameters too (and ignores them), so a command line
# written for a real model also runs against it.
_OFFLINE: dict[str, Any] = {
    **_SAMPLING,
    "delay_ms": Annotated[_Float, Field(ge=0, le=60_000)],
    "parallel_tool_calls": bool,
}
PARAMS_OF_PROVIDER: dict[str, dict[str, Any]] = {"openai": _OPENAI, "offline": _OFFLINE}
# Where requests go is part of the agent's definition (YAML) or AGIO_OPENAI_BASE_URL, never a
# per-call option: over HTTP it would send the server's API key wherever a caller says.
_DEFINITION_ONLY = {"base_url": "set it in the agent's definition or AGIO_OPENAI_BASE_URL"}


@cache
def _schema(provider: str) -> type[BaseModel]:
    fields: dict[str, Any] = {
        name: (kind, None) for name, kind in PARAMS_OF_PROVIDER[provider].items()
    }
    return create_model(f"{provider}_params", __config__=ConfigDict(extra="forbid"), **fields)


def known_params(model: str) -> list[str]:
    provider, _ = split_model(model)
    return sorted(PARAMS_OF_PROVIDER[provider])


def check_model_params(model: str, params: dict[str, Any]) -> dict[str, Any]:
    """`params` checked and coerced for `model`'s provider; InvalidInputError says what is
    wrong with every bad key at once."""
    provider, _ = split_model(model)
    problems = [f"{key}: {why}" for key, why in _DEFINITION_ONLY.items() if key in params]
    try:
        parsed = _schema(provider).model_validate(params)
    except ValidationError as exc:
        for item in exc.errors():
            key = ".".join(str(p) for p in item["loc"])
            if key in _DEFINITION_ONLY:
                continue
            if item["type"] == "extra_forbidden":
                known = ", ".join(known_params(model))
                problems.append(f"{key}: not a parameter of {provider} models (known: {known})")
            else:
                problems.append(f"{key}: {item['msg']}")
        parsed = None
    if problems:
        raise InvalidInputError(f"model_params for {model}: " + "; ".join(problems))
    assert parsed is not None
    return parsed.model_dump(exclude_unset=True)


def check_changed_params(
    model: str, params: dict[str, Any], before: dict[str, Any]
) -> dict[str, Any]:
    """`params` with the keys that differ from `before` (what a caller changed) checked for
    `model`; the keys carried over unchanged are kept as they are."""
    changed = {k: v for k, v in params.items() if k not in before or before[k] != v}
    return {**params, **check_model_params(model, changed)} if changed else params
