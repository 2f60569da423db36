"""Timed wake-ups shared by the tasks of one event loop.

Thousands of live runs each wait a little between tokens (the offline model's pacing) and
between event-log writes: a timer each is most of what the event loop does for them. Here
the waits that end on the same tick share one timer; each waiter still has its own future,
so cancelling one wait cancels no other.
"""

from __future__ import annotations

import asyncio
import math


class Ticks:
    def __init__(self, loop: asyncio.AbstractEventLoop, resolution: float) -> None:
        self.loop = loop
        self.resolution = resolution
        self._waiting: dict[int, list[asyncio.Future[None]]] = {}

    def until(self, when: float) -> asyncio.Future[None]:
        """A future resolved at the first tick at or after loop time `when`."""
        tick = math.ceil(when / self.resolution)
        future = self.loop.create_future()
        waiting = self._waiting.get(tick)
        if waiting is None:
            waiting = self._waiting[tick] = []
            self.loop.call_at(tick * self.resolution, self._fire, tick)
        waiting.append(future)
        return future

    def after(self, delay: float) -> asyncio.Future[None]:
        """A future resolved at the first tick at least `delay` seconds from now."""
        return self.until(self.loop.time() + delay)

    def _fire(self, tick: int) -> None:
        for future in self._waiting.pop(tick):
            if not future.done():
                future.set_result(None)


# The ticks of the loop that last asked, per resolution: one loop per process is the rule
# (tests run loops one after another; a second loop in another thread only shares less).
_LATEST: dict[float, Ticks] = {}


def ticks(resolution: float) -> Ticks:
    """The running loop's ticks of `resolution` seconds."""
    loop = asyncio.get_running_loop()
    found = _LATEST.get(resolution)
    if found is None or found.loop is not loop:
        found = _LATEST[resolution] = Ticks(loop, resolution)
    return found
