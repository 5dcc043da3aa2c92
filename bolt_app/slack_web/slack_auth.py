"""Rotated bot tokens without failed replies: a Web API call that Slack refuses with an auth error
is retried once with the token re-read from Secrets Manager (bounded, see SlackCredentials)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bolt_app.config import RereadDeferred, SlackCredentials

# What Slack answers for a token that was rotated away, revoked, or whose app or workspace is gone.
AUTH_ERRORS = frozenset({"invalid_auth", "token_revoked", "account_inactive"})


class TokenRereadDeferred(SlackApiError):
    """Slack refused the token and it could not be re-read now (SlackCredentials' limit): it may have
    been rotated, so the failure is transient (5xx, Slack retries), not permanent."""


class RotatingTokenWebClient(WebClient):
    """A WebClient that, refused with an auth error, retries the call once with a newer bot token."""

    def __init__(self, *, credentials: SlackCredentials, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._credentials = credentials

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:  # type: ignore[override]
        try:
            return super().api_call(api_method, **kwargs)
        except SlackApiError as error:
            if error.response.get("error") not in AUTH_ERRORS or not self.token:
                raise
            try:
                newer = self._credentials.newer_bot_token(self.token)
            except RereadDeferred:
                raise TokenRereadDeferred(str(error), error.response) from None
            if newer is None:
                raise  # re-read, and nothing newer: the error stands, as permanent
            self.token = newer
            return super().api_call(api_method, **kwargs)

    def __deepcopy__(self, memo: dict[int, Any]) -> RotatingTokenWebClient:
        # Bolt deep-copies the request context, this client included, for each lazy listener. The
        # credentials are the container's one shared holder (with its lock): shared, never copied.
        copied = self.__class__.__new__(self.__class__)
        memo[id(self)] = copied
        for name, value in self.__dict__.items():
            setattr(copied, name, value if name == "_credentials" else copy.deepcopy(value, memo))
        return copied


class RotatingTokenClientMiddleware(Middleware):
    """Bolt middleware: listeners get a RotatingTokenWebClient in place of Bolt's per-request client.

    A Middleware subclass rather than a function given to `app.use`: Bolt runs a plain function
    through its keyword-argument injection, which inspects the function on every request (about a
    tenth of the bot's own warm per-event time, measured with the benchmark's warm child)."""

    def __init__(self, credentials: SlackCredentials) -> None:
        self.credentials = credentials

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        context, client = req.context, req.context.client
        if client is not None:
            context["client"] = RotatingTokenWebClient(
                credentials=self.credentials,
                token=client.token,
                base_url=client.base_url,
                timeout=client.timeout,
                headers=client.headers,
                team_id=context.team_id,
                logger=client.logger,
                retry_handlers=client.retry_handlers,
            )
        return next()
