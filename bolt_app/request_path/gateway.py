"""One path for every HTTP request, whichever entry point it came through (Lambda, ASGI/ALB, local):
guard -> exactly-once on event_id -> Bolt, inside the Web API time budget, logged and counted."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger

from bolt_app.config import Settings
from bolt_app.foundation.observability import Metric, count
from bolt_app.request_path.exactly_once import ExactlyOnce, Outcome, exactly_once_store
from bolt_app.request_path.request_guard import HttpResponse, Rejected, RequestGuard, SlackRequest
from bolt_app.slack_web.slack_retries import remaining_budget, request_budget

INTERNAL_ERROR = HttpResponse(500, "Internal error; Slack will retry.")
NOT_CONFIGURED = HttpResponse(500, "The bot is not configured; see the function's logs.")
UNREADABLE_PAYLOAD = HttpResponse(400, "The Slack payload could not be read.")
IGNORED = HttpResponse(200, "")
# A retry that finds its event in progress waits for the running attempt at most until this much
# of its budget is left: enough to process the event itself if that attempt fails meanwhile.
TAKE_OVER_RESERVE_SECONDS = 1.0


class SlackGateway:
    def __init__(self, settings: Settings, logger: Logger, exactly_once: ExactlyOnce | None = None) -> None:
        self.guard = RequestGuard(settings.credentials)
        self.exactly_once = exactly_once or exactly_once_store(settings.idempotency_table)
        self.logger = logger

    def handle(
        self,
        method: str | None,
        headers: Mapping[str, str],
        body: str,
        dispatch: Callable[[SlackRequest], HttpResponse],
        lambda_context: Any = None,
    ) -> HttpResponse:
        """Answers one request; never raises."""
        started = time.perf_counter()
        try:
            request = self.guard.check(method, headers, body)
        except Rejected as rejected:
            if rejected.response.status >= 400:
                count(Metric.REQUESTS_REJECTED)
                self.logger.warning(
                    "request rejected", extra={"status": rejected.response.status, "reason": rejected.reason}
                )
            elif rejected.reason == "app_rate_limited":
                # Events were lost, by Slack: someone should know (template.yaml's AppRateLimitedAlarm).
                count(Metric.APP_RATE_LIMITED)
                self.logger.warning(
                    "Slack rate-limited the app's events: a minute of them was dropped",
                    extra={"reason": rejected.reason, **rejected.details},
                )
            else:
                self.logger.info("request ignored", extra={"reason": rejected.reason})
            return rejected.response
        except Exception:
            self.logger.exception("request guard failed")
            return INTERNAL_ERROR

        correlation = request.log_keys()
        self.logger.append_keys(**correlation)
        try:
            return self._process(request, dispatch, lambda_context, started)
        finally:
            # On Lambda Powertools clears them per invocation; a long-lived local server must too.
            self.logger.remove_keys(list(correlation))

    def _process(
        self,
        request: SlackRequest,
        dispatch: Callable[[SlackRequest], HttpResponse],
        lambda_context: Any,
        started: float,
    ) -> HttpResponse:
        def process() -> HttpResponse:
            return dispatch(request)

        try:
            with request_budget():
                if request.event_id:
                    # Only Slack's retries wait: they exist because an attempt failed or took over
                    # 3 s, so that attempt is near its end. Waiting on every retry, not just the
                    # last (X-Slack-Retry-Num 3), holds even if Slack's number or timing of retries differs.
                    wait = max(0.0, remaining_budget() - TAKE_OVER_RESERVE_SECONDS) if request.retry_num else 0.0
                    outcome = self.exactly_once.run(request.event_id, process, lambda_context, wait_seconds=wait)
                else:
                    outcome = Outcome(process(), "processed")
        except Exception as error:
            # Bolt turns listener errors into 500 responses itself. What escapes its dispatch is
            # Bolt failing to read a payload of an unexpected shape (its matchers index into the
            # body): the request's fault, not ours. The idempotency record is already released.
            self.logger.warning("payload not understood", extra={"error_type": type(error).__name__}, exc_info=True)
            count(Metric.REQUESTS_REJECTED)
            return UNREADABLE_PAYLOAD

        response = outcome.response
        if response.status == 404:
            # Bolt's "no listener matched". The catch-all listeners take every kind of request the
            # app knows; this is the residue of shapes nobody handles. Slack would retry a 404.
            response = IGNORED
        if outcome.status == "duplicate":
            count(Metric.DUPLICATES_SKIPPED)
        elif outcome.status == "in_progress":
            count(Metric.RETRIES_DEFERRED)
        if outcome.waited and outcome.status != "in_progress":
            count(Metric.RETRIES_AWAITED)
        if outcome.status == "in_progress":
            log = self.logger.warning  # expected under Slack's retries; the running attempt answers
        elif response.status >= 500:
            log = self.logger.error
        elif response.status >= 300 or outcome.status != "processed" or outcome.waited or request.retry_num:
            log = self.logger.info
        else:
            # A routine first delivery, answered. API Gateway's access log has a line for it already
            # (status, latency); the Lambda REPORT line and the metrics count it too. This line, with
            # the Slack ids, is for LogLevel DEBUG: at INFO it was the largest single cost of a warm
            # event after Slack's own round trip (~80 us of ~1.2 ms, README "Performance").
            log = self.logger.debug
        log(
            "request handled",
            extra={
                "status": response.status,
                "outcome": outcome.status,
                "waited": outcome.waited,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response


def bolt_response(status: int, body: str | None, headers: Mapping[str, Any] | None) -> HttpResponse:
    """Bolt's response as ours; Bolt's header values may be lists."""
    flat = {k: (v[0] if isinstance(v, list | tuple) and v else v) for k, v in (headers or {}).items()}
    return HttpResponse(status, body or "", {k: str(v) for k, v in flat.items()})


def lambda_response(response: HttpResponse) -> dict[str, Any]:
    """Our response in the shape every Lambda HTTP integration accepts."""
    return {"statusCode": response.status, "headers": response.with_headers(), "body": response.body}
