"""The HTTP API (SPEC §5): FastAPI + SSE on the same `Agio` facade as the CLI and the TUI."""

from .app import create_app

__all__ = ["create_app"]
