"""Web API fault handling inside Slack's 3-second window.

slack_sdk's retry handlers retry rate limits (429 + Retry-After), 5xx answers and connection
errors. Each retry here is allowed only while the current request's time budget lasts: past
it the call fails, the listener fails, the handler answers 5xx, and Slack's own retry of the
event recovers the message (the idempotency record is released on failure).
"""

from __future__ import annotations

import random
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from slack_sdk.errors import SlackRequestError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookClient

# Slack waits 3 s; API Gateway, Lambda and the network take a share of that before and after us.
REQUEST_BUDGET_SECONDS = 2.5
# One Web API call may not take the whole budget, or there is no time left to retry it.
CALL_TIMEOUT_SECONDS = 1.5
# What a retried call is expected to take at least; no retry starts without this much time left.
MIN_CALL_SECONDS = 0.3
RETRY_INTERVAL_SECONDS = 0.1

# urllib builds its default opener, TLS context included, on the first request: 60-100 ms
# (benchmark) inside Slack's 3 seconds. Build it once per container, at init. (Passing ssl= to
# the clients instead would make urllib build a new opener on every call: ~1 ms each, measured.)
if not isinstance(urllib.request._opener, urllib.request.OpenerDirector):  # type: ignore[attr-defined]
    urllib.request.install_opener(urllib.request.build_opener())

_deadline: ContextVar[float | None] = ContextVar("slack_request_deadline", default=None)


@contextmanager
def request_budget(seconds: float = REQUEST_BUDGET_SECONDS) -> Iterator[None]:
    """Every Web API call made inside the block shares this time budget."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining_budget() -> float:
    deadline = _deadline.get()
    return float("inf") if deadline is None else deadline - time.monotonic()


def _retry_after(response: HttpResponse) -> float:
    for name, values in response.headers.items():
        if name.lower() == "retry-after" and values:
            try:
                return max(0.0, float(values[0]))
            except ValueError:
                break
    return 1.0


class _WithinBudget(RetryHandler):
    """A retry starts only when its wait plus one more call fits in the request's budget."""

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        fits = self._wait_seconds(response) + MIN_CALL_SECONDS < remaining_budget()
        return fits and super().can_retry(state=state, request=request, response=response, error=error)

    def _wait_seconds(self, response: HttpResponse | None) -> float:
        return RETRY_INTERVAL_SECONDS


class BudgetedRateLimitRetryHandler(_WithinBudget, RateLimitErrorRetryHandler):
    """429: waits out Retry-After, when that fits."""

    def _wait_seconds(self, response: HttpResponse | None) -> float:
        return _retry_after(response) if response is not None else 1.0

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        # slack_sdk adds up to 1 s of jitter, more than the budget can spare; a tenth spreads retries enough.
        time.sleep(self._wait_seconds(response) + random.random() * 0.1)
        state.increment_current_attempt()


class BudgetedServerErrorRetryHandler(_WithinBudget, ServerErrorRetryHandler):
    """500 and 503, as slack_sdk's handler."""


class BudgetedConnectionErrorRetryHandler(_WithinBudget, ConnectionErrorRetryHandler):
    """Connection refused or reset before an answer."""


def retry_handlers() -> list[RetryHandler]:
    interval = FixedValueRetryIntervalCalculator(fixed_internal=RETRY_INTERVAL_SECONDS)
    return [
        BudgetedRateLimitRetryHandler(max_retry_count=2),
        BudgetedServerErrorRetryHandler(max_retry_count=2, interval_calculator=interval),
        BudgetedConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=interval),
    ]


def response_url_client(response_url: str) -> WebhookClient:
    """A response_url client with the same timeout and budgeted retries as the Web API client."""
    return WebhookClient(url=response_url, timeout=CALL_TIMEOUT_SECONDS, retry_handlers=retry_handlers())


class ResponseUrlFailed(SlackRequestError):
    """A response_url post that Slack did not accept; `status` says whether retrying can help."""

    def __init__(self, status: int) -> None:
        super().__init__(f"response_url answered {status}")
        self.status = status


def send_or_raise(response_url: str, **message: Any) -> None:
    """Post `message` to a response_url; ResponseUrlFailed unless Slack took it (a lazy run then fails, and
    Lambda retries it)."""
    response = response_url_client(response_url).send(**message)
    if response.status_code != 200:
        raise ResponseUrlFailed(response.status_code)


def post_report(response_url: str, text: str, blocks: list[dict]) -> None:
    """A slow command's result, in the channel, in place of its ack; ResponseUrlFailed unless Slack took it."""
    client = response_url_client(response_url)
    response = client.send(text=text, blocks=blocks, response_type="in_channel", replace_original=True)
    if response.status_code == 404 and response.body in ("message_not_found", "cant_update_message"):
        # Should Slack not find the ack to replace, the report still arrives, as a new message.
        response = client.send(text=text, blocks=blocks, response_type="in_channel")
    if response.status_code != 200:
        raise ResponseUrlFailed(response.status_code)
