"""Exactly once for what acts: one claim per click, across deliveries and containers.

Slack never retries an interaction, but the same click can still arrive twice: a double click (two
payloads for the same rendered button), a client resend, or a signed request replayed within Slack's
5-minute window at another container (the request guard's replay cache is per container). Before a
command acts, its lazy listener claims the click's key; only the first claim acts.

With IDEMPOTENCY_TABLE set, a claim is a conditional write to that DynamoDB table (as the picker's
first pick, bolt_app/listeners/first_pick.py): `attribute_not_exists(id)` lets exactly one writer win
however many containers race, and bolt_app/foundation/claims.py's attempt id makes botocore's retry of
a PutItem whose answer was lost (a read timeout) recognise the claim as its own. Unlike the
picker, a claim that cannot be written fails closed: anything that acts is refused rather than run
unguarded. Without a table, claims live in a bounded in-memory store, exact within one process.

A claim names the delivery that made it (the lazy run's `x-bolt-app-delivery`) and is marked `done` once
the click was handled. Should that run die after claiming and before acting, Lambda's retry of the same
delivery (never concurrent with it: the lazy exactly-once record) finds its own claim not done and acts;
every other delivery of the click finds it claimed.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Protocol

from bolt_app.foundation import aws_clients, claims

# A rendered button is replaced after every action on it; an hour outlives any redelivery or replay.
CLAIM_TTL_SECONDS = 3600
KEY_PREFIX = "chatops_click#"


class ClaimUnavailable(Exception):
    """The claim could not be written (the table is unreachable): the action must not run."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class ClickClaims(Protocol):
    def claim(self, key: str, delivery: str | None = None) -> bool:
        """True when this call claimed `key` (act), or `delivery` claimed it and has not handled it; False when
        an earlier claim holds it (do nothing). Raises ClaimUnavailable when it cannot tell."""
        ...

    def done(self, key: str) -> None:
        """The claimed click was handled: no retry of its delivery acts again."""
        ...

    def release(self, key: str) -> None:
        """Forget a claim whose action never started (so that a later delivery may act)."""
        ...


class InMemoryClickClaims:
    def __init__(self, max_items: int = 10_000, ttl_seconds: float = CLAIM_TTL_SECONDS) -> None:
        # key -> (expiry, delivery, done)
        self._claims: OrderedDict[str, tuple[float, str | None, bool]] = OrderedDict()
        self._max_items = max_items
        self._ttl = ttl_seconds
        self._lock = threading.Lock()

    def claim(self, key: str, delivery: str | None = None) -> bool:
        now = time.monotonic()
        with self._lock:
            held = self._claims.get(key)
            if held is not None and held[0] > now:
                return bool(delivery) and held[1] == delivery and not held[2]
            self._claims[key] = (now + self._ttl, delivery, False)
            self._claims.move_to_end(key)
            while len(self._claims) > self._max_items:
                self._claims.popitem(last=False)
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._claims.pop(key, None)

    def done(self, key: str) -> None:
        with self._lock:
            held = self._claims.get(key)
            if held is not None:
                self._claims[key] = (held[0], held[1], True)


class DynamoDBClickClaims:
    """Claims as items {id, attempt, expiration, delivery, done} in the idempotency table."""

    def __init__(self, table_name: str) -> None:
        self._table = table_name

    def claim(self, key: str, delivery: str | None = None) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        now = int(time.time())
        item = {"id": {"S": KEY_PREFIX + key}, "expiration": {"N": str(now + CLAIM_TTL_SECONDS)}}
        if delivery:
            item["delivery"] = {"S": delivery}
        try:
            holder = claims.claim_item(
                self._table,
                item,
                # TTL deletes expired items only eventually: an expired claim counts as none.
                condition="attribute_not_exists(id) OR expiration < :now",
                values={":now": {"N": str(now)}},
            )
        except (BotoCoreError, ClientError) as error:
            raise ClaimUnavailable(aws_clients.error_code(error)) from None
        # None: ours, written now or by this same call before its answer was lost (claims.claim_item).
        if holder is None:
            return True
        # This delivery's own claim, from a run that ended before handling the click: Lambda's retry acts.
        return bool(delivery) and holder.get("delivery") == {"S": delivery} and "done" not in holder

    def done(self, key: str) -> None:
        import contextlib

        from botocore.exceptions import BotoCoreError, ClientError

        # After the action: best effort (a retry of this delivery, were it to come, would act again).
        with contextlib.suppress(BotoCoreError, ClientError):
            aws_clients.client("dynamodb").update_item(
                TableName=self._table,
                Key={"id": {"S": KEY_PREFIX + key}},
                UpdateExpression="SET done = :done",
                ConditionExpression="attribute_exists(id)",
                ExpressionAttributeValues={":done": {"BOOL": True}},
            )

    def release(self, key: str) -> None:
        import contextlib

        from botocore.exceptions import BotoCoreError, ClientError

        # Best effort: a claim left behind only expires with its TTL.
        with contextlib.suppress(BotoCoreError, ClientError):
            aws_clients.client("dynamodb").delete_item(TableName=self._table, Key={"id": {"S": KEY_PREFIX + key}})


def click_claims(table_name: str | None) -> ClickClaims:
    return DynamoDBClickClaims(table_name) if table_name else InMemoryClickClaims()
