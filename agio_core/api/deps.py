"""What routes receive: the process's one `Agio` facade, opened by the app's lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..service import Agio


def _agio(request: Request) -> Agio:
    agio: Agio = request.app.state.agio
    return agio


AgioDep = Annotated[Agio, Depends(_agio)]
