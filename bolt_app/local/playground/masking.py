"""Hide secrets before anything reaches the inspector pane: tokens, the signing secret, signatures."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "••••••"
# Header and field names whose values are secrets whatever they look like.
SECRET_KEYS = frozenset({"token", "authorization", "x-slack-signature", "signing_secret", "client_secret"})
# Slack token shapes (bot, user, app-level, refresh, ...): keep the kind, hide the rest.
_TOKEN = re.compile(r"\b(xox[a-z]|xapp)-[A-Za-z0-9-]+")


def mask(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A copy of `value` (JSON-like) with secret fields, token-shaped strings and `secrets` masked."""
    known = tuple(s for s in secrets if s)
    return _mask(value, known)


def _mask(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {k: MASK if str(k).lower() in SECRET_KEYS and value[k] else _mask(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v, secrets) for v in value]
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
        return _TOKEN.sub(lambda m: f"{m.group(1)}-{MASK}", value)
    return value
