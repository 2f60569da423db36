"""`agio serve`: run the HTTP API (FastAPI + SSE) on the same core."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="Interface to bind; loopback by default."),
        port: int = typer.Option(8000, min=0, max=65535, help="TCP port."),
        workers: int = typer.Option(1, min=1, help="Worker processes (needs PostgreSQL)."),
        reload: bool = typer.Option(False, help="Restart on code changes (development)."),
        insecure: bool = typer.Option(
            False, help="Allow a non-loopback bind without AGIO_API_KEYS."
        ),
    ) -> None:
        """Serve the agio HTTP API (docs at /docs).

        \b
        Example:
          agio serve --port 8000 --workers 2
        """
        from agio_core.api.server import serve_main

        serve_main(host=host, port=port, workers=workers, reload=reload, insecure=insecure)
