"""Which models can be used: the offline ones, always, and those the OpenAI-compatible
server at AGIO_OPENAI_BASE_URL (or OpenAI) lists at `/v1/models` when it answers."""

from __future__ import annotations

from pydantic import BaseModel, Field

from .settings import Settings

OFFLINE_MODELS = ("offline/demo",)
LIST_TIMEOUT_S = 5.0


class ModelInfo(BaseModel):
    id: str = Field(description="What `-m` and an agent's `model` take.")
    provider: str
    offline: bool = Field(description="The embedded model: no network, no API key.")


class ModelCatalog(BaseModel):
    items: list[ModelInfo]
    notes: list[str] = Field(
        default_factory=list, description="Why a provider's models are missing, one line each."
    )


async def _openai_models(settings: Settings) -> tuple[list[ModelInfo], list[str]]:
    base_url = settings.openai_base_url
    key = settings.openai_api_key
    where = base_url or "api.openai.com"
    if key is None and base_url is None:
        return [], [
            "openai: no AGIO_OPENAI_API_KEY or AGIO_OPENAI_BASE_URL set, so no server to ask"
        ]
    import openai

    client = openai.AsyncOpenAI(
        api_key=key.get_secret_value() if key else "not-set",
        base_url=base_url,
        max_retries=0,
        timeout=LIST_TIMEOUT_S,
    )
    try:
        listed = [model.id async for model in client.models.list()]
    except openai.APIStatusError as exc:
        return [], [f"openai: the server at {where} answered {exc.status_code} to /v1/models"]
    except (openai.OpenAIError, ValueError) as exc:
        reason = type(exc).__name__.replace("APIConnectionError", "cannot connect")
        return [], [f"openai: no answer from {where} ({reason}); its models are not listed"]
    finally:
        await client.close()
    return [ModelInfo(id=f"openai/{m}", provider="openai", offline=False) for m in listed], []


async def list_models(settings: Settings) -> ModelCatalog:
    offline = [ModelInfo(id=m, provider="offline", offline=True) for m in OFFLINE_MODELS]
    remote, notes = await _openai_models(settings)
    return ModelCatalog(items=[*offline, *sorted(remote, key=lambda m: m.id)], notes=notes)
