"""The audit trail: one JSON record per decision, appended where the bot cannot rewrite it.

On AWS (`AUDIT_LOG_GROUP` set) each record is one event in that CloudWatch Logs group, written with
PutLogEvents into a stream per container and day (`2026/12/01/<container>`, so that `/audit` reads the
newest streams first). The function's role may create streams, put events and read them back in that
group and nothing else there (template.yaml): no DeleteLogStream, no retention or policy change.
Locally (no `AUDIT_LOG_GROUP`) each record is a JSON log line marked `"audit": true`, and the last
ones are kept in memory for `/audit`.

`AuditTrail.record` never raises and never blocks a refusal for long (the request path's AWS client:
short timeouts, one retry): a record that cannot be written is logged at ERROR with the record itself
in the line (the function's own log group keeps it) and counted (`AuditWriteFailures`, alarmed).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from bolt_app.config import Settings
from bolt_app.foundation import aws_clients
from bolt_app.foundation.observability import Metric, count

# What a record's `decision` says. `refused` is the policy middleware's; the others are written by
# the listeners that act (a request for approval, its outcome, the action's own outcome).
DECISIONS = ("refused", "requested", "approved", "denied", "expired", "executed", "failed")
FIELDS = ("time", "user", "channel", "command", "action", "target", "decision", "approver", "result")
# A value longer than this (a command's free text, say) is cut: a record stays one small event.
MAX_VALUE_CHARS = 500
LOCAL_RECORDS_KEPT = 500
# /audit reads back at most this many of the newest streams (a stream per container and day).
MAX_STREAMS_READ = 50

logger = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class AuditRecord:
    user: str | None
    command: str
    decision: str
    channel: str | None = None
    # What was asked: "run" for a command itself, else a verb or the button's action ("start", "stop").
    action: str | None = None
    # What it was asked of: an instance ID, the command's text, a button's value.
    target: str | None = None
    approver: str | None = None
    # The outcome in words: why it was refused, what AWS answered.
    result: str | None = None
    time: str = field(default_factory=_now)

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        return {
            name: (values[name][:MAX_VALUE_CHARS] if isinstance(values[name], str) else values[name]) for name in FIELDS
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, separators=(",", ":"))


class AuditReadFailed(RuntimeError):
    """The trail could not be read back (for /audit); the message is AWS's error code only."""


class AuditTrail:
    """Where records go. `record` never raises: it answers whether the record was written."""

    def record(self, record: AuditRecord) -> bool:
        raise NotImplementedError

    def recent(self, limit: int = 20, user: str | None = None) -> list[dict[str, Any]]:
        """The newest `limit` records (of `user` only, if given), newest first."""
        raise NotImplementedError


class LocalAuditTrail(AuditTrail):
    """Off AWS: JSON log lines with "audit": true, the newest kept in memory for /audit."""

    def __init__(self, keep: int = LOCAL_RECORDS_KEPT) -> None:
        self._records: deque[dict[str, Any]] = deque(maxlen=keep)
        self._lock = threading.Lock()
        # Called with each record's values once written (the playground's inspector shows them).
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def record(self, record: AuditRecord) -> bool:
        values = record.as_dict()
        try:
            with self._lock:
                self._records.append(values)
            logger.info("audit: %s %s", values["decision"], values["command"], extra={"audit": True, **values})
            for listener in list(self.listeners):
                listener(dict(values))
        except Exception as error:  # a broken log handler must not break the refusal it records
            _failed(record, error)
            return False
        return True

    def recent(self, limit: int = 20, user: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            records = list(self._records)
        return [r for r in reversed(records) if user is None or r.get("user") == user][:limit]


class LogGroupAuditTrail(AuditTrail):
    """CloudWatch Logs: PutLogEvents into this container's stream of the day, in `log_group`."""

    def __init__(self, log_group: str) -> None:
        self.log_group = log_group
        # A stream per container, named at its first write rather than at init: containers restored from
        # one SnapStart snapshot then still get streams of their own. (Sharing one would be harmless too:
        # PutLogEvents takes concurrent writers to a stream since sequence tokens went.)
        self._container: str | None = None
        self._created: set[str] = set()
        self._lock = threading.Lock()

    def stream_name(self, when: float) -> str:
        with self._lock:
            if self._container is None:
                self._container = uuid.uuid4().hex
        return time.strftime("%Y/%m/%d/", time.gmtime(when)) + self._container

    def record(self, record: AuditRecord) -> bool:
        try:
            self._put(record.to_json())
        except Exception as error:
            _failed(record, error)
            return False
        return True

    def _put(self, message: str) -> None:
        now = time.time()
        stream = self.stream_name(now)
        # On Slack's request path (a refusal is answered within the ack): short timeouts, one retry.
        logs = aws_clients.client("logs")
        with self._lock:
            created = stream in self._created
        if not created:
            try:
                logs.create_log_stream(logGroupName=self.log_group, logStreamName=stream)
            except Exception as error:
                if aws_clients.error_code(error) != "ResourceAlreadyExistsException":
                    raise
            with self._lock:
                self._created.add(stream)
        # No sequence token: PutLogEvents has ignored them since 2023 and takes concurrent writers.
        answer = logs.put_log_events(
            logGroupName=self.log_group,
            logStreamName=stream,
            logEvents=[{"timestamp": int(now * 1000), "message": message}],
        )
        rejected = answer.get("rejectedLogEventsInfo") if isinstance(answer, dict) else None
        if rejected:
            raise RuntimeError(f"PutLogEvents rejected the event ({sorted(rejected)})")

    def recent(self, limit: int = 20, user: str | None = None) -> list[dict[str, Any]]:
        """The newest records: streams newest day first (their names start with the date), each read from
        its end; a day's streams are all read before stopping, since containers interleave within a day."""
        logs = aws_clients.client("logs", aws_clients.SLOW_WORK)
        try:
            streams = logs.describe_log_streams(
                logGroupName=self.log_group, orderBy="LogStreamName", descending=True, limit=MAX_STREAMS_READ
            ).get("logStreams", [])
            found: list[tuple[int, dict[str, Any]]] = []
            day_done = None
            for stream in streams:
                name = str(stream.get("logStreamName", ""))
                day = name[:10]
                if day_done is not None and day != day_done and len(found) >= limit:
                    break
                events = logs.get_log_events(
                    logGroupName=self.log_group, logStreamName=name, startFromHead=False, limit=1000
                ).get("events", [])
                for event in events:
                    values = _parse(event.get("message"))
                    if values is not None and (user is None or values.get("user") == user):
                        found.append((int(event.get("timestamp") or 0), values))
                day_done = day
        except Exception as error:
            raise AuditReadFailed(aws_clients.error_code(error)) from None
        found.sort(key=lambda item: item[0], reverse=True)
        return [values for _, values in found[:limit]]


def _parse(message: Any) -> dict[str, Any] | None:
    try:
        values = json.loads(message) if isinstance(message, str) else None
    except ValueError:
        return None
    return values if isinstance(values, dict) else None


def _failed(record: AuditRecord, error: Exception) -> None:
    count(Metric.AUDIT_WRITE_FAILURES)
    code = aws_clients.error_code(error)
    # The record rides in the ERROR line itself, so that it is not lost: the function's log group keeps it.
    logger.error(
        "audit record not written (%s): %s",
        code,
        record.to_json(),
        extra={"audit_write_failed": True, "error_type": type(error).__name__, "code": code},
    )


def audit_trail(settings: Settings) -> AuditTrail:
    """The container's trail: the log group when AUDIT_LOG_GROUP is set, else local log lines."""
    if settings.audit_log_group:
        return LogGroupAuditTrail(settings.audit_log_group)
    return LocalAuditTrail()
