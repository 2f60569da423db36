"""The embedded core on its own thread and event loop, so rendering never slows a run.

In embedded mode the engine would share the UI's event loop: every layout of a long answer
(tens of milliseconds) would hold up the model stream and the checkpoint writes behind it.
`EngineThread` runs `Agio` on a loop of its own; `ThreadedAgio` has the same methods, each
run on that loop, and brings results and event streams back to the UI's loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from agio_core import Agio, RunHandle, Settings

T = TypeVar("T")
_END = object()  # the stream is over


class EngineThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="agio-engine", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> None:
        self._thread.start()

    def submit(self, work: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(work, self.loop)

    async def call(self, work: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(self.submit(work))

    async def stream(self, make: Callable[[], AsyncIterator[T]]) -> AsyncIterator[T]:
        """Iterate an async iterator made and read on the engine's loop, from this loop."""
        here = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()

        async def pump() -> None:
            try:
                async for item in make():
                    here.call_soon_threadsafe(queue.put_nowait, item)
            except BaseException as exc:  # handed to the reader, which raises it
                here.call_soon_threadsafe(queue.put_nowait, exc)
                if not isinstance(exc, Exception):
                    raise
            else:
                here.call_soon_threadsafe(queue.put_nowait, _END)

        pumping = self.submit(pump())
        try:
            while (item := await queue.get()) is not _END:
                if isinstance(item, BaseException):
                    if isinstance(item, asyncio.CancelledError):
                        return
                    raise item
                yield item
        finally:
            pumping.cancel()  # the reader stopped early: stop reading there too

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()


class ThreadedHandle:
    """A `RunHandle` whose calls go to the engine's loop."""

    def __init__(self, engine: EngineThread, handle: RunHandle) -> None:
        self._engine, self._handle = engine, handle
        self.run_id = handle.run_id

    def events(self, after_seq: int = 0) -> AsyncIterator[Any]:
        return self._engine.stream(lambda: self._handle.events(after_seq=after_seq))

    async def wait(self) -> Any:
        return await self._engine.call(self._handle.wait())


class ThreadedAgio:
    """`Agio`'s methods, run on the engine thread. Streams come back as async iterators,
    run handles as `ThreadedHandle`s; everything else (pydantic models) as it is."""

    STREAMS = frozenset({"events", "event_batches"})

    def __init__(self, settings: Settings) -> None:
        self._engine = EngineThread()
        self._agio = Agio(settings)

    async def __aenter__(self) -> ThreadedAgio:
        self._engine.start()
        await self._engine.call(self._agio.open())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self._engine.call(self._agio.close())
        finally:
            self._engine.stop()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._agio, name)
        if name in self.STREAMS:
            return lambda *args, **kwargs: self._engine.stream(lambda: method(*args, **kwargs))

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = await self._engine.call(method(*args, **kwargs))
            return ThreadedHandle(self._engine, result) if isinstance(result, RunHandle) else result

        return call
