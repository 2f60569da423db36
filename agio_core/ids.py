"""Identifiers. Their shapes are checked before any lookup, so an id can never be a path."""

from __future__ import annotations

import re
import secrets

from .errors import InvalidInputError, NotFoundError

RUN_ID = re.compile(r"^run_([0-9a-f]{16})$")
CHECKPOINT_ID = re.compile(r"^ck_([0-9a-f]{16})_(\d{4,9})$")
SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
# A user id is the calling application's name for its user (an e-mail, a UUID, `org/123`):
# any printable text, but one line and short, so it can be shown and filtered on.
USER_ID_MAX = 256
_USER_ID_REJECTED = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def new_run_id() -> str:
    return f"run_{secrets.token_hex(8)}"


def new_session_id() -> str:
    return f"sess_{secrets.token_hex(8)}"


def checkpoint_id(run_id: str, number: int) -> str:
    """Checkpoint ids embed their run, so a file store finds one without a global index."""
    return f"ck_{check_run_id(run_id)[4:]}_{number:04d}"


def checkpoint_number(checkpoint_id: str) -> int:
    """The checkpoint's place in its run: 0 for the first."""
    return int(checkpoint_id.rsplit("_", 1)[1])


def check_run_id(run_id: str) -> str:
    if not RUN_ID.match(run_id):
        raise NotFoundError(f"run not found: {run_id!r}")
    return run_id


def check_checkpoint_id(checkpoint_id: str) -> str:
    if not CHECKPOINT_ID.match(checkpoint_id):
        raise NotFoundError(f"checkpoint not found: {checkpoint_id!r}")
    return checkpoint_id


def check_session_id(session_id: str) -> str:
    if not SESSION_ID.match(session_id):
        raise InvalidInputError(
            "session_id: letters, digits, '_', '.', ':' or '-' (max 64 characters)"
        )
    return session_id


def check_user_id(user_id: str) -> str:
    """`user_id` as given, or `InvalidInputError` for text that cannot be shown on one line."""
    if not user_id.strip() or len(user_id) > USER_ID_MAX:
        raise InvalidInputError(f"user_id: 1 to {USER_ID_MAX} characters, not blank")
    if _USER_ID_REJECTED.search(user_id):
        raise InvalidInputError("user_id: no control characters, line breaks or lone surrogates")
    return user_id


def run_of_checkpoint(checkpoint_id: str) -> str:
    match = CHECKPOINT_ID.match(checkpoint_id)
    if not match:
        raise NotFoundError(f"checkpoint not found: {checkpoint_id!r}")
    return f"run_{match.group(1)}"
