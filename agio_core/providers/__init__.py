"""Model providers behind one streaming interface.

A provider turns a `ModelRequest` into an async stream of `TextDelta` parts followed by
exactly one `ModelResponse`. Built-in providers are looked up by the prefix of the agent's
model reference (`offline/demo`, `openai/gpt-4o-mini`) and imported only when used, so
`agio --help` never pays for the `openai` package.
"""

from __future__ import annotations

import importlib

from ..errors import InvalidInputError
from ..settings import Settings
from ._base import ModelRequest, ModelResponse, Provider, StreamPart, TextDelta, ToolCall, Usage

PROVIDERS: dict[str, str] = {
    "offline": "agio_core.providers.offline:OfflineProvider",
    "openai": "agio_core.providers.openai:OpenAIProvider",
}


def split_model(model: str) -> tuple[str, str]:
    provider, _, name = model.partition("/")
    if provider not in PROVIDERS or not name:
        known = ", ".join(f"{p}/…" for p in PROVIDERS)
        raise InvalidInputError(f"unknown model {model!r}: expected one of {known}")
    return provider, name


def get_provider(model: str, settings: Settings) -> Provider:
    provider, _ = split_model(model)
    module_name, _, class_name = PROVIDERS[provider].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    instance: Provider = cls(settings)
    return instance


class Providers:
    """The providers one `Agio` uses, made when first needed and closed with it: a provider
    keeps connections to its model server open between runs."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._made: dict[str, Provider] = {}

    def get(self, model: str) -> Provider:
        name, _ = split_model(model)
        if name not in self._made:
            self._made[name] = get_provider(model, self.settings)
        return self._made[name]

    async def aclose(self) -> None:
        made, self._made = list(self._made.values()), {}
        for provider in made:
            await provider.aclose()


__all__ = [
    "PROVIDERS",
    "ModelRequest",
    "ModelResponse",
    "Provider",
    "Providers",
    "StreamPart",
    "TextDelta",
    "ToolCall",
    "Usage",
    "get_provider",
    "split_model",
]
