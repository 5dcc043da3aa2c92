"""Claims in DynamoDB that know their own writer: a conditional PutItem stamped with an attempt id.

A conditional write can land while its answer is lost: DynamoDB took the PutItem, but the answer
came after the client's read timeout (REQUEST_PATH: 0.5 s), and botocore retried the call. The
retry's condition (`attribute_not_exists(id)`, say) then fails against this attempt's *own* first
write, and a claim that looked only at ConditionalCheckFailed would take itself for someone else.
Every claim is therefore written with a fresh attempt id (`attempt`), and a refusal whose holder
carries the same id is this attempt's own claim (botocore's retry re-sends the same request, id
included). Any other holder is somebody else's.

    holder = claim_item(table, {"id": {"S": key}, ...}, condition="attribute_not_exists(id)")
    if holder is None:  # ours (written now, or written before its answer was lost)
        ...
    else:               # the item that holds the claim (DynamoDB's ALL_OLD, or a consistent read)
        ...

Errors other than the condition (throttling, timeouts after retries, a missing table) are raised
as botocore raises them: what to do when the table is unreachable is the caller's decision.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from bolt_app.foundation import aws_clients

# The attribute that names the attempt which wrote a claim.
ATTEMPT_ATTR = "attempt"


def new_attempt() -> str:
    """A fresh attempt id: unique per call, so that no two attempts (containers, retries) share one."""
    return uuid.uuid4().hex


def claim_item(
    table_name: str,
    item: Mapping[str, Any],
    *,
    condition: str,
    values: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
    key_attr: str = "id",
    client: Any = None,
) -> dict[str, Any] | None:
    """PutItem `item`, stamped with a new attempt id, if `condition` holds.

    Returns None when the claim is this call's (including a write that landed but whose answer was
    lost); otherwise the item holding it, never empty (an item that vanished between the refusal
    and the read is reported as `item` itself would be: held, by nobody known)."""
    dynamodb = client or aws_clients.client("dynamodb")
    attempt = new_attempt()
    stamped = {**item, ATTEMPT_ATTR: {"S": attempt}}
    request: dict[str, Any] = {
        "TableName": table_name,
        "Item": stamped,
        "ConditionExpression": condition,
        # The holder comes back with the refusal: no second read, no window between the two.
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if values:
        request["ExpressionAttributeValues"] = dict(values)
    if names:
        request["ExpressionAttributeNames"] = dict(names)
    try:
        dynamodb.put_item(**request)
    except dynamodb.exceptions.ConditionalCheckFailedException as refused:
        holder = refused.response.get("Item")
        if not holder:  # a DynamoDB implementation without ALL_OLD on failure
            key = {key_attr: stamped[key_attr]}
            holder = dynamodb.get_item(TableName=table_name, Key=key, ConsistentRead=True).get("Item")
        if holder and is_own(holder, attempt):
            return None  # our own write, whose answer was lost: botocore's retry found it
        return dict(holder or item)
    return None


def is_own(item: Mapping[str, Any], attempt: str) -> bool:
    """The item was written by `attempt`."""
    stamp = item.get(ATTEMPT_ATTR)
    return isinstance(stamp, Mapping) and stamp.get("S") == attempt
