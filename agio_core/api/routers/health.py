"""`GET /api/health`: liveness, without auth."""

from __future__ import annotations

from fastapi import APIRouter

from ..._time import utcnow
from ..._version import __version__
from ..schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/api/health", response_model=HealthOut, summary="Liveness (no auth)")
async def health() -> HealthOut:
    return HealthOut(version=__version__, timestamp=utcnow())
