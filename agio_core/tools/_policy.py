"""Approval policy: may a tool call run (`allow`), must a person say so first (`ask`), or
never (`deny`)?

A pure function of the tool's name, the agent's `approval` map (tool name or glob ->
policy) and the tool's own default. The most specific pattern that matches wins: an exact
name beats any glob; among globs, the one with more literal characters
(`git__git_*` beats `git__*`, which beats `*`); on a tie the stricter policy wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Literal

Policy = Literal["allow", "ask", "deny"]
_STRICTNESS: dict[str, int] = {"allow": 0, "ask": 1, "deny": 2}
_WILDCARDS = set("*?[]")


def _specificity(pattern: str) -> tuple[int, int]:
    literal = sum(1 for char in pattern if char not in _WILDCARDS)
    return (1 if not _WILDCARDS & set(pattern) else 0, literal)


def resolve_policy(name: str, approval: Mapping[str, Policy], default: Policy) -> Policy:
    """The policy for calling tool `name`."""
    matches = [(p, policy) for p, policy in approval.items() if fnmatchcase(name, p)]
    if not matches:
        return default
    _, policy = max(matches, key=lambda m: (*_specificity(m[0]), _STRICTNESS[m[1]]))
    return policy
