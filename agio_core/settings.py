"""Configuration from the environment (`AGIO_` prefix) and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigError

OFFLINE_MODEL = "offline/demo"


def _default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("agio", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AGIO_", env_file=".env", extra="ignore", populate_by_name=True
    )

    home: Path = Field(default_factory=_default_home)
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("AGIO_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = None
    default_model: str = OFFLINE_MODEL
    log_level: str = "WARNING"
    database_url: str = ""
    api_keys: SecretStr | None = None
    server_url: str | None = None
    cors_origins: str = ""
    # Host names the API answers to besides loopback and the address it is reached on
    # (comma-separated; `*.example.com` for sub-names; `*` turns the check off).
    allowed_hosts: str = ""
    # `agio serve` event streams: a comment this often keeps idle connections open through
    # proxies; a client that has not taken a frame for `sse_send_timeout_s` is dropped.
    # How long a stream token (a browser EventSource's credential) admits to its run's events.
    stream_token_ttl_s: float = Field(default=600.0, gt=0, le=86_400)
    sse_keepalive_s: float = Field(default=15.0, gt=0)
    sse_send_timeout_s: float = Field(default=30.0, gt=0)
    # `agio serve` connections (per worker): one that has not sent a request's complete
    # headers this long after opening (or after its last response) is closed, and one beyond
    # `max_connections` gets a 503 at once; one whose request body is not all in
    # `body_timeout_s` after its headers gets a 408 and is closed.
    header_timeout_s: float = Field(default=10.0, gt=0, le=3600)
    body_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    max_connections: int = Field(default=1000, ge=1)
    # `agio serve` looks this often for runs of dead processes and a run listing left
    # behind its records by a crash.
    sweep_every_s: float = Field(default=10.0, gt=0)

    # tools (SPEC §8)
    fetch_allow_private: bool = False  # under `agio serve`, let `fetch` reach private addresses
    mcp_start_timeout_s: float = Field(default=60.0, gt=0)  # start + initialize + list tools
    mcp_call_timeout_s: float = Field(default=120.0, gt=0)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            # One line naming the variable, not pydantic's report (SPEC §6: exit 2).
            raise ConfigError(_describe(exc)) from None

    @field_validator("default_model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        from .errors import InvalidInputError
        from .providers import split_model  # here: providers import this module

        try:
            split_model(value)
        except InvalidInputError as exc:
            raise ValueError(exc.message) from None
        return value

    def api_key_list(self) -> list[str]:
        if self.api_keys is None:
            return []
        return [k.strip() for k in self.api_keys.get_secret_value().split(",") if k.strip()]


def _describe(exc: ValidationError) -> str:
    problem = exc.errors()[0]
    field = str(problem["loc"][0]) if problem["loc"] else ""
    name = f"AGIO_{field.upper()}" if field else "AGIO_* setting"
    info = Settings.model_fields.get(field)
    secret = info is not None and info.annotation in {SecretStr, SecretStr | None}
    shown = "" if secret else f"={str(problem.get('input'))[:80]!r}"
    message = str(problem["msg"]).removeprefix("Value error, ")
    return f"{name}{shown}: {message}"
