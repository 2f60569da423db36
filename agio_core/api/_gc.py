"""The garbage collector's settings for a process that serves the API.

A server streaming to hundreds of chats keeps every live run's recent events in memory (the
event log's tail, for its readers) and makes a few short-lived objects per token. With
CPython's defaults (a young collection every 700 new objects, a full one whenever the objects
kept since the last full one reach a quarter of all) the collector walked those events over
and over: 2.9 s of a 23 s run of 250 streams of 1,000 tokens (the server used ~16 s of CPU),
1.7 s of it in full collections of ~0.2 s each, pauses every stream saw as late tokens
(bench/serve_capacity.py; docs/performance.md, round 3).
"""

from __future__ import annotations

import gc

# A young collection every 10,000 new objects instead of 700: a full collection then comes
# at most every 10,000 x 10 x 10 new objects (a token makes 2-3: every 15-20 s at 500
# streams), whatever the quarter rule says, instead of every few seconds while the runs'
# tails grow. Objects are still freed by their reference counts at once; only garbage in
# reference cycles waits longer.
YOUNG_THRESHOLD = 10_000


def tune_for_serving() -> None:
    """Freeze what start-up made (modules, the app, its routes: never garbage, but walked by
    every full collection) and collect less often. For the process that serves the app: its
    lifespan calls this once the app is up (a mounted sub-app's lifespan does not run)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
