"""Run the bot on your machine: Socket Mode (no public URL needed) or a local HTTP server."""

from __future__ import annotations

import logging

from bolt_app.app import create_app
from bolt_app.asgi import EVENTS_PATH
from bolt_app.config import Settings


def run_socket_mode(settings: Settings) -> None:
    from bolt_app.exactly_once import exactly_once_store
    from bolt_app.local.socket_mode import ExactlyOnceSocketModeHandler

    assert settings.app_token, "Socket Mode needs SLACK_APP_TOKEN"
    app = create_app(settings)
    print("Connecting to Slack over Socket Mode (Ctrl+C to stop)", flush=True)
    # The same exactly-once store as HTTP: DynamoDB when IDEMPOTENCY_TABLE is set, else in memory.
    ExactlyOnceSocketModeHandler(app, settings.app_token, exactly_once_store(settings.idempotency_table)).start()


def run_http(settings: Settings, host: str, port: int) -> None:
    import uvicorn
    from aws_lambda_powertools import Logger

    from bolt_app.asgi import GuardedAsgiApp
    from bolt_app.gateway import SlackGateway

    # The same guard and exactly-once path as on Lambda (in-memory records unless IDEMPOTENCY_TABLE is set).
    asgi_app = GuardedAsgiApp(create_app(settings), SlackGateway(settings, Logger(service="slack-bot")))
    print(f"Serving Slack requests on http://{host}:{port}{EVENTS_PATH} (Ctrl+C to stop)", flush=True)
    uvicorn.run(asgi_app, host=host, port=port, log_level=logging.getLevelName(logging.INFO).lower())
