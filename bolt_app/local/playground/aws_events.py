"""The playground's alerts channel: fire a test alarm (ALARM, then OK), a test deploy and the digest.

Each goes to the Lambda handler in the shape AWS sends it (bolt_app/local/aws_events.py), as SNS,
EventBridge and Scheduler would invoke the function, and shows in the inspector like any other call.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from bolt_app.local import aws_events
from bolt_app.local.playground.session import ALERTS_CHANNEL, AS_SENT, Sent

__all__ = ["ALERTS_CHANNEL", "KINDS", "events_for", "fire"]
TEST_ALARM = "playground-Errors"
# The test deploy is of the stack the playground plays (its stand-in's STACK_NAME): the handler ignores other
# stacks' deploys. Without one (the not-deployed playground), it names this stack and the handler sees it as
# its own for that one invocation only.
PLAYGROUND_STACK = "playground"
KINDS = ("alarm", "ok", "deploy", "digest")
_env_lock = threading.Lock()


class UnknownKind(ValueError):
    pass


def events_for(kind: str, now: datetime | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(inspector label, event) for each event a test `kind` sends."""
    now = now or datetime.now(UTC)
    if kind == "alarm":
        return [("SNS: alarm ALARM", aws_events.alarm_event(TEST_ALARM, "ALARM", now))]
    if kind == "ok":
        return [("SNS: alarm OK", aws_events.alarm_event(TEST_ALARM, "OK", now, old_state="ALARM"))]
    if kind == "deploy":
        stack = os.environ.get("STACK_NAME") or PLAYGROUND_STACK
        start = aws_events.stack_status_event(stack, "UPDATE_IN_PROGRESS", now - timedelta(seconds=102))
        end = aws_events.stack_status_event(stack, "UPDATE_COMPLETE", now)
        return [("EventBridge: UPDATE_IN_PROGRESS", start), ("EventBridge: UPDATE_COMPLETE", end)]
    if kind == "digest":
        return [("Scheduler: digest", aws_events.digest_event(now))]
    raise UnknownKind(f"unknown test event {kind!r}: one of {', '.join(KINDS)}")


def fire(playground: Any, kind: str) -> list[dict[str, Any]]:
    """Send the test `kind` to the handler; the inspector entries of its invocations."""
    entries = []
    for label, event in events_for(kind):

        def raised(error: Exception) -> dict[str, Any]:
            # An asynchronous invocation that raises: Lambda would retry it, then keep it (failure queue).
            return {"statusCode": 500, "body": f"raised {type(error).__name__}: Lambda would retry this event"}

        with _as_stack(PLAYGROUND_STACK if kind == "deploy" else None):
            entries.append(
                playground._run_logged(
                    event,
                    {"headers": {}, "body": event},
                    raised,
                    sent=Sent(label, event, None),
                    kind=f"{label} (async invocation)",
                    # SNS and EventBridge deliver at least once, and Lambda retries: shows it is posted once.
                    replays={AS_SENT: "Deliver again (as AWS may)"},
                    request_title="AWS event (InvocationType=Event; authorised by IAM, not signed)",
                )
            )
    return entries


@contextlib.contextmanager
def _as_stack(name: str | None) -> Iterator[None]:
    if name is None or os.environ.get("STACK_NAME"):
        yield
        return
    with _env_lock:
        os.environ["STACK_NAME"] = name
        try:
            yield
        finally:
            os.environ.pop("STACK_NAME", None)
