"""Sessions: the conversations that chain runs (extension)."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import AgioDep
from ..errors import error_responses
from ..schemas import LatestSessionOut

router = APIRouter(prefix="/api/sessions", tags=["sessions"])


@router.get(
    "/latest",
    response_model=LatestSessionOut,
    responses=error_responses(401),
    summary="The newest run's session (extension)",
    description="What `agio chat -c` continues.",
)
async def latest_session(agio: AgioDep) -> LatestSessionOut:
    return LatestSessionOut(session_id=await agio.latest_session())
