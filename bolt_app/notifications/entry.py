"""handler.handler's way in for SNS, EventBridge and Scheduler events (imported on the first such event).

SNS and EventBridge invoke the function asynchronously: Lambda may deliver an event more than once, and
retries it (twice) after a function error (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html).
Each notification runs under an exactly-once record keyed on its SNS MessageId (the same across SNS's own
redeliveries), EventBridge event id, or the digest's scheduled time, in the store the Slack requests use
(bolt_app/request_path/exactly_once.py: DynamoDB with IDEMPOTENCY_TABLE), so it is posted once across
containers. A notification that cannot be posted releases its record and raises NotificationFailed, so that
Lambda retries it and, past its retries, sends it to the on-failure destination.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from bolt_app.config import AwsDeployment, Settings
from bolt_app.foundation.observability import Metric, count
from bolt_app.notifications import events
from bolt_app.notifications.alarm_threads import AlarmThreads
from bolt_app.notifications.deploys import Deploys
from bolt_app.notifications.posting import AlertsPoster, NotificationFailed
from bolt_app.notifications.thread_store import ThreadStore, thread_store
from bolt_app.request_path.exactly_once import ExactlyOnce
from bolt_app.request_path.request_guard import HttpResponse
from bolt_app.slack_web.blocks import plain_notification

DONE = HttpResponse(200, "")
# How long a duplicate delivery waits for another container's attempt before asking Lambda to retry it.
WAIT_FOR_OTHER_ATTEMPT_SECONDS = 20.0

# The /stack-status card (bolt_app/listeners/stack_status.py's build_report, handed in by handler.py:
# listeners sit above this package).
StackReport = Callable[[AwsDeployment, logging.Logger], tuple[str, list[dict]]]

_stores: dict[str | None, ThreadStore] = {}
_stores_lock = threading.Lock()


def shared_thread_store(table: str | None) -> ThreadStore:
    """The container's thread store (the alarm card's buttons use the one the notifications write)."""
    return _thread_store(table)


def _thread_store(table: str | None) -> ThreadStore:
    with _stores_lock:  # once per container: the in-memory store is the container's memory
        if table not in _stores:
            _stores[table] = thread_store(table)
        return _stores[table]


def handle_event(
    event: dict[str, Any],
    context: Any,
    settings: Settings,
    exactly_once: ExactlyOnce,
    logger: logging.Logger,
    stack_report: StackReport,
) -> dict[str, Any]:
    """Posts what the event carries; returns a summary (Lambda keeps it for nobody: async invocations)."""
    channel = settings.alerts_channel
    if not channel:
        # The subscription, rule and schedule only exist with AlertsChannel set (template.yaml).
        logger.warning("notification ignored: ALERTS_CHANNEL is not set")
        return {"notifications": 0, "ignored": "ALERTS_CHANNEL is not set"}

    def remaining() -> float:
        get = getattr(context, "get_remaining_time_in_millis", None)
        return get() / 1000 if callable(get) else 30.0

    poster = AlertsPoster(settings, channel, remaining)
    store = _thread_store(settings.idempotency_table)
    work: list[tuple[str, Any]] = []
    if events.is_sns_event(event):
        for notification in events.sns_notifications(event):
            work.append((f"notification#sns#{notification.message_id}", notification))
    elif events.is_stack_status_event(event):
        change = events.stack_status_change(event)
        if change is None:
            return {"notifications": 0, "ignored": "not a stack status change"}
        work.append((f"notification#event#{change.event_id}", change))
    elif events.is_digest_event(event):
        work.append((f"notification#digest#{events.digest_request(event).key}", events.DigestRequest("")))
    else:
        logger.warning("notification ignored: not an SNS, CloudFormation or digest event")
        return {"notifications": 0, "ignored": "unknown event"}

    posted = 0
    for key, item in work:

        def process(item: Any = item) -> HttpResponse:
            _deliver(item, poster, store, remaining, logger, stack_report)
            return DONE

        outcome = exactly_once.run(
            key, process, context, wait_seconds=min(WAIT_FOR_OTHER_ATTEMPT_SECONDS, remaining() / 2)
        )
        if outcome.status == "duplicate":
            count(Metric.DUPLICATES_SKIPPED)
        elif outcome.status == "in_progress":
            # Still running elsewhere: Lambda's retry finds it answered, or released and takes it over.
            raise NotificationFailed("the same notification is being posted by another invocation")
        else:
            posted += 1
    return {"notifications": posted}


def _deliver(
    item: Any,
    poster: AlertsPoster,
    store: ThreadStore,
    remaining: Callable[[], float],
    logger: logging.Logger,
    stack_report: StackReport,
) -> None:
    if isinstance(item, events.AlarmChange):
        AlarmThreads(store, poster, remaining).handle(item)
    elif isinstance(item, events.PlainNotification):
        text, blocks = plain_notification(item.subject, item.message)
        poster.post(text, blocks)
        count(Metric.ALERTS_POSTED)
    elif isinstance(item, events.StackStatusChange):
        if not Deploys(store, poster, AwsDeployment.from_env().stack_name).handle(item):
            logger.info("stack status change of another stack ignored", extra={"stack": item.stack_name})
    else:
        text, blocks = stack_report(AwsDeployment.from_env(), logger)
        poster.post(text, blocks)
        count(Metric.ALERTS_POSTED)
