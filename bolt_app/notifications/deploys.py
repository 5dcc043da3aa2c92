"""Deploys of this stack: "Deploying *stack*…" when an operation starts, then in its thread how it ended.

CloudFormation sends a Stack Status Change event for every status of the stack (EventBridge rule in
template.yaml, this stack only). A *_IN_PROGRESS status that starts an operation opens a thread; a
ROLLBACK in progress is added to it with its reason (the failure); a final status (*_COMPLETE, *_FAILED)
is added to it with the duration since the start, and becomes the first message's state line. A final
status without a start on record (the start was missed) is posted on its own. Other stacks are ignored,
whatever the rule says (a rule can be edited by hand).
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime

from bolt_app.foundation.observability import Metric, count
from bolt_app.notifications.events import StackStatusChange
from bolt_app.notifications.posting import AlertsPoster, MessageGone
from bolt_app.notifications.thread_store import DEPLOY_PREFIX, ThreadStore, post_first_message
from bolt_app.slack_web.blocks import deploy_finished, deploy_progress, deploy_started

STARTS = frozenset({"CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS", "IMPORT_IN_PROGRESS"})
# Where the reason for a failed deploy is: CloudFormation's status-reason of these statuses.
PROGRESS_WORTH_TELLING = frozenset(
    {"UPDATE_ROLLBACK_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "IMPORT_ROLLBACK_IN_PROGRESS"}
)


def is_final(status: str) -> bool:
    return status.endswith("_COMPLETE") or status.endswith("_FAILED")


def is_failure(status: str) -> bool:
    return status.endswith("_FAILED") or "ROLLBACK" in status


class Deploys:
    def __init__(self, store: ThreadStore, poster: AlertsPoster, stack_name: str | None) -> None:
        self.store = store
        self.poster = poster
        self.stack_name = stack_name

    def handle(self, change: StackStatusChange) -> bool:
        """False when the change is not this stack's (ignored)."""
        if not self.stack_name or change.stack_name != self.stack_name:
            return False
        key = DEPLOY_PREFIX + change.stack_id
        when = change.time.isoformat(timespec="microseconds")
        if change.status in STARTS:
            previous = self.store.get(key)
            if previous is not None and previous.shown_at >= when:
                return True  # an older start, delivered late: this operation's thread is already there
            record = json.dumps({"status": change.status, "started": when})
            thread = self.store.open(key, previous, change.event_id, record, when)
            if thread is None:
                return True  # another container opened it for this start
            text, blocks = deploy_started(change.stack_name, change.status, change.time)
            post_first_message(self.store, thread, self.poster, text, blocks)
            return True
        thread = self.store.get(key)
        started = datetime.fromisoformat(json.loads(thread.shown)["started"]) if thread and thread.shown else None
        in_thread = thread is not None and thread.ts is not None and started is not None and started <= change.time
        if change.event_id in (thread.posted if thread else ()):
            return True
        if not is_final(change.status):
            if change.status in PROGRESS_WORTH_TELLING and in_thread:
                assert thread is not None and thread.ts is not None
                self.poster.post(deploy_progress(change.stack_name, change.status, change.reason), thread_ts=thread.ts)
                self.store.mark_posted(thread, change.event_id)
            return True
        took = (change.time - started).total_seconds() if in_thread and started else None
        text, blocks = deploy_finished(change.stack_name, change.status, change.reason, took, is_failure(change.status))
        if in_thread:
            assert thread is not None and thread.ts is not None
            self.poster.post(text, thread_ts=thread.ts)
            self.store.mark_posted(thread, change.event_id)
            with contextlib.suppress(MessageGone):  # the first message was deleted: the reply says it all
                self.poster.update(thread.ts, text, blocks)
        else:
            self.poster.post(text, blocks)
        count(Metric.ALERTS_POSTED)
        return True
