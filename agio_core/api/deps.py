"""What routes receive: the process's one `Agio` facade, opened by the app's lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..service import Agio


# Async although it awaits nothing: FastAPI runs a plain function dependency in a worker
# thread, a hop (and a GIL handoff) for every request.
async def _agio(request: Request) -> Agio:
    agio: Agio = request.app.state.agio
    return agio


AgioDep = Annotated[Agio, Depends(_agio)]
