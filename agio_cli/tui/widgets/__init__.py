"""Small widgets of the TUI: conversation, status bar, runs table, timeline, fork tree."""
