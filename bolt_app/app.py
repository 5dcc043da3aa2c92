"""The app factory: one Bolt App, configured from Settings, with every listener registered."""

from __future__ import annotations

import logging
from urllib.error import URLError

from slack_bolt import App, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from bolt_app.config import Settings
from bolt_app.listeners import register_listeners
from bolt_app.observability import Metric, count
from bolt_app.slack_retries import CALL_TIMEOUT_SECONDS, retry_handlers


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
            bot_token=settings.bot_token,
            bot_id=settings.bot_id,
            bot_user_id=settings.bot_user_id,
        )

    app = App(
        name="bolt_app",
        logger=bolt_logger,
        signing_secret=settings.signing_secret,
        client=client,
        authorize=authorize,
        # On Lambda nothing runs after the handler returns: do all work before responding.
        process_before_response=True,
    )
    app.error(handle_listener_error)
    register_listeners(app)
    return app


TRANSIENT_ERRORS = (SlackApiError, SlackRequestError, URLError, TimeoutError, ConnectionError)


def handle_listener_error(error: Exception, logger: logging.Logger) -> BoltResponse | None:
    """Bolt calls this for errors in listeners and in its own matching of a payload."""
    slack_error = error.response.get("error") if isinstance(error, SlackApiError) else None
    # The error's type and Slack's error code only: messages may quote what was sent. Both go into the
    # message itself too, so that formats which drop `extra` (the local console, Lambda's text logs) show them.
    logger.error(
        "listener failed: %s%s",
        type(error).__name__,
        f" (Slack error: {slack_error})" if slack_error else "",
        extra={"error_type": type(error).__name__, "slack_error": slack_error},
    )
    if isinstance(error, TRANSIENT_ERRORS):
        # Keep Bolt's 500: Slack retries the event, the exactly-once record is released,
        # and the retry gets a fresh chance at the Web API.
        count(Metric.SLACK_API_ERRORS)
        return None
    # Anything else fails the same way on every retry of the same payload: don't ask for one.
    return BoltResponse(status=400, body="The Slack payload could not be handled.")
