"""Powertools Metrics (CloudWatch EMF), one instance for the whole bot, and the libraries' logs as JSON.

handler.py flushes the metrics at the end of each invocation (`@metrics.log_metrics`); listeners add to them.
"""

from __future__ import annotations

import logging
import os
from enum import StrEnum

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
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
    # Slack's app_rate_limited event: Slack dropped a minute of the workspace's events (over 30,000 an hour).
    APP_RATE_LIMITED = "AppRateLimited"
    # The alerts channel (bolt_app/notifications/): messages posted, 429s waited out, and notifications
    # Slack refused for the channel itself (not invited, archived, gone: alarmed, template.yaml).
    ALERTS_POSTED = "AlertsPosted"
    ALERTS_RATE_LIMITED = "AlertsRateLimited"
    ALERTS_UNDELIVERABLE = "AlertsUndeliverable"
    # Commands and clicks the command policy refused (bolt_app/chatops/).
    COMMANDS_DENIED = "CommandsDenied"
    # Audit records that could not be written (logged at ERROR with the record; alarmed).
    AUDIT_WRITE_FAILURES = "AuditWriteFailures"
    # /instances: starts and stops that EC2 accepted.
    INSTANCE_ACTIONS = "InstanceActions"


metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE)


def count(metric: Metric, value: int = 1) -> None:
    if value > 0:
        metrics.add_metric(name=metric.value, unit=MetricUnit.Count, value=value)


# Top-level loggers of the libraries that log on the request path, and the lowest level each may
# reach. Bolt's DEBUG lines print whole requests (signature headers, message text): never below
# INFO. botocore's DEBUG lines print every AWS response, the Secrets Manager one included: never
# below WARNING. slack_sdk redacts the token from its DEBUG lines and follows the bot's level.
LIBRARY_LOGGERS = {
    "slack_sdk": logging.NOTSET,
    "slack_bolt": logging.INFO,
    "bolt_app": logging.INFO,  # create_app's bolt_app.bolt and Bolt's listener loggers (bolt_app.listeners:...)
    "botocore": logging.WARNING,
    "boto3": logging.WARNING,
    "urllib3": logging.WARNING,
}


def log_libraries_as_json(logger: Logger) -> None:
    """Send the libraries' log records through `logger`'s handler: the same JSON formatter, the same
    correlation keys (they live in that formatter), the logger's level or the floor above.

    On Lambda, a library logger without a handler of its own propagates to the runtime's root handler
    and comes out as a plain-text line (or, with no root handler, through Python's last-resort
    handler on stderr). Powertools' copy_config_to_registered_loggers gives each one the logger's
    handler and stops the propagation, so every line is printed once, as JSON.
    """
    for name, floor in LIBRARY_LOGGERS.items():
        logging.getLogger(name)  # registered now, so the copy finds it whether or not it was imported yet
        copy_config_to_registered_loggers(source_logger=logger, include={name}, log_level=max(floor, logger.log_level))
