"""AWS Lambda entry points.

- `handler.handler`: API Gateway HTTP API (payload 2.0), REST API (payload 1.0) and Function
  URL events, through Bolt's `SlackRequestHandler` Lambda adapter. The default.
- `handler.asgi_handler`: the same app through Mangum and Bolt's ASGI adapter, for
  Application Load Balancer targets (Bolt's Lambda adapter answers ALB events with 404).
  Loaded on first use, so the default path never imports Mangum.

Everything that can be done once per container is done at import: configuration (from the
environment or Secrets Manager), the Bolt app, its adapter, the request guard.
"""

from __future__ import annotations

import base64
import binascii
import os
import warnings
from typing import Any

# First: Bolt's Lambda adapter with boto3 deferred until something uses it (see the module).
from bolt_app.aws_lambda.adapter import SlackRequestHandler  # isort: skip

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from bolt_app import ConfigError, Settings, create_app
from bolt_app.aws_lambda.lazy_listeners import LazyWorkFailed, handle_self_invocation, is_self_invocation
from bolt_app.aws_lambda.snapstart import register_snapstart_hooks
from bolt_app.foundation.observability import log_libraries_as_json, metrics
from bolt_app.request_path.gateway import INTERNAL_ERROR, NOT_CONFIGURED, SlackGateway, bolt_response, lambda_response
from bolt_app.request_path.request_guard import HttpResponse, SlackRequest

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "slack-bot")
# Bolt's, slack_sdk's and botocore's lines too: every line the function prints is one JSON object.
log_libraries_as_json(logger)
# Invocations that only rejected or ignored a request have no metric to publish; that's fine.
warnings.filterwarnings("ignore", message="No application metrics to publish")


class _Bot:
    """The per-container state, built once; retried on the next request if configuration failed."""

    def __init__(self) -> None:
        # Kept for the SnapStart hooks, which sign their synthetic requests with it.
        self.settings: Settings | None = None
        self.lambda_adapter: SlackRequestHandler | None = None
        self.gateway: SlackGateway | None = None
        self.load()

    def load(self) -> bool:
        if self.gateway is not None:
            return True
        try:
            settings = Settings.from_env()
            # create_app loads the command policy: a policy.toml that cannot be used is a ConfigError too.
            app = create_app(settings)
        except ConfigError as error:
            # One line naming what is missing; each request then gets a clear 500, not a crash loop.
            logger.error(f"configuration error: {error}")
            return False
        self.settings = settings
        self.lambda_adapter = SlackRequestHandler(app)
        self.gateway = SlackGateway(settings, logger)
        return True

    def run_self_invocation(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """A lazy listener's async self-invocation (bolt_app/aws_lambda/lazy_listeners.py). Authorised by IAM, not
        by Slack's signature; a failure raises LazyWorkFailed, so that Lambda retries the event."""
        if not self.load():
            raise LazyWorkFailed("the bot is not configured; see the function's logs")
        assert self.gateway is not None and self.lambda_adapter is not None
        app, exactly_once = self.lambda_adapter.app, self.gateway.exactly_once
        return lambda_response(handle_self_invocation(app, exactly_once, event, context, logger))


bot = _Bot()


def _decode(event: Any) -> tuple[str | None, dict[str, str], str]:
    """Method, headers and text body of an API Gateway / Function URL event; ValueError if it is not one."""
    if not isinstance(event, dict):
        raise ValueError("not an HTTP event")
    context, headers, body = event.get("requestContext") or {}, event.get("headers") or {}, event.get("body") or ""
    if not isinstance(context, dict) or not isinstance(headers, dict) or not isinstance(body, str):
        raise ValueError("not an HTTP event")
    http = context.get("http") if isinstance(context.get("http"), dict) else {}
    method = http.get("method") or context.get("httpMethod") or event.get("httpMethod")
    # A missing isBase64Encoded means a plain body.
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body, validate=True).decode("utf-8")
    return method, {str(k): str(v) for k, v in headers.items() if v is not None}, body


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if is_self_invocation(event):
        return bot.run_self_invocation(event, context)
    try:
        return lambda_response(_handle(event, context))
    except Exception:
        # The gateway never raises; this is a last guard so that nothing reaches the runtime.
        logger.exception("unexpected error")
        return lambda_response(INTERNAL_ERROR)


def _handle(event: Any, context: LambdaContext) -> HttpResponse:
    if not bot.load():
        return NOT_CONFIGURED
    assert bot.gateway is not None and bot.lambda_adapter is not None
    if isinstance(event, dict) and "elb" in (event.get("requestContext") or {}):
        return HttpResponse(400, "Load balancer events go to handler.asgi_handler.")
    try:
        method, headers, body = _decode(event)
    except (ValueError, binascii.Error):  # UnicodeDecodeError is a ValueError
        return HttpResponse(400, "Not an HTTP event with a UTF-8 (or base64-encoded UTF-8) body.")
    # Bolt's adapter reads the body and headers itself: hand it the decoded, normalised event.
    plain_event = {**event, "headers": dict(headers), "body": body, "isBase64Encoded": False}
    adapter = bot.lambda_adapter

    def dispatch(request: SlackRequest) -> HttpResponse:
        result = adapter.handle_checked(plain_event, context, request.body)
        return bolt_response(result["statusCode"], result.get("body"), result.get("headers"))

    return bot.gateway.handle(method, headers, body, dispatch, context)


def __getattr__(name: str) -> Any:
    # PEP 562: `handler.asgi_handler` is built on first access, which Lambda does at init
    # for functions configured with it, and never for `handler.handler`.
    if name == "asgi_handler":
        from bolt_app.aws_lambda.asgi import lambda_asgi_handler

        entry = lambda_asgi_handler(bot, logger, metrics)
        globals()["asgi_handler"] = entry
        return entry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# SnapStart (template parameter SnapStart=On): prime before the snapshot, refresh after a restore.
snapstart_hooks = register_snapstart_hooks(bot, handler)
