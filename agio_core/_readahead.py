"""A model stream read ahead: its request sent now, its parts kept until the run takes them.

A new run's first request goes out while the run is being stored (its record, first
checkpoint and listing line made durable), so the model's first token, a round trip and a
prompt away, is on its way meanwhile instead of after.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator

from .providers import StreamPart

# Parts read before the stream is taken (a fast server streams them in well under a ms).
READ_AHEAD_PARTS = 64


class ReadAhead:
    """`parts` iterated by a task of its own from now on (the stream, with the connection it
    holds, lives and ends in that one task); `take()` then hands its parts on, those that
    came meanwhile first. Cancelled if never taken, or once the taker lets go.

    Until taken it reads no more than `READ_AHEAD_PARTS`: the request and the first token
    are what there is to win, and reading a fast stream on would take the event loop (and
    the GIL) from the store's threads storing the run, which the taker waits for. Not just
    one part: a connection that breaks while its reader waits loses what it had received
    and not yet read (aiohttp raises the error first), so a server that sends a few tokens
    and drops the connection must have them read. (One that sends more than this many in
    the few ms the run takes to be stored, and then drops, loses the tail of an answer
    that fails anyway.)
    """

    def __init__(self, parts: AsyncIterator[StreamPart]) -> None:
        self._parts: list[StreamPart] = []
        self._done = False
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._taken = asyncio.Event()
        self._task = asyncio.create_task(self._read(parts))

    async def _read(self, parts: AsyncIterator[StreamPart]) -> None:
        try:
            async for part in parts:
                self._parts.append(part)
                self._wake()
                if len(self._parts) >= READ_AHEAD_PARTS and not self._taken.is_set():
                    await self._taken.wait()
        except Exception as exc:  # the taker's to raise, as if it read the stream itself
            self._error = exc
        finally:
            self._done = True
            self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def take(self) -> AsyncGenerator[StreamPart]:
        self._taken.set()
        try:
            while True:
                if self._parts:
                    batch, self._parts = self._parts, []
                    for part in batch:
                        yield part
                elif self._done:
                    if self._error is not None:
                        raise self._error
                    return
                else:
                    self._waiter = asyncio.get_running_loop().create_future()
                    try:
                        await self._waiter
                    finally:
                        self._waiter = None
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Stop reading (closing the stream and its connection); a no-op once it ended."""
        self._task.cancel()
