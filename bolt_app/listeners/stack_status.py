"""`/stack-status`: the bot reports on its own deployment — a slow command, done by a lazy listener.

The ack answers at once ("Checking stack `x`…", in the channel); the lazy listener reads the stack
(CloudFormation DescribeStacks) and the function's last 24 hours (CloudWatch GetMetricData) in its
own invocation (bolt_app/aws_lambda/lazy_listeners.py), and replaces the ack with the report through the
command's `response_url`. Slack accepts up to 5 posts to a response_url within 30 minutes
(https://api.slack.com/interactivity/handling#message_responses): one is used here, and a retried
invocation still has time and uses left.

Who may run it is policy.toml's (admins, as shipped); the card shows what a channel may see: the
stack's status, last update, the request URL and the metrics, never an ARN, a queue URL or the account ID.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt import Ack, App

from bolt_app.chatops import slash_command
from bolt_app.config import AwsDeployment
from bolt_app.foundation import aws_clients
from bolt_app.foundation.observability import Metric, count
from bolt_app.slack_web.blocks import (
    FunctionMetrics,
    StackReport,
    stack_not_deployed,
    stack_not_found,
    stack_status_card,
    stack_status_checking,
    stack_status_error,
)
from bolt_app.slack_web.slack_retries import post_report

COMMAND = "/stack-status"
REQUEST_URL_OUTPUT = "SlackRequestUrl"
METRICS_WINDOW = timedelta(hours=24)


def register(app: App) -> None:
    slash_command(
        app,
        COMMAND,
        description="Report on the bot's own AWS stack: status, request URL, last 24 hours of invocations",
        usage_hint="(no arguments)",
    )(ack=acknowledge_stack_status, lazy=[report_stack_status])


def acknowledge_stack_status(ack: Ack) -> None:
    # In channel, like the report that replaces it.
    ack(response_type="in_channel", text=stack_status_checking(AwsDeployment.from_env().stack_name))
    count(Metric.COMMANDS_HANDLED)


def report_stack_status(command: dict[str, Any], logger: logging.Logger) -> None:
    """The lazy part: read the stack and its metrics, then post the report. AWS errors become answers;
    only a failed post raises (the invocation is then retried by Lambda)."""
    response_url = command.get("response_url")
    if not isinstance(response_url, str) or not response_url:
        logger.warning("stack status not reported: the command has no response_url")
        return
    text, blocks = build_report(AwsDeployment.from_env(), logger)
    post_report(response_url, text, blocks)


def build_report(deployment: AwsDeployment, logger: logging.Logger) -> tuple[str, list[dict]]:
    if deployment.stack_name is None:
        return stack_not_deployed()
    from botocore.exceptions import BotoCoreError, ClientError

    # Side by side: the report takes as long as the slower call, and the worst case (every attempt
    # timing out) stays inside the function's timeout (template.yaml).
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="stack-status") as pool:
        stack_read = pool.submit(read_stack, deployment.stack_name)
        function_name = deployment.function_name
        metrics_read = pool.submit(read_function_metrics, function_name) if function_name else None
        try:
            report = stack_read.result()
        except ClientError as error:
            code = aws_clients.error_code(error)
            # CloudFormation answers a missing stack with ValidationError "Stack with id x does not exist".
            if code == "ValidationError" and "does not exist" in str(error):
                return stack_not_found(deployment.stack_name)
            logger.warning("stack not read", extra={"error_type": type(error).__name__, "code": code})
            return stack_status_error(deployment.stack_name, code)
        except BotoCoreError as error:  # no credentials, endpoint unreachable, timeouts (after retries)
            logger.warning("stack not read", extra={"error_type": type(error).__name__})
            return stack_status_error(deployment.stack_name, type(error).__name__)
        if metrics_read is not None:
            try:
                report = replace(report, metrics=metrics_read.result())
            except (ClientError, BotoCoreError) as error:
                code = aws_clients.error_code(error)
                logger.warning("metrics not read", extra={"error_type": type(error).__name__, "code": code})
                report = replace(report, metrics_error=code)
    return stack_status_card(report)


def read_stack(stack_name: str) -> StackReport:
    cloudformation = aws_clients.client("cloudformation", aws_clients.SLOW_WORK)
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    # Only the request URL: the card is posted in the channel, and the other outputs (the secret's ARN,
    # the failure queue's URL, with the account ID in both) are nobody's business there.
    request_url = next(
        (
            str(o.get("OutputValue", ""))
            for o in stack.get("Outputs") or []
            if isinstance(o, dict) and o.get("OutputKey") == REQUEST_URL_OUTPUT
        ),
        None,
    )
    return StackReport(
        stack_name=stack_name,
        status=str(stack.get("StackStatus", "UNKNOWN")),
        last_updated=stack.get("LastUpdatedTime") or stack.get("CreationTime"),
        request_url=request_url,
    )


def read_function_metrics(function_name: str, now: datetime | None = None) -> FunctionMetrics:
    """One GetMetricData call: sums of invocations, errors and throttles, and the p99 duration, over 24 hours."""
    end = now or datetime.now(UTC)
    start = end - METRICS_WINDOW
    period = int(METRICS_WINDOW.total_seconds())
    queries = [
        _metric_query("invocations", "Invocations", "Sum", function_name, period),
        _metric_query("errors", "Errors", "Sum", function_name, period),
        _metric_query("throttles", "Throttles", "Sum", function_name, period),
        _metric_query("p99", "Duration", "p99", function_name, period),
    ]
    cloudwatch = aws_clients.client("cloudwatch", aws_clients.SLOW_WORK)
    results = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end)
    values = {r["Id"]: r.get("Values") or [] for r in results.get("MetricDataResults", [])}

    def total(query_id: str) -> float | None:
        found = values.get(query_id)
        return float(sum(found)) if found else None

    p99 = values.get("p99")
    return FunctionMetrics(
        function_name=function_name,
        invocations=total("invocations"),
        errors=total("errors"),
        throttles=total("throttles"),
        # The window may straddle two periods: the worse of them.
        p99_duration_ms=float(max(p99)) if p99 else None,
    )


def _metric_query(query_id: str, metric: str, stat: str, function_name: str, period: int) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/Lambda",
                "MetricName": metric,
                "Dimensions": [{"Name": "FunctionName", "Value": function_name}],
            },
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": True,
    }
