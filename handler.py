"""AWS Lambda entry point: API Gateway (HTTP API 2.0, REST API 1.0) and Function URL events.

Everything that can be done once per container is done here, at import: read the
configuration, build the Bolt app and its Lambda adapter.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from slack_bolt.adapter.aws_lambda import SlackRequestHandler

from bolt_app import ConfigError, Settings, create_app

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "slack-bot")


def _build_slack_handler() -> SlackRequestHandler | None:
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        # One line naming the variable; each request then gets a clear 500 instead of a crash loop.
        logger.error(f"configuration error: {error}")
        return None
    return SlackRequestHandler(create_app(settings))


slack_handler = _build_slack_handler()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if slack_handler is None:
        return {"statusCode": 500, "headers": {"Content-Type": "text/plain"}, "body": "The bot is not configured."}
    return slack_handler.handle(event, context)
