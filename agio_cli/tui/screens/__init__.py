"""The TUI's screens: chat, runs/checkpoints, and the modal dialogs."""
