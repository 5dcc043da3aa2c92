"""The app factory: one Bolt App, configured from Settings, with every listener registered."""

from __future__ import annotations

import logging
from urllib.error import URLError

from slack_bolt import App, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from bolt_app import chatops
from bolt_app.aws_lambda.lazy_listeners import SelfInvocationFailed
from bolt_app.config import Settings
from bolt_app.foundation.observability import Metric, count
from bolt_app.listeners import register_listeners
from bolt_app.slack_web.slack_auth import RotatingTokenClientMiddleware, TokenRereadDeferred
from bolt_app.slack_web.slack_retries import CALL_TIMEOUT_SECONDS, ResponseUrlFailed, retry_handlers


class _ExpectedTokenWarning(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and warns that our client and
    authorize make it unused. That is this app's intended set-up, so the warning is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def create_app(settings: Settings, *, logger: logging.Logger | None = None) -> App:
    # Bolt's loggers copy this base logger's level and filters. Its DEBUG lines print whole
    # requests (signature headers, message text), so it never goes below INFO.
    bolt_logger = logger or logging.getLogger("bolt_app.bolt")
    bolt_logger.setLevel(max(logging.INFO, bolt_logger.getEffectiveLevel()))
    if not any(isinstance(f, _ExpectedTokenWarning) for f in bolt_logger.filters):
        bolt_logger.addFilter(_ExpectedTokenWarning())
    # Every Web API call goes to settings.api_url (GovSlack, tests, the playground): Bolt
    # copies this client's base_url into the per-request client it hands to listeners.
    # Budgeted retries and a short timeout keep every call inside Slack's 3-second window.
    client = WebClient(base_url=settings.api_url, timeout=CALL_TIMEOUT_SECONDS, retry_handlers=retry_handlers())

    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        # A single-workspace bot knows its token; this replaces Bolt's auth.test round trip
        # on each container's first request. Messages with a bot_id are ignored by the
        # listeners anyway, so the bot's own ids are only a bonus when configured.
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            # The current token: a rotation picked up by any request applies to the next ones.
            bot_token=settings.credentials.bot_token,
            bot_id=settings.bot_id,
            bot_user_id=settings.bot_user_id,
        )

    app = App(
        # Bolt names each listener's logger "<app name>:<function>": a dotted name makes them all
        # children of the "bolt_app" logger, which handler.py sends through the Powertools formatter.
        name="bolt_app.listeners",
        logger=bolt_logger,
        signing_secret=settings.signing_secret,
        client=client,
        authorize=authorize,
        # On Lambda nothing runs after the handler returns: do all work before responding
        # (slow work goes to lazy listeners: bolt_app/aws_lambda/lazy_listeners.py).
        process_before_response=True,
        # The request guard (bolt_app/request_path/request_guard.py) verifies every HTTP request before Bolt sees
        # it, at every entry point, with the current signing secret (re-read on rotation); Socket Mode
        # needs no signature. Bolt's second check would cost per-event work, keep the secret read at
        # start, and reject a lazy self-invocation Lambda delivers after Slack's 5-minute window.
        request_verification_enabled=False,
    )
    app.use(RotatingTokenClientMiddleware(settings.credentials))
    # The command policy, in front of every listener (bolt_app/chatops/middleware.py). Loaded here, once
    # per container: a policy that cannot be used raises PolicyError (a ConfigError), one line.
    chatops.install(app, settings)
    app.error(handle_listener_error)
    register_listeners(app, settings)
    return app


# Connection errors and timeouts (socket.timeout is a TimeoutError, an OSError like ConnectionError).
CONNECTION_ERRORS = (URLError, TimeoutError, ConnectionError)
# Slack's ok:false codes that a later attempt can succeed with; every other code fails the same way
# again (channel_not_found, not_in_channel, msg_too_long, invalid_auth after the token re-read, ...).
TRANSIENT_SLACK_ERRORS = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable"})
# What a permanent Slack failure answers: a 2xx, so Slack neither retries nor counts it against
# the app's delivery success (a revoked token failing every delivery gets subscriptions disabled).
PERMANENT_FAILURE = BoltResponse(status=200, body="")


def slack_failure(error: Exception) -> tuple[bool, str] | None:
    """(transient?, error code) when `error` is a failed Slack call; None for any other error."""
    if isinstance(error, SlackApiError):
        code = str(error.response.get("error") or "")
        status = error.response.status_code
        transient = status >= 500 or status == 429 or code in TRANSIENT_SLACK_ERRORS
        # A refused token that could not be re-read yet may have been rotated: Slack's retry re-reads it.
        transient = transient or isinstance(error, TokenRereadDeferred)
        return transient, code or f"http_{status}"
    if isinstance(error, CONNECTION_ERRORS):
        return True, type(error).__name__
    if isinstance(error, ResponseUrlFailed):
        return error.status >= 500 or error.status == 429, f"http_{error.status}"
    if isinstance(error, SlackRequestError):
        # slack_sdk refused to send the request at all (a malformed call).
        return False, "request_error"
    return None


def handle_listener_error(error: Exception, logger: logging.Logger) -> BoltResponse | None:
    """Bolt calls this for errors in listeners and in its own matching of a payload."""
    failure = slack_failure(error)
    transient, code = failure if failure else (False, None)
    # The error's type and Slack's error code only: messages may quote what was sent.
    if isinstance(error, SelfInvocationFailed):
        # Lambda did not take the lazy work (throttled, say): 5xx, so that a retry can start it.
        transient, code = True, None
    # Both go into the message itself too, so that formats which drop `extra` (the local console,
    # Lambda's text logs) show them.
    # A connection error or timeout never reached Slack: not "a Slack error".
    reason = "could not reach Slack" if isinstance(error, CONNECTION_ERRORS) else "Slack error"
    logger.error(
        "listener failed: %s%s",
        type(error).__name__,
        f" ({reason}: {code})" if code else "",
        extra={"error_type": type(error).__name__, "slack_error": code, "retry": transient},
    )
    if isinstance(error, SelfInvocationFailed):
        return None
    if failure is None:
        # Anything else fails the same way on every retry of the same payload: don't ask for one.
        return BoltResponse(status=400, body="The Slack payload could not be handled.")
    count(Metric.SLACK_API_ERRORS)
    if transient:
        # Keep Bolt's 500: Slack retries the event, the exactly-once record is released,
        # and the retry gets a fresh chance at the Web API.
        return None
    count(Metric.SLACK_PERMANENT_ERRORS)
    return PERMANENT_FAILURE
