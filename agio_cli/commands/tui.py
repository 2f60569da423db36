"""`agio tui`: the Textual app for live streaming and run control (textual loads only here)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def tui(
        ctx: typer.Context,
        agent: str = typer.Option("assistant", "--agent", "-a", help="Agent to chat with."),
        session: str | None = typer.Option(None, "--session", "-s", help="Session to continue."),
        server: str | None = typer.Option(
            None,
            "--server",
            metavar="URL",
            help="Use the agio server at URL (default: the global --server / AGIO_SERVER_URL).",
        ),
    ) -> None:
        """Open the terminal UI: chat, watch runs, pause/resume/cancel, time-travel.

        \b
        Example:
          agio tui -a coder
        """
        from agio_cli.tui.app import run_tui

        run_tui(agent=agent, session=session, server=server or (ctx.obj or {}).get("server"))
