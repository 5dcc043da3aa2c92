"""Where each alarm's thread is, and what its first message shows: one record per alarm (by AlarmArn) and
one per stack's deploy, shared by every container.

With IDEMPOTENCY_TABLE set, records are items in that DynamoDB table, changed only by conditional writes
(as bolt_app/listeners/first_pick.py claims picks): exactly one container opens a thread, a state change
older than the one shown never overwrites it, and the first acknowledgement wins, however many containers
race. Without it (local runs) a bounded in-memory store has the same semantics within one process.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from bolt_app.foundation import aws_clients
from bolt_app.foundation.observability import Metric, count
from bolt_app.notifications.posting import AlertsPoster, NotificationFailed

# Refreshed on every write: an alarm that stays quiet for 90 days starts a new thread when it fires again.
RECORD_TTL_SECONDS = 90 * 24 * 3600
ALARM_PREFIX = "alarm_thread#"
DEPLOY_PREFIX = "deploy_thread#"


@dataclass(frozen=True)
class Thread:
    """An alarm's (or a stack's) thread: `generation` counts threads of the same key."""

    key: str
    generation: int
    # The thread's first message; None while the container that opened it is still posting it.
    ts: str | None
    # The notification that opened it (its SNS MessageId / EventBridge id).
    opener: str
    # What the first message shows (AlarmChange.to_record(), or a deploy's JSON) and when that happened.
    shown: str
    shown_id: str
    shown_at: str
    posted: frozenset[str] = field(default_factory=frozenset)
    acknowledged_by: str | None = None


class ThreadStore(Protocol):
    def get(self, key: str) -> Thread | None: ...

    def open(self, key: str, previous: Thread | None, opener: str, shown: str, shown_at: str) -> Thread | None:
        """A new thread replacing `previous` (None: the first); None when another container changed it first."""
        ...

    def set_ts(self, thread: Thread, ts: str) -> None: ...

    def abandon(self, thread: Thread) -> None:
        """Forget a thread whose first message could not be posted, so that a retry opens it again."""
        ...

    def retire(self, thread: Thread) -> None:
        """Forget a thread whose first message is gone (deleted in Slack): the next change opens a new one."""
        ...

    def show_if_newer(self, thread: Thread, shown_id: str, shown: str, shown_at: str) -> bool:
        """Make `shown` what the first message shows if it happened after what it shows now."""
        ...

    def mark_posted(self, thread: Thread, message_id: str) -> None: ...

    def acknowledge(self, key: str, ts: str, user_id: str) -> tuple[bool, str | None]:
        """(won, who acknowledged): the first acknowledgement of the thread whose first message is `ts` wins.
        who is None when there is no such thread (any more)."""
        ...


class InMemoryThreadStore:
    def __init__(self, max_items: int = 10_000) -> None:
        self._threads: OrderedDict[str, Thread] = OrderedDict()
        self._max_items = max_items
        self._lock = threading.Lock()

    def get(self, key: str) -> Thread | None:
        with self._lock:
            return self._threads.get(key)

    def open(self, key: str, previous: Thread | None, opener: str, shown: str, shown_at: str) -> Thread | None:
        with self._lock:
            current = self._threads.get(key)
            if (current is None) != (previous is None) or (current and current.generation != previous.generation):
                return None
            thread = Thread(key, (previous.generation + 1) if previous else 1, None, opener, shown, opener, shown_at)
            self._threads[key] = thread
            self._threads.move_to_end(key)
            while len(self._threads) > self._max_items:
                self._threads.popitem(last=False)
            return thread

    def _change(self, thread: Thread, **changes: Any) -> bool:
        current = self._threads.get(thread.key)
        if current is None or current.generation != thread.generation:
            return False
        self._threads[thread.key] = replace(current, **changes)
        return True

    def set_ts(self, thread: Thread, ts: str) -> None:
        with self._lock:
            self._change(thread, ts=ts)

    def abandon(self, thread: Thread) -> None:
        with self._lock:
            current = self._threads.get(thread.key)
            if current and current.generation == thread.generation and current.ts is None:
                del self._threads[thread.key]

    def retire(self, thread: Thread) -> None:
        with self._lock:
            current = self._threads.get(thread.key)
            if current and current.generation == thread.generation:
                del self._threads[thread.key]

    def show_if_newer(self, thread: Thread, shown_id: str, shown: str, shown_at: str) -> bool:
        with self._lock:
            current = self._threads.get(thread.key)
            if current is None or current.generation != thread.generation or not current.shown_at < shown_at:
                return False
            return self._change(thread, shown=shown, shown_id=shown_id, shown_at=shown_at)

    def mark_posted(self, thread: Thread, message_id: str) -> None:
        with self._lock:
            current = self._threads.get(thread.key)
            if current is not None:
                self._change(thread, posted=current.posted | {message_id})

    def acknowledge(self, key: str, ts: str, user_id: str) -> tuple[bool, str | None]:
        with self._lock:
            current = self._threads.get(key)
            if current is None or current.ts != ts:
                return False, None
            if current.acknowledged_by:
                return False, current.acknowledged_by
            self._threads[key] = replace(current, acknowledged_by=user_id)
            return True, user_id


class DynamoDBThreadStore:
    """Items {id, generation, ts, opener, shown, shown_id, shown_at, posted (string set), acknowledged_by,
    expiration} in the idempotency table. Every write is conditional on the generation read before it."""

    def __init__(self, table_name: str) -> None:
        self._table = table_name

    @staticmethod
    def _client() -> Any:
        # Notifications run in their own invocation, bounded by the function's timeout, not Slack's 3 s.
        return aws_clients.client("dynamodb", aws_clients.SLOW_WORK)

    def get(self, key: str) -> Thread | None:
        item = self._client().get_item(TableName=self._table, Key={"id": {"S": key}}, ConsistentRead=True).get("Item")
        return _thread(item) if item and int(item.get("expiration", {}).get("N", "0")) > time.time() else None

    def open(self, key: str, previous: Thread | None, opener: str, shown: str, shown_at: str) -> Thread | None:
        client = self._client()
        generation = (previous.generation + 1) if previous else 1
        now = int(time.time())
        condition, values = "attribute_not_exists(id) OR expiration < :now", {":now": {"N": str(now)}}
        if previous is not None:
            condition, values = "generation = :g", {":g": {"N": str(previous.generation)}}
        try:
            client.put_item(
                TableName=self._table,
                Item={
                    "id": {"S": key},
                    "generation": {"N": str(generation)},
                    "opener": {"S": opener},
                    "shown": {"S": shown},
                    "shown_id": {"S": opener},
                    "shown_at": {"S": shown_at},
                    "expiration": {"N": str(now + RECORD_TTL_SECONDS)},
                },
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except client.exceptions.ConditionalCheckFailedException:
            return None
        return Thread(key, generation, None, opener, shown, opener, shown_at)

    def _update(self, thread: Thread, expression: str, values: dict[str, Any], condition: str = "") -> bool:
        client = self._client()
        values = {
            **values,
            ":g": {"N": str(thread.generation)},
            ":exp": {"N": str(int(time.time()) + RECORD_TTL_SECONDS)},
        }
        try:
            client.update_item(
                TableName=self._table,
                Key={"id": {"S": thread.key}},
                UpdateExpression=_with_expiration(expression),
                ConditionExpression="generation = :g" + (f" AND {condition}" if condition else ""),
                ExpressionAttributeValues=values,
            )
        except client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def set_ts(self, thread: Thread, ts: str) -> None:
        self._update(thread, "SET ts = :ts", {":ts": {"S": ts}})

    def abandon(self, thread: Thread) -> None:
        client = self._client()
        with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
            client.delete_item(
                TableName=self._table,
                Key={"id": {"S": thread.key}},
                ConditionExpression="generation = :g AND attribute_not_exists(ts)",
                ExpressionAttributeValues={":g": {"N": str(thread.generation)}},
            )

    def retire(self, thread: Thread) -> None:
        client = self._client()
        with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
            client.delete_item(
                TableName=self._table,
                Key={"id": {"S": thread.key}},
                ConditionExpression="generation = :g",
                ExpressionAttributeValues={":g": {"N": str(thread.generation)}},
            )

    def show_if_newer(self, thread: Thread, shown_id: str, shown: str, shown_at: str) -> bool:
        return self._update(
            thread,
            "SET shown = :shown, shown_id = :id, shown_at = :at",
            {":shown": {"S": shown}, ":id": {"S": shown_id}, ":at": {"S": shown_at}},
            "shown_at < :at",
        )

    def mark_posted(self, thread: Thread, message_id: str) -> None:
        self._update(thread, "ADD posted :m", {":m": {"SS": [message_id]}})

    def acknowledge(self, key: str, ts: str, user_id: str) -> tuple[bool, str | None]:
        client = self._client()
        try:
            client.update_item(
                TableName=self._table,
                Key={"id": {"S": key}},
                UpdateExpression="SET acknowledged_by = :u",
                ConditionExpression="ts = :ts AND attribute_not_exists(acknowledged_by)",
                ExpressionAttributeValues={":u": {"S": user_id}, ":ts": {"S": ts}},
                # The winner comes back with the refusal: no second read, no window between the two.
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except client.exceptions.ConditionalCheckFailedException as refused:
            item = refused.response.get("Item") or self._client().get_item(
                TableName=self._table, Key={"id": {"S": key}}, ConsistentRead=True
            ).get("Item")
            if not item or item.get("ts", {}).get("S") != ts:
                return False, None
            return False, item.get("acknowledged_by", {}).get("S")
        return True, user_id


def _with_expiration(expression: str) -> str:
    """`SET a = :a` / `ADD s :m` plus the refreshed TTL."""
    if expression.startswith("SET "):
        return expression + ", expiration = :exp"
    return "SET expiration = :exp " + expression


def _thread(item: dict[str, Any]) -> Thread:
    def s(name: str) -> str | None:
        value = item.get(name, {}).get("S")
        return value if isinstance(value, str) else None

    return Thread(
        key=s("id") or "",
        generation=int(item.get("generation", {}).get("N", "0")),
        ts=s("ts"),
        opener=s("opener") or "",
        shown=s("shown") or "",
        shown_id=s("shown_id") or "",
        shown_at=s("shown_at") or "",
        posted=frozenset(item.get("posted", {}).get("SS", [])),
        acknowledged_by=s("acknowledged_by"),
    )


def post_first_message(store: ThreadStore, thread: Thread, poster: AlertsPoster, text: str, blocks: list[dict]) -> str:
    """Post a new thread's first message and record its ts. One that cannot be posted abandons the thread, so
    that Lambda's retry opens it again."""
    try:
        ts = poster.post(text, blocks)
    except NotificationFailed:
        store.abandon(thread)
        raise
    store.set_ts(thread, ts)
    count(Metric.ALERTS_POSTED)
    return ts


def thread_store(table_name: str | None) -> ThreadStore:
    return DynamoDBThreadStore(table_name) if table_name else InMemoryThreadStore()
