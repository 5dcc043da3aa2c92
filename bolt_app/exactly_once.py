"""Exactly one reply per Slack event, across retries and containers.

Slack retries an event (same `event_id`) when it gets no 2xx within 3 seconds or a 5xx. Each
event is processed under an idempotency record keyed on its event_id:

- already answered: the retry gets 200 and nothing is done again;
- still being processed (a slow first attempt): the retry gets 200 and nothing is done;
- the attempt failed (5xx from Bolt, an exception): the record is released and the 5xx goes
  back to Slack, whose next retry is processed afresh.

With IDEMPOTENCY_TABLE set, records live in DynamoDB through Powertools' Idempotency utility,
shared by every container. Without it (local runs, Socket Mode) a bounded in-memory store
gives the same semantics within one process.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bolt_app.request_guard import HttpResponse

# Slack's last retry comes about 5 minutes after the first attempt; an hour is ample.
RECORD_TTL_SECONDS = 3600
# Without a Lambda context to bound it, how long an in-progress record blocks retries.
DEFAULT_IN_PROGRESS_SECONDS = 30


@dataclass(frozen=True)
class Outcome:
    response: HttpResponse
    # "processed", "duplicate" (already answered) or "in_progress" (another attempt is running).
    status: str


DUPLICATE_RESPONSE = HttpResponse(200, "")


class ExactlyOnce(Protocol):
    def run(self, event_id: str, process: Callable[[], HttpResponse], lambda_context: Any = None) -> Outcome: ...


def _in_progress_seconds(lambda_context: Any) -> float:
    remaining = getattr(lambda_context, "get_remaining_time_in_millis", None)
    return remaining() / 1000 if callable(remaining) else DEFAULT_IN_PROGRESS_SECONDS


class InMemoryExactlyOnce:
    """Per-process records, bounded (least recently started dropped first)."""

    def __init__(self, max_items: int = 10_000, ttl_seconds: float = RECORD_TTL_SECONDS) -> None:
        # event_id -> (completed?, expires_at)
        self._records: OrderedDict[str, tuple[bool, float]] = OrderedDict()
        self._max_items = max_items
        self._ttl = ttl_seconds
        self._lock = threading.Lock()

    def run(self, event_id: str, process: Callable[[], HttpResponse], lambda_context: Any = None) -> Outcome:
        now = time.monotonic()
        with self._lock:
            record = self._records.get(event_id)
            if record is not None and record[1] > now:
                return Outcome(DUPLICATE_RESPONSE, "duplicate" if record[0] else "in_progress")
            self._records[event_id] = (False, now + _in_progress_seconds(lambda_context))
            self._records.move_to_end(event_id)
            while len(self._records) > self._max_items:
                self._records.popitem(last=False)
        try:
            response = process()
        except BaseException:
            self._release(event_id)
            raise
        if response.status >= 500:
            self._release(event_id)
        else:
            with self._lock:
                self._records[event_id] = (True, time.monotonic() + self._ttl)
        return Outcome(response, "processed")

    def _release(self, event_id: str) -> None:
        with self._lock:
            self._records.pop(event_id, None)


class _AttemptFailed(Exception):
    """Makes Powertools delete the in-progress record: the attempt answered 5xx."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status)
        self.response = response


class DynamoDBExactlyOnce:
    """Powertools Idempotency with its DynamoDB persistence layer (key `id`, TTL `expiration`)."""

    def __init__(self, table_name: str) -> None:
        # Imported here: boto3 is paid for only by deployments that configure the table.
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        self._config = IdempotencyConfig(
            event_key_jmespath="event_id",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=RECORD_TTL_SECONDS,
            # Retries that land on the same container skip the DynamoDB read.
            use_local_cache=True,
            response_hook=lambda response, record: {**response, "duplicate": True},
        )

        @idempotent_function(
            data_keyword_argument="slack_event",
            config=self._config,
            persistence_store=DynamoDBPersistenceLayer(table_name=table_name),
        )
        def process_once(slack_event: dict[str, str], process: Callable[[], HttpResponse]) -> dict[str, Any]:
            response = process()
            if response.status >= 500:
                raise _AttemptFailed(response)
            return {"status": response.status}

        self._process_once = process_once

    def run(self, event_id: str, process: Callable[[], HttpResponse], lambda_context: Any = None) -> Outcome:
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyPersistenceLayerError,
        )

        if lambda_context is not None:
            # In-progress records then expire with this invocation's timeout, so a retry
            # after a crashed or timed-out attempt is processed instead of dropped.
            self._config.register_lambda_context(lambda_context)
        result: list[HttpResponse] = []

        def process_and_keep() -> HttpResponse:
            result.append(process())
            return result[0]

        try:
            stored = self._process_once(slack_event={"event_id": event_id}, process=process_and_keep)
        except IdempotencyAlreadyInProgressError:
            return Outcome(DUPLICATE_RESPONSE, "in_progress")
        except _AttemptFailed as failed:
            return Outcome(failed.response, "processed")
        except IdempotencyPersistenceLayerError:
            if result:  # processed, only the bookkeeping failed: never process twice
                return Outcome(result[0], "processed")
            # The table is unreachable: answering beats losing the message (a retry may repeat it).
            return Outcome(process(), "processed_unguarded")
        if stored.get("duplicate"):
            return Outcome(DUPLICATE_RESPONSE, "duplicate")
        return Outcome(result[0], "processed")


def exactly_once_store(idempotency_table: str | None) -> ExactlyOnce:
    return DynamoDBExactlyOnce(idempotency_table) if idempotency_table else InMemoryExactlyOnce()
