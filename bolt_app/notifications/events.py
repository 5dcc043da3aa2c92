"""What arrives: SNS records (alarm or not), CloudFormation status events, the digest schedule's event.

Parsed with Powertools' event source data classes (SNSEvent, EventBridgeEvent); anything these do not
recognise is never an error: an SNS message that is not an alarm is a PlainNotification, posted as it is.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools.utilities.data_classes.event_bridge_event import EventBridgeEvent
from aws_lambda_powertools.utilities.data_classes.sns_event import SNSEvent, SNSEventRecord

ALARM_STATES = ("ALARM", "OK", "INSUFFICIENT_DATA")

# The digest schedule's event, ours to choose (template.yaml, DigestSchedule): EventBridge Scheduler
# replaces the <aws.scheduler.*> context attributes in the target's Input when it invokes the function
# (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html).
# scheduled-time stays the same across Scheduler's retries of one run (execution-id does not): it keys
# exactly-once.
DIGEST_MARK = "bolt_app.digest"
DIGEST_INPUT = {
    "source": DIGEST_MARK,
    "schedule_arn": "<aws.scheduler.schedule-arn>",
    "scheduled_time": "<aws.scheduler.scheduled-time>",
}

# EventBridge: {"source": "aws.cloudformation", "detail-type": "CloudFormation Stack Status Change",
# "detail": {"stack-id": ..., "status-details": {"status": ..., "status-reason": ...}, ...}}
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/event-detail-stack-status-change.html).
STACK_STATUS_CHANGE = "CloudFormation Stack Status Change"


@dataclass(frozen=True)
class AlarmChange:
    """One CloudWatch alarm state change, from the JSON CloudWatch publishes to SNS:
    {"AlarmName", "AlarmDescription", "AWSAccountId", "NewStateValue", "NewStateReason",
    "StateChangeTime": "2015-06-03T17:43:27.123+0000", "Region": "US East (N. Virginia)", "AlarmArn",
    "OldStateValue", "Trigger": {"MetricName", "Namespace", "Statistic", "Dimensions": [{"name", "value"}],
    "Period", "EvaluationPeriods", "ComparisonOperator", "Threshold", ...}} (metric-math alarms carry
    Trigger.Metrics instead of MetricName; composite alarms an AlarmRule)."""

    message_id: str
    alarm_name: str
    alarm_arn: str
    new_state: str
    old_state: str
    reason: str
    # ISO 8601, UTC, microseconds: orders as a string (DynamoDB conditions compare it so).
    changed_at: str
    region_name: str
    description: str = ""
    metric: str = ""
    threshold: str = ""

    @property
    def changed_time(self) -> datetime:
        return datetime.fromisoformat(self.changed_at)

    @property
    def region_code(self) -> str:
        # arn:aws:cloudwatch:us-east-1:123456789012:alarm:name
        parts = self.alarm_arn.split(":")
        return parts[3] if len(parts) > 3 else ""

    @property
    def console_url(self) -> str | None:
        parts = self.alarm_arn.split(":")
        if len(parts) < 7 or not self.region_code:
            return None
        domain = "console.amazonaws.cn" if parts[1] == "aws-cn" else "console.aws.amazon.com"
        region = quote(self.region_code, safe="")
        name = quote(self.alarm_name, safe="")
        return f"https://{region}.{domain}/cloudwatch/home?region={region}#alarmsV2:alarm/{name}"

    def to_record(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_record(cls, text: str) -> AlarmChange:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class PlainNotification:
    """Anything else on the topic: plain text, JSON that is not an alarm, a message published by hand."""

    message_id: str
    subject: str
    message: str


@dataclass(frozen=True)
class StackStatusChange:
    event_id: str
    stack_id: str
    status: str
    reason: str
    time: datetime

    @property
    def stack_name(self) -> str:
        # arn:aws:cloudformation:us-east-1:123456789012:stack/NAME/uuid
        resource = self.stack_id.split(":", 5)[-1]
        parts = resource.split("/")
        return parts[1] if len(parts) >= 2 and parts[0] == "stack" else resource


@dataclass(frozen=True)
class DigestRequest:
    key: str


Notification = AlarmChange | PlainNotification


def is_sns_event(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("EventSource") == "aws:sns" for r in records)
    )


def is_stack_status_event(event: Any) -> bool:
    return isinstance(event, dict) and event.get("source") == "aws.cloudformation" and "detail-type" in event


def is_digest_event(event: Any) -> bool:
    return isinstance(event, dict) and event.get("source") == DIGEST_MARK


def sns_notifications(event: dict[str, Any]) -> list[Notification]:
    """One notification per record (SNS sends one record per invocation; a list costs nothing). A record
    without an SNS message in it (an event sent by hand) has nothing to post and is left out."""
    found = [_notification(record) for record in SNSEvent(event).records]
    return [n for n in found if n is not None]


def _notification(record: SNSEventRecord) -> Notification | None:
    raw = record.raw_event.get("Sns")
    if not isinstance(raw, dict):
        return None
    text = raw.get("Message")
    text = text if isinstance(text, str) else json.dumps(text)
    # SNS's MessageId is the same across its redeliveries; a hand-made event without one is keyed on its text.
    message_id = raw.get("MessageId")
    if not isinstance(message_id, str) or not message_id:
        message_id = "sha256:" + hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
    subject = raw.get("Subject")
    alarm = alarm_change(message_id, text)
    if alarm is not None:
        return alarm
    return PlainNotification(message_id=message_id, subject=subject if isinstance(subject, str) else "", message=text)


def alarm_change(message_id: str, text: str) -> AlarmChange | None:
    """The alarm state change in an SNS message, or None when the message is not one."""
    try:
        body = json.loads(text)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    name, arn, state = body.get("AlarmName"), body.get("AlarmArn"), body.get("NewStateValue")
    if not (isinstance(name, str) and isinstance(arn, str) and arn.startswith("arn:") and state in ALARM_STATES):
        return None
    changed = _parse_time(body.get("StateChangeTime"))
    if changed is None:
        return None
    trigger = body.get("Trigger") if isinstance(body.get("Trigger"), dict) else {}
    return AlarmChange(
        message_id=message_id,
        alarm_name=name,
        alarm_arn=arn,
        new_state=state,
        old_state=_text(body.get("OldStateValue")),
        reason=_text(body.get("NewStateReason")),
        changed_at=changed.isoformat(timespec="microseconds"),
        region_name=_text(body.get("Region")),
        description=_text(body.get("AlarmDescription")),
        metric=_metric(trigger),
        threshold=_threshold(trigger),
    )


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    for parse in (lambda v: datetime.strptime(v, "%Y-%m-%dT%H:%M:%S.%f%z"), datetime.fromisoformat):
        try:
            parsed = parse(value)
        except ValueError:
            continue
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _metric(trigger: dict[str, Any]) -> str:
    name = trigger.get("MetricName")
    if isinstance(name, str) and name:
        dims = [
            f"{d.get('name')}={d.get('value')}"
            for d in trigger.get("Dimensions") or []
            if isinstance(d, dict) and d.get("name")
        ]
        text = f"{_text(trigger.get('Namespace'))} {name}".strip()
        stat = trigger.get("ExtendedStatistic") or trigger.get("Statistic")
        if isinstance(stat, str) and stat:
            text += f" ({stat.lower()}"
            period = trigger.get("Period")
            text += f" over {period} s)" if isinstance(period, int) else ")"
        return text + (f" [{', '.join(dims)}]" if dims else "")
    for metric in trigger.get("Metrics") or []:
        if isinstance(metric, dict) and isinstance(metric.get("Expression"), str):
            return f"metric math: {metric['Expression']}"
    return ""


_OPERATORS = {
    "GreaterThanOrEqualToThreshold": "≥",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "≤",
}


def _threshold(trigger: dict[str, Any]) -> str:
    threshold = trigger.get("Threshold")
    if not isinstance(threshold, int | float):
        return ""
    operator = _OPERATORS.get(str(trigger.get("ComparisonOperator")), str(trigger.get("ComparisonOperator") or ""))
    periods = trigger.get("EvaluationPeriods")
    tail = f" for {periods} period{'s' if periods != 1 else ''}" if isinstance(periods, int) else ""
    return f"{operator} {threshold:g}{tail}".strip()


def stack_status_change(event: dict[str, Any]) -> StackStatusChange | None:
    """The stack status change in an EventBridge event; None for any other CloudFormation event."""
    parsed = EventBridgeEvent(event)
    if event.get("detail-type") != STACK_STATUS_CHANGE:
        return None
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    details = detail.get("status-details") if isinstance(detail.get("status-details"), dict) else {}
    stack_id, status = detail.get("stack-id"), details.get("status")
    event_id = event.get("id")
    if not (isinstance(stack_id, str) and isinstance(status, str) and isinstance(event_id, str)):
        return None
    time = _parse_time(event.get("time")) or datetime.now(UTC)
    return StackStatusChange(
        event_id=parsed.get_id,
        stack_id=stack_id,
        status=status,
        reason=_text(details.get("status-reason")),
        time=time,
    )


def digest_request(event: dict[str, Any]) -> DigestRequest:
    scheduled = event.get("scheduled_time")
    schedule = event.get("schedule_arn")
    # An event sent by hand (`python -m bolt_app` documents it) may leave them out: then it is its own run.
    if not isinstance(scheduled, str) or not scheduled or scheduled.startswith("<"):
        scheduled = datetime.now(UTC).isoformat()
    return DigestRequest(key=f"{schedule if isinstance(schedule, str) else ''}#{scheduled}")
