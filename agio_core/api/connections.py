"""Connection guards for `agio serve`: deadlines for a request's headers and for its body,
and a bound on the number of connections.

uvicorn closes an idle keep-alive connection after `timeout_keep_alive`, but it cancels
that timer on every byte received and has no timeout at all for the headers of a request
(uvicorn issue #157 lists `--timeout-request-start` as not done), so a client that trickles
header lines holds a connection and its file descriptor forever (slowloris). Nothing in
ASGI can help: the app is called only once the headers are complete. So `agio serve` runs
uvicorn's own HTTP protocol class (httptools if installed, else h11, as uvicorn's `auto`
picks) with two additions:

- a deadline, armed when a connection opens and after each response, disarmed once a
  request's headers are in: a connection that has not sent complete headers by then is
  closed. Responses, streams included, are never cut by it;
- a deadline for the body, armed once a request's headers are in and its body is not: a
  client that trickles the body (a byte now and then keeps uvicorn waiting, and the app's
  body read with it) gets a 408 and the connection is closed. A deadline for the whole
  body, not an idle timeout, so trickling faster does not extend it;
- `max_connections`: a connection beyond it gets a 503 and is closed at once, so a flood
  costs one fd for a moment, not one each until the deadline. uvicorn's `limit_concurrency`
  only answers 503 to requests that finished their headers, so it cannot bound these.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from uvicorn.protocols.http.h11_impl import H11Protocol as _HTTPProtocol
else:
    from uvicorn.protocols.http.auto import AutoHTTPProtocol as _HTTPProtocol

log = logging.getLogger("agio.api")
_BUSY = b'{"detail": "too many connections (AGIO_MAX_CONNECTIONS); retry later"}'
_TOO_MANY = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\nretry-after: 1\r\nconnection: close\r\n\r\n%s"
) % (len(_BUSY), _BUSY)
_SLOW = b'{"detail": "request body not received in time (AGIO_BODY_TIMEOUT_S)"}'
_TOO_SLOW = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s"
) % (len(_SLOW), _SLOW)
_WARN_EVERY_S = 10.0


class GuardedHTTPProtocol(_HTTPProtocol):
    def __init__(
        self,
        *args: Any,
        header_timeout_s: float,
        body_timeout_s: float,
        max_connections: int,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self._header_timeout_s = header_timeout_s
        self._body_timeout_s = body_timeout_s
        self._max_connections = max_connections
        self._deadline: asyncio.TimerHandle | None = None
        self._body_of: object = None  # the request (cycle) whose body the deadline is for

    _last_warning = 0.0  # per process: one warning per burst of refused connections

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._max_connections:
            now = time.monotonic()
            if now - GuardedHTTPProtocol._last_warning > _WARN_EVERY_S:
                GuardedHTTPProtocol._last_warning = now
                log.warning(
                    "refusing connections beyond AGIO_MAX_CONNECTIONS=%d", self._max_connections
                )
            transport.write(_TOO_MANY)
            transport.close()
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._in_request():
            return
        if not self._body_pending():
            self._disarm()
        elif self._body_of is not self.cycle:  # once per request: a deadline, not idleness
            self._body_of = self.cycle
            self._arm(self._body_timeout_s, self._body_too_late)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self._in_request():
            self._arm()  # keep-alive: the next request's headers get the same deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _in_request(self) -> bool:
        """Whether a request's headers are complete and its response is not."""
        return self.cycle is not None and not self.cycle.response_complete

    def _body_pending(self) -> bool:
        return self.cycle is not None and self.cycle.more_body

    def _arm(self, delay: float | None = None, callback: Callable[[], None] | None = None) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(
            self._header_timeout_s if delay is None else delay, callback or self._headers_too_late
        )

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_too_late(self) -> None:
        self._deadline = None
        if not self._in_request() and not self.transport.is_closing():
            self.transport.close()

    def _body_too_late(self) -> None:
        self._deadline = None
        if not self._in_request() or not self._body_pending() or self.transport.is_closing():
            return
        assert self.cycle is not None
        if not self.cycle.response_started:  # the app is still waiting for the body
            self.transport.write(_TOO_SLOW)
        # The app's body read then sees the client gone (`http.disconnect`).
        self.transport.close()


def guarded_protocol(
    header_timeout_s: float, body_timeout_s: float, max_connections: int
) -> Callable[..., asyncio.Protocol]:
    """The protocol factory for `uvicorn.run(http=...)`; a partial of a module-level class,
    so that uvicorn can hand it to worker processes."""
    return functools.partial(
        GuardedHTTPProtocol,
        header_timeout_s=header_timeout_s,
        body_timeout_s=body_timeout_s,
        max_connections=max_connections,
    )
