"""Models: what `-m` and an agent's `model` can name (extension)."""

from __future__ import annotations

from fastapi import APIRouter

from ...models import ModelCatalog
from ..deps import AgioDep
from ..errors import error_responses

router = APIRouter(prefix="/api/models", tags=["models"])


@router.get(
    "",
    response_model=ModelCatalog,
    responses=error_responses(401),
    summary="List models (extension)",
    description="The offline models, and the models the server's OpenAI-compatible model "
    "server lists at /v1/models; `notes` says why some are missing.",
)
async def list_models(agio: AgioDep) -> ModelCatalog:
    return await agio.list_models()
