"""The two-person rule: an action that needs a second person waits for one decision, exactly once.

An approval request is one record: who asked, to do what to which target, until when (15 minutes),
and its status — pending, then approved, denied or expired. Deciding is one conditional change of
that status from pending, so the first decision wins, across clicks and containers; a later one is
told who decided. Who may decide is the policy's `approve` verb (checked before any listener runs);
that the requester is not the one deciding, and that the request has not expired, is checked here.

With IDEMPOTENCY_TABLE set the records are items of that DynamoDB table (`UpdateItem` with a
condition on the status; `ReturnValuesOnConditionCheckFailure=ALL_OLD` names the winner without a
second read). Each decision carries an attempt id, so that botocore's retry of an update whose answer
was lost recognises the update as its own (issue 18).

An approval whose action never ran is not lost: the decision names the delivery that made it (the lazy
run's `x-bolt-app-delivery`), and the record says when the action was carried out (`executed_at`). Should
that run crash after winning the decision and before acting, Lambda's retry of the same delivery (the
lazy exactly-once record keeps two runs of one delivery from overlapping) finds the decision its own
and not yet carried out, and carries it out; any other click, or a retry after it ran, is told it was
already decided. Without a table: a bounded in-memory store,
exact within one process. Unreachable table: the decision fails closed (`ApprovalUnavailable`).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

from bolt_app.foundation import aws_clients, claims

APPROVAL_TTL_SECONDS = 15 * 60
# Records outlive their expiry by a day, so that a late click is told "expired", not "unknown".
RECORD_KEEP_SECONDS = 24 * 3600
KEY_PREFIX = "chatops_approval#"
PENDING, APPROVED, DENIED, EXPIRED = "pending", "approved", "denied", "expired"


class ApprovalUnavailable(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class ApprovalRequest:
    id: str
    requester: str
    command: str
    action: str  # "start", "stop"
    target: str  # the instance ID
    target_name: str
    channel: str
    created_at: float
    expires_at: float
    status: str = PENDING
    decided_by: str | None = None
    decided_at: float | None = None
    # The response_url of the click that asked (to refresh the list message; valid 30 minutes).
    origin_response_url: str | None = None
    attempt: str | None = None
    # The delivery (lazy run) that decided, and when the approved action was carried out (None: not yet).
    delivery: str | None = None
    executed_at: float | None = None

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at


def new_request(
    requester: str,
    command: str,
    action: str,
    target: str,
    target_name: str,
    channel: str,
    origin_response_url: str | None = None,
    now: float | None = None,
) -> ApprovalRequest:
    created = time.time() if now is None else now
    return ApprovalRequest(
        id=secrets.token_hex(8),
        requester=requester,
        command=command,
        action=action,
        target=target,
        target_name=target_name,
        channel=channel,
        created_at=created,
        expires_at=created + APPROVAL_TTL_SECONDS,
        origin_response_url=origin_response_url,
    )


@dataclass(frozen=True)
class Decision:
    """The outcome of deciding: `won` when this call made the change; `request` as it now stands."""

    won: bool
    request: ApprovalRequest
    # Won earlier by this same delivery, whose run ended before the approved action was carried out.
    resumed: bool = False


class ApprovalStore(Protocol):
    def create(self, request: ApprovalRequest) -> None: ...

    def get(self, approval_id: str) -> ApprovalRequest | None: ...

    def decide(
        self, approval_id: str, status: str, user_id: str, now: float | None = None, delivery: str | None = None
    ) -> Decision | None:
        """Pending -> `status` (approved/denied before expiry; expired after it). None: no such request.
        Also won (`resumed`) by the delivery that approved it, while the approved action has not run."""
        ...

    def mark_executed(self, approval_id: str, now: float | None = None) -> None:
        """The approved action was carried out (whatever its outcome): no retry carries it out again."""
        ...


def _resumable(request: ApprovalRequest, status: str, user_id: str, delivery: str | None) -> bool:
    """`request` was approved by this very delivery, whose run ended before carrying the action out."""
    return (
        bool(delivery)
        and status == APPROVED
        and request.status == APPROVED
        and request.decided_by == user_id
        and request.delivery == delivery
        and request.executed_at is None
    )


def _can_change(request: ApprovalRequest, status: str, now: float) -> bool:
    if request.status != PENDING:
        return False
    return request.expired(now) if status == EXPIRED else not request.expired(now)


class InMemoryApprovals:
    def __init__(self, max_items: int = 10_000) -> None:
        self._requests: OrderedDict[str, ApprovalRequest] = OrderedDict()
        self._max_items = max_items
        self._lock = threading.Lock()

    def create(self, request: ApprovalRequest) -> None:
        with self._lock:
            self._requests[request.id] = request
            while len(self._requests) > self._max_items:
                self._requests.popitem(last=False)

    def get(self, approval_id: str) -> ApprovalRequest | None:
        with self._lock:
            return self._requests.get(approval_id)

    def decide(
        self, approval_id: str, status: str, user_id: str, now: float | None = None, delivery: str | None = None
    ) -> Decision | None:
        now = time.time() if now is None else now
        with self._lock:
            request = self._requests.get(approval_id)
            if request is None:
                return None
            if not _can_change(request, status, now):
                resumed = _resumable(request, status, user_id, delivery)
                return Decision(resumed, request, resumed=resumed)
            decided = replace(request, status=status, decided_by=user_id, decided_at=now, delivery=delivery)
            self._requests[approval_id] = decided
            return Decision(True, decided)

    def mark_executed(self, approval_id: str, now: float | None = None) -> None:
        with self._lock:
            request = self._requests.get(approval_id)
            if request is not None:
                self._requests[approval_id] = replace(request, executed_at=time.time() if now is None else now)


_STRING_FIELDS = ("id", "requester", "command", "action", "target", "target_name", "channel", "status")
_OPTIONAL_STRINGS = ("decided_by", "origin_response_url", "attempt", "delivery")
_OPTIONAL_NUMBERS = ("decided_at", "executed_at")
_NUMBERS = ("created_at", "expires_at")


def _to_item(request: ApprovalRequest) -> dict[str, Any]:
    fields = asdict(request)
    item: dict[str, Any] = {"id": {"S": KEY_PREFIX + request.id}}
    for name in _STRING_FIELDS[1:]:
        item[name] = {"S": str(fields[name])}
    for name in _OPTIONAL_STRINGS:
        if fields[name]:
            item[name] = {"S": str(fields[name])}
    for name in _NUMBERS:
        item[name] = {"N": repr(float(fields[name]))}
    for name in _OPTIONAL_NUMBERS:
        if fields[name] is not None:
            item[name] = {"N": repr(float(fields[name]))}
    item["expiration"] = {"N": str(int(request.expires_at + RECORD_KEEP_SECONDS))}
    return item


def _from_item(item: dict[str, Any] | None) -> ApprovalRequest | None:
    if not item:
        return None
    try:
        values: dict[str, Any] = {"id": item["id"]["S"].removeprefix(KEY_PREFIX)}
        for name in _STRING_FIELDS[1:]:
            values[name] = item[name]["S"]
        for name in _OPTIONAL_STRINGS:
            values[name] = item.get(name, {}).get("S")
        for name in _NUMBERS:
            values[name] = float(item[name]["N"])
        for name in _OPTIONAL_NUMBERS:
            values[name] = float(item[name]["N"]) if name in item else None
    except (KeyError, TypeError, ValueError):
        return None
    return ApprovalRequest(**values)


class DynamoDBApprovals:
    def __init__(self, table_name: str) -> None:
        self._table = table_name

    def _call(self, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        client = aws_clients.client("dynamodb")
        try:
            return getattr(client, method)(TableName=self._table, **kwargs)
        except client.exceptions.ConditionalCheckFailedException:
            raise
        except (BotoCoreError, ClientError) as error:
            raise ApprovalUnavailable(aws_clients.error_code(error)) from None

    def create(self, request: ApprovalRequest) -> None:
        self._call("put_item", Item=_to_item(request))

    def get(self, approval_id: str) -> ApprovalRequest | None:
        answer = self._call("get_item", Key={"id": {"S": KEY_PREFIX + approval_id}}, ConsistentRead=True)
        return _from_item(answer.get("Item"))

    def decide(
        self, approval_id: str, status: str, user_id: str, now: float | None = None, delivery: str | None = None
    ) -> Decision | None:
        now = time.time() if now is None else now
        attempt = claims.new_attempt()
        client = aws_clients.client("dynamodb")
        # Approve/deny only before expiry; "expired" only after it. Either way only from pending.
        timing = "expires_at <= :now" if status == EXPIRED else "expires_at > :now"
        try:
            answer = self._call(
                "update_item",
                Key={"id": {"S": KEY_PREFIX + approval_id}},
                UpdateExpression="SET #status = :status, decided_by = :user, decided_at = :now, attempt = :attempt"
                + (", delivery = :delivery" if delivery else ""),
                ConditionExpression=f"attribute_exists(id) AND #status = :pending AND {timing}",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":status": {"S": status},
                    ":user": {"S": user_id},
                    ":now": {"N": repr(float(now))},
                    ":attempt": {"S": attempt},
                    ":pending": {"S": PENDING},
                    **({":delivery": {"S": delivery}} if delivery else {}),
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except client.exceptions.ConditionalCheckFailedException as refused:
            current = _from_item(refused.response.get("Item"))
            if current is None:
                return None
            # Our own update, landed before botocore's retry of it: the decision is ours.
            if claims.is_own(refused.response.get("Item") or {}, attempt):
                return Decision(True, current)
            resumed = _resumable(current, status, user_id, delivery)
            return Decision(resumed, current, resumed=resumed)
        decided = _from_item(answer.get("Attributes"))
        if decided is None:  # pragma: no cover - DynamoDB returns ALL_NEW on success
            raise ApprovalUnavailable("NoAttributes")
        return Decision(True, decided)

    def mark_executed(self, approval_id: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._call(
            "update_item",
            Key={"id": {"S": KEY_PREFIX + approval_id}},
            UpdateExpression="SET executed_at = :now",
            ConditionExpression="attribute_exists(id)",
            ExpressionAttributeValues={":now": {"N": repr(float(now))}},
        )


def approval_store(table_name: str | None) -> ApprovalStore:
    return DynamoDBApprovals(table_name) if table_name else InMemoryApprovals()
