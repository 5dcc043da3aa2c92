"""Run the bot on your machine: Socket Mode (no public URL needed) or a local HTTP server.

Each returns the process's exit code; a mistake (a taken port, a token Slack refuses) is one line
on stderr, and Ctrl+C is a normal, quiet stop.
"""

from __future__ import annotations

import logging
import sys

from bolt_app.app import create_app
from bolt_app.aws_lambda.asgi import EVENTS_PATH
from bolt_app.config import Settings
from bolt_app.local.console_logs import use_readable_lines


def run_socket_mode(settings: Settings) -> int:
    from bolt_app.local.socket_mode import ExactlyOnceSocketModeHandler, SocketModeRefused
    from bolt_app.request_path.exactly_once import exactly_once_store

    assert settings.app_token, "Socket Mode needs SLACK_APP_TOKEN"
    app = create_app(settings)
    use_readable_lines()
    print("Connecting to Slack over Socket Mode (Ctrl+C to stop)", flush=True)
    # The same exactly-once store as HTTP: DynamoDB when IDEMPOTENCY_TABLE is set, else in memory.
    handler = ExactlyOnceSocketModeHandler(app, settings.app_token, exactly_once_store(settings.idempotency_table))
    try:
        handler.start()
    except SocketModeRefused as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    finally:
        handler.close()
    return 0


def run_http(settings: Settings, host: str, port: int) -> int:
    import uvicorn
    from aws_lambda_powertools import Logger

    from bolt_app.aws_lambda.asgi import GuardedAsgiApp
    from bolt_app.local.listening import CannotListen, listening_socket
    from bolt_app.request_path.gateway import SlackGateway

    try:
        sock = listening_socket(host, port)
    except CannotListen as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    # The same guard and exactly-once path as on Lambda (in-memory records unless IDEMPOTENCY_TABLE is set).
    asgi_app = GuardedAsgiApp(create_app(settings), SlackGateway(settings, Logger(service="slack-bot")))
    use_readable_lines()
    print(f"Serving Slack requests on http://{host}:{sock.getsockname()[1]}{EVENTS_PATH} (Ctrl+C to stop)", flush=True)
    # log_config=None: uvicorn's lines (one per request) go through the root logger, in the terminal's one layout.
    config = uvicorn.Config(asgi_app, log_config=None, log_level=logging.getLevelName(logging.INFO).lower())
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl+C after its graceful shutdown
        pass
    finally:
        sock.close()
    return 0
