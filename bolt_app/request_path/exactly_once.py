"""Exactly one reply per Slack event, across retries and containers.

Slack retries an event (same `event_id`) when it gets no 2xx within 3 seconds or a non-2xx
answer: three times, about at once, after about 1 minute and after about 5 minutes, each with
`X-Slack-Retry-Num` 1, 2, 3, and stops at the first 2xx (Slack's Events API docs, "Graceful
retries"; the 3-second timeout retries even while the first attempt still runs). Each event is
processed under an idempotency record keyed on its event_id:

- already answered: the retry gets 200 and nothing is done again;
- still being processed by another attempt: a retry first waits, within its time budget, for
  that attempt's outcome (answered: 200; failed: this retry processes it). If the attempt is
  still running after the wait, the answer is 503, so that Slack keeps its later retries: a 200
  here would end Slack's retries, and the message would be lost if the running attempt failed;
- the attempt failed (5xx from Bolt, an exception): the record is released and the 5xx goes
  back to Slack, whose next retry is processed afresh.

Nothing here counts on Slack's exact timing or number of retries: any retry that finds the
event in progress waits what its budget allows and otherwise asks to be retried, and records
of a crashed attempt expire with the invocation's timeout (outside Lambda, after
DEFAULT_IN_PROGRESS_SECONDS). A record names the attempt that wrote it, so an attempt whose
write landed but whose answer was lost (botocore then retries it) knows the record for its own.

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

from bolt_app.request_path.request_guard import HttpResponse

# Slack's last retry comes about 5 minutes after the first attempt; an hour is ample.
RECORD_TTL_SECONDS = 3600
# Without a Lambda context to bound it, how long an in-progress record blocks retries.
DEFAULT_IN_PROGRESS_SECONDS = 30
# How often a waiting retry looks at another container's record again (one conditional write each).
POLL_INTERVAL_SECONDS = 0.2


@dataclass(frozen=True)
class Outcome:
    response: HttpResponse
    # "processed", "processed_unguarded" (the store was unreachable), "duplicate" (already
    # answered) or "in_progress" (another attempt is still running).
    status: str
    # This attempt waited for another one's outcome before ending up with `status`.
    waited: bool = False


DUPLICATE_RESPONSE = HttpResponse(200, "")
# Not a 2xx: Slack keeps its later retries, which find the record answered or released.
IN_PROGRESS_RESPONSE = HttpResponse(503, "This event is being processed; Slack will retry.")


class ExactlyOnce(Protocol):
    def run(
        self,
        event_id: str,
        process: Callable[[], HttpResponse],
        lambda_context: Any = None,
        *,
        wait_seconds: float = 0.0,
    ) -> Outcome:
        """Runs `process` unless another attempt answered or runs it; an attempt found running is
        waited for up to `wait_seconds` (its release lets this one process)."""
        ...


def _in_progress_seconds(lambda_context: Any) -> float:
    remaining = getattr(lambda_context, "get_remaining_time_in_millis", None)
    return remaining() / 1000 if callable(remaining) else DEFAULT_IN_PROGRESS_SECONDS


class _DefaultInProgressDeadline:
    """Stands in for a Lambda context outside Lambda: what Powertools reads to expire in-progress records."""

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return int(DEFAULT_IN_PROGRESS_SECONDS * 1000)


_NO_LAMBDA_DEADLINE = _DefaultInProgressDeadline()


class InMemoryExactlyOnce:
    """Per-process records, bounded (least recently started dropped first)."""

    def __init__(self, max_items: int = 10_000, ttl_seconds: float = RECORD_TTL_SECONDS) -> None:
        # event_id -> (completed?, expires_at)
        self._records: OrderedDict[str, tuple[bool, float]] = OrderedDict()
        self._max_items = max_items
        self._ttl = ttl_seconds
        # Notified whenever a record is completed or released, for retries waiting on it.
        self._changed = threading.Condition()

    def run(
        self,
        event_id: str,
        process: Callable[[], HttpResponse],
        lambda_context: Any = None,
        *,
        wait_seconds: float = 0.0,
    ) -> Outcome:
        wait_until = time.monotonic() + wait_seconds
        waited = False
        with self._changed:
            while True:
                now = time.monotonic()
                record = self._records.get(event_id)
                if record is None or record[1] <= now:
                    break  # free, released or expired: this attempt takes it
                if record[0]:
                    return Outcome(DUPLICATE_RESPONSE, "duplicate", waited)
                if now >= wait_until:
                    return Outcome(IN_PROGRESS_RESPONSE, "in_progress", waited)
                waited = True
                self._changed.wait(min(wait_until, record[1]) - now)
            self._records[event_id] = (False, now + _in_progress_seconds(lambda_context))
            self._records.move_to_end(event_id)
            while len(self._records) > self._max_items:
                self._records.popitem(last=False)
        try:
            response = process()
        except BaseException:
            self._settle(event_id, completed=False)
            raise
        self._settle(event_id, completed=response.status < 500)
        return Outcome(response, "processed", waited)

    def _settle(self, event_id: str, *, completed: bool) -> None:
        with self._changed:
            if completed:
                self._records[event_id] = (True, time.monotonic() + self._ttl)
            else:
                self._records.pop(event_id, None)
            self._changed.notify_all()


class _AttemptFailed(Exception):
    """Makes Powertools delete the in-progress record: the attempt answered 5xx."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status)
        self.response = response


def _attempt_stamped_layer(table_name: str) -> Any:
    """Powertools' DynamoDB persistence layer, whose records name the attempt that wrote them.

    A PutItem of the in-progress record can land while its answer is lost (it comes after the
    client's 0.5 s read timeout); botocore then retries it, and the retry's condition fails against
    this attempt's own record, which Powertools takes for another attempt's ("already in progress"):
    the event would be answered 503 by the very attempt that holds it. So each call stamps its
    record with an attempt id, and a refusal by a record carrying the same id is the attempt's own
    write (bolt_app/foundation/claims.py does the same for plain claims).

    The id rides in Powertools' payload-validation attribute (`validation`, a hash of the payload's
    `attempt`), which Powertools writes with the in-progress and the completed record; validation
    itself is off (`_validate_payload`): another attempt's record is not an error, it is the point.
    """
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemAlreadyExistsError
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

    from bolt_app.foundation import aws_clients

    class AttemptStampedLayer(DynamoDBPersistenceLayer):
        def _put_record(self, data_record: DataRecord) -> None:
            try:
                super()._put_record(data_record)
            except IdempotencyItemAlreadyExistsError as exists:
                held = exists.old_data_record
                if (
                    held is not None
                    and held.status == "INPROGRESS"
                    and bool(data_record.payload_hash)
                    and held.payload_hash == data_record.payload_hash
                ):
                    return  # this attempt's own record: the write landed, its answer was lost
                raise

        def _validate_payload(self, data_payload: Any, stored_data_record: DataRecord) -> None:
            return None  # the attribute names an attempt, not a payload to compare

    # The container's shared client: short timeouts and bounded retries, so that the fail-open path
    # answers inside Slack's 3 seconds when the table is slow or throttled.
    return AttemptStampedLayer(table_name=table_name, boto3_client=aws_clients.client("dynamodb"))


class DynamoDBExactlyOnce:
    """Powertools Idempotency with its DynamoDB persistence layer (key `id`, TTL `expiration`)."""

    def __init__(self, table_name: str) -> None:
        # Imported here: boto3 is paid for only by deployments that configure the table.
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

        self._config = IdempotencyConfig(
            event_key_jmespath="event_id",
            # Not a check: how the attempt's id gets into its record (_attempt_stamped_layer).
            payload_validation_jmespath="attempt",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=RECORD_TTL_SECONDS,
            # Retries that land on the same container skip the DynamoDB read.
            use_local_cache=True,
            response_hook=lambda response, record: {**response, "duplicate": True},
        )

        @idempotent_function(
            data_keyword_argument="slack_event",
            config=self._config,
            persistence_store=_attempt_stamped_layer(table_name),
        )
        def process_once(slack_event: dict[str, str], process: Callable[[], HttpResponse]) -> dict[str, Any]:
            response = process()
            if response.status >= 500:
                raise _AttemptFailed(response)
            return {"status": response.status}

        self._process_once = process_once

    def run(
        self,
        event_id: str,
        process: Callable[[], HttpResponse],
        lambda_context: Any = None,
        *,
        wait_seconds: float = 0.0,
    ) -> Outcome:
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyInconsistentStateError,
            IdempotencyPersistenceLayerError,
        )

        from bolt_app.foundation import claims

        # In-progress records then expire with this invocation's timeout, so a retry after a crashed
        # or timed-out attempt is processed instead of dropped. Outside Lambda (Socket Mode, the local
        # server) Powertools would write no in-progress expiry at all, and a crashed attempt would
        # block its event for the record's whole hour: the same deadline as in memory instead.
        self._config.register_lambda_context(lambda_context if lambda_context is not None else _NO_LAMBDA_DEADLINE)
        result: list[HttpResponse] = []

        def process_and_keep() -> HttpResponse:
            result.append(process())
            return result[0]

        wait_until = time.monotonic() + wait_seconds
        waited = False
        while True:
            try:
                # A fresh attempt id per try: botocore's retry inside it re-sends the same one.
                stored = self._process_once(
                    slack_event={"event_id": event_id, "attempt": claims.new_attempt()}, process=process_and_keep
                )
                break
            except (IdempotencyAlreadyInProgressError, IdempotencyInconsistentStateError):
                # Another container runs it (or its record changed while Powertools read it).
                # Taking the record again (one conditional write) tells answered (a duplicate),
                # released or expired (ours now) and still running.
                if time.monotonic() + POLL_INTERVAL_SECONDS > wait_until:
                    return Outcome(IN_PROGRESS_RESPONSE, "in_progress", waited)
                waited = True
                time.sleep(POLL_INTERVAL_SECONDS)
            except _AttemptFailed as failed:
                return Outcome(failed.response, "processed", waited)
            except IdempotencyPersistenceLayerError:
                if result:  # processed, only the bookkeeping failed: never process twice
                    return Outcome(result[0], "processed", waited)
                # The table is unreachable: answering beats losing the message (a retry may repeat it).
                return Outcome(process(), "processed_unguarded", waited)
        if stored.get("duplicate"):
            return Outcome(DUPLICATE_RESPONSE, "duplicate", waited)
        return Outcome(result[0], "processed", waited)


def exactly_once_store(idempotency_table: str | None) -> ExactlyOnce:
    return DynamoDBExactlyOnce(idempotency_table) if idempotency_table else InMemoryExactlyOnce()
