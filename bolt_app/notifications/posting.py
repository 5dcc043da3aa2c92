"""Posting into the alerts channel: rate limits waited out, permanent errors told apart, failures raised.

Slack allows about one chat.postMessage per second per channel, with short bursts, and answers 429 with
Retry-After (seconds) beyond that (https://api.slack.com/docs/rate-limits, "Posting messages");
chat.update is a Tier 3 method (50+ a minute). A 429 is waited out, with a little jitter so that the
containers of a storm do not all come back at the same instant, for as long as the invocation has time.
Past that the call raises NotificationFailed: the handler raises it to the Lambda runtime, Lambda retries
the asynchronous invocation (twice, about 1 and 2 minutes later) and then sends it to the function's
on-failure destination (template.yaml: EventInvokeConfig, LazyWorkFailureQueue, alarmed).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, ServerErrorRetryHandler

from bolt_app.config import Settings
from bolt_app.foundation.observability import Metric, count
from bolt_app.slack_web.slack_auth import RotatingTokenWebClient

logger = logging.getLogger(__name__)

# Left for the bookkeeping after the last call, and for Lambda to report the outcome.
SAFETY_MARGIN_SECONDS = 2.0
CALL_TIMEOUT_SECONDS = 5.0
# What Slack's errors mean for the alerts channel, and what fixes them. No retry can fix these: they are
# logged once per container (with the fix), counted (AlertsUndeliverable, alarmed) and raised like any
# failure, so that the notification still ends in the failure destination rather than nowhere.
PERMANENT_ERRORS = {
    "channel_not_found": "check ALERTS_CHANNEL (template parameter AlertsChannel): it must be a channel ID, C…",
    "not_in_channel": "invite the bot to the channel: /invite @<bot> in <#{channel}>",
    "is_archived": "the alerts channel is archived: unarchive it or set AlertsChannel to another one",
    "missing_scope": "add the chat:write scope to the Slack app and reinstall it",
    "invalid_auth": "the bot token is no longer valid: put the new one in the stack's secret",
    "token_revoked": "the bot token was revoked: put a new one in the stack's secret",
    "account_inactive": "the bot token's app or workspace is gone: put a new token in the stack's secret",
}
_logged_once: set[tuple[str, str]] = set()
_logged_lock = threading.Lock()


class NotificationFailed(RuntimeError):
    """A notification could not be (completely) posted: raised to the Lambda runtime, so that Lambda retries."""


class NotificationUndeliverable(NotificationFailed):
    """Slack refuses the channel itself (the bot is not invited, the channel is gone, ...)."""

    def __init__(self, error: str, fix: str) -> None:
        super().__init__(f"Slack refused the alerts channel: {error}; {fix}")
        self.error = error


class MessageGone(NotificationFailed):
    """chat.update found no such message: someone deleted the thread's first message."""


# chat.update's answers for a message that is no longer there to update.
GONE_ERRORS = frozenset({"message_not_found", "cant_update_message"})


class AlertsPoster:
    def __init__(self, settings: Settings, channel: str, remaining_seconds: Callable[[], float]) -> None:
        self.channel = channel
        self._remaining = remaining_seconds
        self._client = RotatingTokenWebClient(
            credentials=settings.credentials,
            token=settings.credentials.bot_token,
            base_url=settings.api_url,
            timeout=CALL_TIMEOUT_SECONDS,
            # 429s are waited out below (their own budget); 5xx and resets get slack_sdk's quick retries.
            retry_handlers=[ServerErrorRetryHandler(max_retry_count=2), ConnectionErrorRetryHandler(max_retry_count=2)],
        )

    def post(self, text: str, blocks: list[dict] | None = None, thread_ts: str | None = None) -> str:
        """Posts to the channel (in `thread_ts`'s thread); the new message's ts."""
        args: dict[str, Any] = {"channel": self.channel, "text": text, "unfurl_links": False, "unfurl_media": False}
        if blocks:
            args["blocks"] = blocks
        if thread_ts:
            args["thread_ts"] = thread_ts
        return str(self._call("chat.postMessage", args)["ts"])

    def update(self, ts: str, text: str, blocks: list[dict] | None = None) -> None:
        args: dict[str, Any] = {"channel": self.channel, "ts": ts, "text": text}
        if blocks is not None:
            args["blocks"] = blocks
        self._call("chat.update", args)

    def _call(self, method: str, args: dict[str, Any]) -> Any:
        while True:
            try:
                return self._client.api_call(method, json=args)
            except SlackApiError as error:
                response = error.response
                code = str(response.get("error") or "")
                if response.status_code == 429:
                    wait = _retry_after(response.headers)
                    if wait + CALL_TIMEOUT_SECONDS / 5 > self._remaining() - SAFETY_MARGIN_SECONDS:
                        count(Metric.SLACK_API_ERRORS)
                        raise NotificationFailed(f"{method}: still rate limited, the invocation's time spent") from None
                    count(Metric.ALERTS_RATE_LIMITED)
                    # Up to a fifth of the wait on top: containers that were told the same instant spread out.
                    time.sleep(wait + random.random() * max(0.05, wait / 5))
                    continue
                count(Metric.SLACK_API_ERRORS)
                if code in PERMANENT_ERRORS:
                    raise self._undeliverable(code) from None
                if method == "chat.update" and code in GONE_ERRORS:
                    raise MessageGone(f"{method}: {code}") from None
                raise NotificationFailed(f"{method}: Slack answered {code or response.status_code}") from None
            except NotificationFailed:
                raise
            except Exception as error:  # connection errors after slack_sdk's retries, timeouts
                count(Metric.SLACK_API_ERRORS)
                raise NotificationFailed(f"{method}: {type(error).__name__}") from None

    def _undeliverable(self, code: str) -> NotificationUndeliverable:
        fix = PERMANENT_ERRORS[code].format(channel=self.channel)
        count(Metric.ALERTS_UNDELIVERABLE)
        with _logged_lock:
            first = (code, self.channel) not in _logged_once
            _logged_once.add((code, self.channel))
        if first:
            # Once per container: every notification after this one fails the same way until it is fixed.
            # The e-mail subscription (AlarmEmail) still carries the alarms meanwhile.
            logger.error(
                "alerts channel refused: %s (%s)", code, fix, extra={"slack_error": code, "channel": self.channel}
            )
        return NotificationUndeliverable(code, fix)


def _retry_after(headers: Any) -> float:
    for name, values in (headers or {}).items():
        if name.lower() == "retry-after":
            value = values[0] if isinstance(values, list | tuple) and values else values
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                break
    return 1.0
