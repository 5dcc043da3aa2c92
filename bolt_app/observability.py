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
    REQUESTS_REJECTED = "RequestsRejected"


metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE)


def count(metric: Metric, value: int = 1) -> None:
    if value > 0:
        metrics.add_metric(name=metric.value, unit=MetricUnit.Count, value=value)
