"""Cancel and pause racing a run's end (issue 13): the answer, the record and the log agree.

Hundreds of seeded races, embedded and through `agio serve` (see `races.py`); the full count
of the issue (300 + 300 each way) is `python bench/control_races.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agio_core import Settings

from .conftest import ServerFactory
from .races import embedded_races, served_races
from .support import no_traceback

# CPU-heavy: these run one after the other on one worker, never two at once
pytestmark = pytest.mark.xdist_group("cpu-heavy")

SEED = int(os.environ.get("AGIO_RELIABILITY_SEED", "7"))


async def test_cancel_and_pause_racing_the_end_embedded(settings: Settings) -> None:
    tally = await embedded_races(settings, 200, SEED)
    print(tally.summary())
    assert not tally.disagreements, tally.summary()
    # The races did cover both ways each call can go.
    assert {"cancel:cancelled", "cancel:conflict:completed"} <= set(tally.outcomes), tally
    assert {"pause:paused", "pause:conflict:completed"} <= set(tally.outcomes), tally


async def test_cancel_and_pause_racing_the_end_through_serve(
    home: Path, start_server: ServerFactory
) -> None:
    server = start_server()
    tally = await served_races(server.url, home, 200, SEED)
    print(tally.summary())
    assert not tally.disagreements, tally.summary()
    assert {"cancel:cancelled", "cancel:conflict:completed"} <= set(tally.outcomes), tally
    assert {"pause:paused", "pause:conflict:completed"} <= set(tally.outcomes), tally
    assert no_traceback(server.log())
