"""`agio tui`: a Textual app for live streaming, run control and checkpoint time travel.

Importing this package is cheap; textual loads only with `agio_cli.tui.app`.
"""
