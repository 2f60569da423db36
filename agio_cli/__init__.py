"""agio's command line: Typer commands, a remote client with the core's interface, and the TUI."""
