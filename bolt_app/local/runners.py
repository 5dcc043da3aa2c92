"""Run the bot on your machine: Socket Mode (no public URL needed) or a local HTTP server."""

from __future__ import annotations

import logging

from bolt_app.app import create_app
from bolt_app.config import Settings

EVENTS_PATH = "/slack/events"


def run_socket_mode(settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    assert settings.app_token, "Socket Mode needs SLACK_APP_TOKEN"
    app = create_app(settings)
    print("Connecting to Slack over Socket Mode (Ctrl+C to stop)", flush=True)
    SocketModeHandler(app, settings.app_token).start()


def run_http(settings: Settings, host: str, port: int) -> None:
    import uvicorn
    from slack_bolt.adapter.asgi import SlackRequestHandler

    app = create_app(settings)
    asgi_app = SlackRequestHandler(app, path=EVENTS_PATH)
    print(f"Serving Slack requests on http://{host}:{port}{EVENTS_PATH} (Ctrl+C to stop)", flush=True)
    uvicorn.run(asgi_app, host=host, port=port, log_level=logging.getLevelName(logging.INFO).lower())
