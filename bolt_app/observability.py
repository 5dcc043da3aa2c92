"""Powertools Metrics (CloudWatch EMF), one instance for the whole bot.

handler.py flushes it at the end of each invocation (`@metrics.log_metrics`); listeners add to it.
"""

from __future__ import annotations

import os
from enum import StrEnum

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

DEFAULT_NAMESPACE = "SlackBot"


class Metric(StrEnum):
    REPLIES_SENT = "RepliesSent"
    FILES_ACKNOWLEDGED = "FilesAcknowledged"
    LINKS_ACKNOWLEDGED = "LinksAcknowledged"
    COMMANDS_HANDLED = "CommandsHandled"
    DINNER_PICKS = "DinnerPicks"
    DUPLICATES_SKIPPED = "DuplicatesSkipped"
    SLACK_API_ERRORS = "SlackApiErrors"
    # Of those, the ones no retry can fix: answered 2xx so that Slack does not retry.
    SLACK_PERMANENT_ERRORS = "SlackPermanentErrors"
    # Retries that found another attempt running: answered 503 so that Slack retries later...
    RETRIES_DEFERRED = "RetriesDeferred"
    # ...or that waited for its outcome and then answered (200) or took over (released).
    RETRIES_AWAITED = "RetriesAwaited"
    REQUESTS_REJECTED = "RequestsRejected"


metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE)


def count(metric: Metric, value: int = 1) -> None:
    if value > 0:
        metrics.add_metric(name=metric.value, unit=MetricUnit.Count, value=value)
