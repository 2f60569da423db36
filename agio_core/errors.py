"""Every exception agio raises on purpose, in one place.

    AgioError                    base class; `.kind` names the HTTP / exit-code family
    ├── NotFoundError            unknown agent, run or checkpoint id          (404, exit 3)
    ├── ConflictError            illegal state change, e.g. resume a completed run (409, exit 1)
    ├── InvalidInputError        bad YAML, bad field, unknown modification key (422, exit 2)
    │   └── ConfigError          a bad AGIO_* setting                          (exit 2)
    ├── ProviderError            the model provider failed (becomes `run_failed`)
    └── StoreError               the store could not write (disk full, permissions)

`HTTP_STATUS` maps these to status codes and `error_of_status` back (the API answers with
one, `RemoteAgio` raises the same exception from it); the CLI maps them to exit codes.
"""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal["not_found", "conflict", "invalid", "provider", "store"]


class AgioError(Exception):
    kind: ErrorKind = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(AgioError):
    kind = "not_found"


class ConflictError(AgioError):
    kind = "conflict"


class InvalidInputError(AgioError):
    kind = "invalid"


class ConfigError(InvalidInputError):
    """A setting (environment variable or `.env` line) has a value agio cannot use."""


class ProviderError(AgioError):
    """A model call failed. `error_type` is the short machine name shown in `run_failed`."""

    kind = "provider"

    def __init__(self, message: str, error_type: str = "provider_error") -> None:
        super().__init__(message)
        self.error_type = error_type


class StoreError(AgioError):
    kind = "store"


ERROR_OF_KIND: dict[ErrorKind, type[AgioError]] = {
    "not_found": NotFoundError,
    "conflict": ConflictError,
    "invalid": InvalidInputError,
    "provider": ProviderError,
    "store": StoreError,
}

# The one error table, read both ways.
HTTP_STATUS: dict[ErrorKind, int] = {
    "not_found": 404,
    "conflict": 409,
    "invalid": 422,
    # A provider error outside a run (where it would become `run_failed`) is an upstream failure.
    "provider": 502,
    "store": 503,
}
_KIND_OF_STATUS: dict[int, ErrorKind] = {status: kind for kind, status in HTTP_STATUS.items()}


def http_status(error: AgioError) -> int:
    return HTTP_STATUS.get(error.kind, 422)


def kind_of_status(status: int) -> ErrorKind | None:
    """The kind of error an HTTP error status stands for; any other 4xx is bad input, any
    other 5xx none (the server itself failed)."""
    if status in _KIND_OF_STATUS:
        return _KIND_OF_STATUS[status]
    return "invalid" if 400 <= status < 500 else None
