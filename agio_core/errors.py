"""Every exception agio raises on purpose, in one place.

    AgioError                    base class; `.kind` names the HTTP / exit-code family
    ├── NotFoundError            unknown agent, run or checkpoint id          (404, exit 3)
    ├── ConflictError            illegal state change, e.g. resume a completed run (409, exit 1)
    ├── InvalidInputError        bad YAML, bad field, unknown modification key (422, exit 2)
    │   └── ConfigError          a bad AGIO_* setting                          (exit 2)
    ├── ProviderError            the model provider failed (becomes `run_failed`)
    └── StoreError               the store could not write (disk full, permissions)

The API maps these to status codes and the CLI to exit codes; nothing else needs to know.
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
