"""Stream tokens: what a browser `EventSource`, which cannot send headers, shows instead of
an API key, on one run's `GET /api/runs/{run_id}/events` only (SPEC §5).

A token is `<run_id>.<expiry>.<signature>`: the signature is an HMAC-SHA256 of the run id
and expiry, keyed with a key derived from the API key the token was asked for with. Any
worker or host that has that key checks it with nothing else shared (no token store), a
token stops working when it expires or its key is removed from AGIO_API_KEYS, and a token
can never stand in for the key itself (it is accepted nowhere but that run's events).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass

# Domain separation: a signing key is not the API key, nor usable as anything but this.
_CONTEXT = b"agio stream token v1"
_TOKEN = re.compile(r"^(run_[0-9a-f]{16})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$")


def _signing_key(api_key: bytes) -> bytes:
    return hmac.new(api_key, _CONTEXT, hashlib.sha256).digest()


def _signature(signing_key: bytes, run_id: str, expires: int) -> str:
    mac = hmac.new(signing_key, f"{run_id}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


@dataclass(frozen=True)
class MintedToken:
    token: str
    expires: int  # Unix time, seconds


class StreamTokens:
    """Mints and checks stream tokens for the API keys of one server.

    Without keys, the API is open and nothing checks a token; tokens are still minted (with
    a key of this process) so that browser code is the same with keys or without.
    """

    def __init__(self, api_keys: list[bytes], ttl_s: float) -> None:
        self._keys = [_signing_key(key) for key in api_keys]
        self._open_key = secrets.token_bytes(32)
        self.ttl_s = ttl_s

    def mint(self, run_id: str, api_key: bytes | None) -> MintedToken:
        expires = int(time.time() + self.ttl_s)
        key = _signing_key(api_key) if api_key is not None else self._open_key
        return MintedToken(f"{run_id}.{expires}.{_signature(key, run_id, expires)}", expires)

    def valid_for(self, token: str, run_id: str) -> bool:
        """Whether `token` admits to `run_id`'s events now. The signature is compared with
        every key's in constant time, so timing tells nothing about how close a guess is."""
        match = _TOKEN.match(token)
        if match is None:
            return False
        token_run, expires_text, given = match.groups()
        expires = int(expires_text)
        signed = False
        for key in self._keys:
            signed |= hmac.compare_digest(_signature(key, token_run, expires), given)
        return signed and token_run == run_id and time.time() < expires


class _RedactTokens(logging.Filter):
    """Access logs print the request target with its query: a token in it must not outlive
    the request in a log file."""

    _TOKEN_PARAM = re.compile(r"([?&]token=)[^&\s\"]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._TOKEN_PARAM.sub(r"\1[redacted]", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


def redact_stream_tokens(logger: logging.Logger) -> None:
    """Redact `?token=` in what `logger` logs (uvicorn's access log); idempotent."""
    if not any(isinstance(f, _RedactTokens) for f in logger.filters):
        logger.addFilter(_RedactTokens())
