"""The events AWS sends the function for the alerts channel, built as AWS builds them (tests, playground).

- SNS -> Lambda: {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn",
  "Sns": {"Type": "Notification", "MessageId", "TopicArn", "Subject", "Message", "Timestamp",
  "SignatureVersion", "Signature", "SigningCertUrl", "UnsubscribeUrl", "MessageAttributes"}}]}
  (https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html), one record per invocation.
- A CloudWatch alarm's Message is the JSON CloudWatch publishes (events.AlarmChange's docstring), and its
  Subject `ALARM: "name" in US East (N. Virginia)`.
- EventBridge: {"version": "0", "id", "detail-type", "source", "account", "time", "region", "resources",
  "detail"}; for CloudFormation Stack Status Change, detail {"stack-id", "status-details": {"status",
  "status-reason"}, "client-request-token"}.
- The digest schedule's event: bolt_app/notifications/events.py, DIGEST_INPUT, as Scheduler fills it in.
Dev-only: not part of the Lambda artifact.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
REGION_NAME = "US East (N. Virginia)"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:slack-bot-AlarmTopic-EXAMPLE"


def alarm_arn(name: str) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"


def stack_id(stack_name: str) -> str:
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack_name}/0c4f1e70-8b53-11ef-9a1b-0affd1a2b3c4"


def cloudwatch_time(moment: datetime) -> str:
    """StateChangeTime as CloudWatch writes it: 2015-06-03T17:43:27.123+0000."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def alarm_message(
    name: str,
    new_state: str,
    changed: datetime,
    *,
    old_state: str = "OK",
    reason: str | None = None,
    function_name: str = "slack-bot",
) -> dict[str, Any]:
    return {
        "AlarmName": name,
        "AlarmDescription": f"{name}: the Slack bot's function failed; docs/operate.md.",
        "AWSAccountId": ACCOUNT,
        "AlarmConfigurationUpdatedTimestamp": "2026-11-30T10:00:00.000+0000",
        "NewStateValue": new_state,
        "NewStateReason": reason
        or (
            "Threshold Crossed: 1 out of the last 1 datapoints [3.0 (01/12/26 21:00:00)] was greater than or equal "
            "to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition)."
            if new_state == "ALARM"
            else "Threshold Crossed: 1 out of the last 1 datapoints [0.0 (01/12/26 21:05:00)] was not greater than "
            "or equal to the threshold (1.0) (minimum 1 datapoint for ALARM -> OK transition)."
        ),
        "StateChangeTime": cloudwatch_time(changed),
        "Region": REGION_NAME,
        "AlarmArn": alarm_arn(name),
        "OldStateValue": old_state,
        "OKActions": [TOPIC_ARN],
        "AlarmActions": [TOPIC_ARN],
        "InsufficientDataActions": [],
        "Trigger": {
            "MetricName": "Errors",
            "Namespace": "AWS/Lambda",
            "StatisticType": "Statistic",
            "Statistic": "SUM",
            "Unit": None,
            "Dimensions": [{"value": function_name, "name": "FunctionName"}],
            "Period": 300,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": 1.0,
            "TreatMissingData": "notBreaching",
            "EvaluateLowSampleCountPercentile": "",
        },
    }


def sns_event(message: str, subject: str | None = None, *, message_id: str | None = None) -> dict[str, Any]:
    message_id = message_id or str(uuid.uuid4())
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{TOPIC_ARN}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": TOPIC_ARN,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0=",
                    "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-EXAMPLE.pem",
                    "UnsubscribeUrl": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={TOPIC_ARN}:EXAMPLE",
                    "MessageAttributes": {},
                },
            }
        ]
    }


def alarm_event(name: str, new_state: str, changed: datetime, **kwargs: Any) -> dict[str, Any]:
    """The SNS event for one alarm state change, as CloudWatch publishes it to the topic."""
    message_id = kwargs.pop("message_id", None)
    body = alarm_message(name, new_state, changed, **kwargs)
    subject = f'{new_state}: "{name}" in {REGION_NAME}'
    # CloudWatch cuts subjects at 100 characters (SNS's limit).
    return sns_event(json.dumps(body), subject[:100], message_id=message_id)


def stack_status_event(
    stack_name: str, status: str, when: datetime, *, reason: str = "", event_id: str | None = None
) -> dict[str, Any]:
    sid = stack_id(stack_name)
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "CloudFormation Stack Status Change",
        "source": "aws.cloudformation",
        "account": ACCOUNT,
        "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [sid],
        "detail": {
            "stack-id": sid,
            "status-details": {"status": status, "status-reason": reason},
            "client-request-token": "samcli-deploy-EXAMPLE",
        },
    }


def digest_event(scheduled: datetime, schedule_name: str = "slack-bot-digest") -> dict[str, Any]:
    """What the DigestSchedule's target Input becomes when Scheduler invokes the function."""
    return {
        "source": "bolt_app.digest",
        "schedule_arn": f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{schedule_name}",
        "scheduled_time": scheduled.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


EVENT_KINDS = ("alarm", "ok", "message", "deploy-start", "deploy-end", "deploy-failed", "digest")


def main(argv: list[str]) -> int:
    """`python -m bolt_app event KIND [--name NAME]`: print one test event for the alerts channel as JSON, to
    send to the deployed function (`aws lambda invoke --invocation-type Event --cli-binary-format raw-in-base64-out
    --payload file://event.json`) or to read. KIND: alarm, ok (the same alarm recovering), message (a message
    published by hand), deploy-start, deploy-end, deploy-failed (NAME is the stack: the function ignores other
    stacks), digest."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bolt_app event", description=main.__doc__)
    parser.add_argument("kind", choices=EVENT_KINDS)
    parser.add_argument("--name", default=None, help="the alarm's name, or the stack's (default: STACK_NAME)")
    args = parser.parse_args(argv)
    import os

    now = datetime.now(UTC)
    stack = args.name or os.environ.get("STACK_NAME") or "slack-bot"
    alarm = args.name or "slack-bot-test-alarm"
    events = {
        "alarm": lambda: alarm_event(alarm, "ALARM", now),
        "ok": lambda: alarm_event(alarm, "OK", now, old_state="ALARM"),
        "message": lambda: sns_event("Published by hand: <!channel> look at https://example.com", "A test"),
        "deploy-start": lambda: stack_status_event(stack, "UPDATE_IN_PROGRESS", now, reason="User Initiated"),
        "deploy-end": lambda: stack_status_event(stack, "UPDATE_COMPLETE", now),
        "deploy-failed": lambda: stack_status_event(
            stack, "UPDATE_ROLLBACK_COMPLETE", now, reason="The following resource(s) failed to update: [X]."
        ),
        "digest": lambda: digest_event(now),
    }
    print(json.dumps(events[args.kind](), indent=2))
    return 0
