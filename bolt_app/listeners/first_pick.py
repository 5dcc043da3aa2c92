"""The picker's first pick wins: one claim per picker message, across clicks and containers.

A claim is keyed on the message that carries the buttons (channel + message ts, from the
block_actions payload's `container`). With IDEMPOTENCY_TABLE set, claims are conditional writes
to that DynamoDB table (`attribute_not_exists(id)`: exactly one writer wins, however many
containers race; a write whose answer was lost is still the clicker's own, by the attempt id it
carries: bolt_app/foundation/claims.py), expiring through its `expiration` TTL attribute;
otherwise they live in a bounded in-memory store, which is exact within one process (local runs, Socket Mode).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from bolt_app.foundation import aws_clients, claims

logger = logging.getLogger(__name__)

# A picker's buttons stay clickable in clients that have not redrawn; a week outlives any of them.
CLAIM_TTL_SECONDS = 7 * 24 * 3600
# Apart from the exactly-once records (Powertools' ids are "<function>#<hash>"): no collisions.
KEY_PREFIX = "first_pick#"


@dataclass(frozen=True)
class Pick:
    user_id: str
    choice: str


class FirstPickStore(Protocol):
    def claim(self, picker: str, pick: Pick) -> Pick | None:
        """Record `pick` for the picker message `picker` if none is; else return the pick that won."""
        ...

    def release(self, picker: str, pick: Pick) -> None:
        """Forget our claim (the pick could not be shown), so that a later click can win."""
        ...


def picker_key(channel_id: str, message_ts: str) -> str:
    return f"{KEY_PREFIX}{channel_id}#{message_ts}"


class InMemoryFirstPicks:
    """Per-process claims, bounded (oldest dropped first) and expiring."""

    def __init__(self, max_items: int = 10_000, ttl_seconds: float = CLAIM_TTL_SECONDS) -> None:
        self._claims: OrderedDict[str, tuple[Pick, float]] = OrderedDict()
        self._max_items = max_items
        self._ttl = ttl_seconds
        self._lock = threading.Lock()

    def claim(self, picker: str, pick: Pick) -> Pick | None:
        now = time.monotonic()
        with self._lock:
            existing = self._claims.get(picker)
            if existing is not None and existing[1] > now:
                return existing[0]
            self._claims[picker] = (pick, now + self._ttl)
            self._claims.move_to_end(picker)
            while len(self._claims) > self._max_items:
                self._claims.popitem(last=False)
        return None

    def release(self, picker: str, pick: Pick) -> None:
        with self._lock:
            existing = self._claims.get(picker)
            if existing is not None and existing[0] == pick:
                del self._claims[picker]


class DynamoDBFirstPicks:
    """Claims as items {id, user_id, choice, expiration} in the idempotency table."""

    def __init__(self, table_name: str) -> None:
        self._table = table_name

    def claim(self, picker: str, pick: Pick) -> Pick | None:
        from botocore.exceptions import BotoCoreError, ClientError

        now = int(time.time())
        try:
            holder = claims.claim_item(
                self._table,
                {
                    "id": {"S": picker},
                    "user_id": {"S": pick.user_id},
                    "choice": {"S": pick.choice},
                    "expiration": {"N": str(now + CLAIM_TTL_SECONDS)},
                },
                # DynamoDB's TTL deletes expired items only eventually: an expired claim counts as none.
                condition="attribute_not_exists(id) OR expiration < :now",
                values={":now": {"N": str(now)}},
            )
        except (BotoCoreError, ClientError) as error:
            # The table is unreachable: the pick still counts (unguarded), as an event is still
            # answered when the exactly-once records cannot be read.
            code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
            logger.warning(
                "first-pick claim failed: pick not guarded",
                extra={"error_type": type(error).__name__, "aws_error": code},
            )
            return None
        # None: ours, also when the write landed and only its answer was lost (claims.claim_item).
        return None if holder is None else (_pick(holder) or pick)

    def release(self, picker: str, pick: Pick) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        client = aws_clients.client("dynamodb")
        # Best effort: a claim left behind expires with its TTL.
        with contextlib.suppress(BotoCoreError, ClientError):
            client.delete_item(
                TableName=self._table,
                Key={"id": {"S": picker}},
                # Only our own claim: never a pick another click made meanwhile.
                ConditionExpression="user_id = :user AND choice = :choice",
                ExpressionAttributeValues={":user": {"S": pick.user_id}, ":choice": {"S": pick.choice}},
            )


def _pick(item: dict[str, Any] | None) -> Pick | None:
    if not item:
        return None
    user_id, choice = item.get("user_id", {}).get("S"), item.get("choice", {}).get("S")
    return Pick(user_id, choice) if isinstance(user_id, str) and isinstance(choice, str) else None


def first_pick_store(table_name: str | None) -> FirstPickStore:
    return DynamoDBFirstPicks(table_name) if table_name else InMemoryFirstPicks()
