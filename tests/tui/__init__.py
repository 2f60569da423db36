"""Tests of `agio tui` (Textual Pilot, snapshots, and a real terminal via tmux)."""
