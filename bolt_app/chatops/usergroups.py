"""Slack user groups as policy roles (`oncall = ["@oncall"]`): membership managed in Slack, read here.

One `usergroups.list` call with `include_users=true` (scope `usergroups:read`) answers every group with
its members; the answer is kept per container for TTL_SECONDS, so a role check costs a Web API call at
most once per container every few minutes (usergroups.list is a Tier 2 method, ~20 calls a minute).
When Slack cannot be read, membership fails closed: the last answer is kept if there is one, else
nobody is in the group, and the next try waits RETRY_SECONDS (a refusal then names the role, and the
error is logged). Only a policy that names a group makes these calls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

TTL_SECONDS = 300.0
RETRY_SECONDS = 30.0

logger = logging.getLogger(__name__)


class UserGroups:
    def __init__(self, client: Callable[[], Any], clock: Callable[[], float] = time.monotonic) -> None:
        # A callable, so that each read uses the bot's current token (rotation).
        self._client = client
        self._clock = clock
        self._members: dict[str, frozenset[str]] | None = None
        self._next_read = 0.0
        self._lock = threading.Lock()

    def members(self, handle: str) -> frozenset[str]:
        """The user IDs in the group `handle` (without its "@"); empty if Slack has no such group."""
        with self._lock:  # concurrent checks share one read
            now = self._clock()
            if self._members is None or now >= self._next_read:
                self._read(now)
            return (self._members or {}).get(handle, frozenset())

    def _read(self, now: float) -> None:
        try:
            answer = self._client().usergroups_list(include_users=True)
            groups = answer.get("usergroups") or []
            self._members = {
                str(g.get("handle")): frozenset(u for u in g.get("users") or [] if isinstance(u, str))
                for g in groups
                if isinstance(g, dict) and g.get("handle") and not g.get("date_delete")
            }
            self._next_read = now + TTL_SECONDS
        except Exception as error:
            code = getattr(getattr(error, "response", None), "get", lambda _k: None)("error")
            # missing_scope: the app lacks usergroups:read (slack/manifest.json's bot scopes; docs/chatops.md).
            hint = " (add the usergroups:read scope to the Slack app)" if code == "missing_scope" else ""
            logger.warning(
                "Slack user groups not read%s; their roles have no members until they are",
                hint,
                extra={"error_type": type(error).__name__, "slack_error": code},
            )
            self._next_read = now + RETRY_SECONDS
