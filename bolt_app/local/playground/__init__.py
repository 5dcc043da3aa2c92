"""The local Slack playground: try the bot in a browser, with no Slack workspace.

Dev-only: `python -m bolt_app` starts it when no Slack credentials are set. The Lambda
entry point never imports this package.
"""

from __future__ import annotations

import importlib
import os
import secrets
import sys

from bolt_app.chatops import Policy, registry_of
from bolt_app.config import ConfigError, Settings
from bolt_app.local.console_logs import use_readable_lines
from bolt_app.local.fake_slack import FakeSlack
from bolt_app.local.listening import CannotListen, listening_socket
from bolt_app.local.playground import people
from bolt_app.local.playground.server import SLACK_MOUNT, STAND_IN_AWS_MOUNT, create_asgi_app
from bolt_app.local.playground.session import ALERTS_CHANNEL, HUMAN_ID, Playground

__all__ = ["Playground", "create_asgi_app", "serve", "start_session"]

# Deployment settings the playground drops: the bot must talk to the playground and nowhere else
# (no Secrets Manager, no DynamoDB: exactly-once records stay in memory).
_REAL_SLACK_SETTINGS = ("SLACK_APP_TOKEN", "SLACK_SECRET_ARN", "SLACK_BOT_ID", "SLACK_BOT_USER_ID", "IDEMPOTENCY_TABLE")
# `/stack-status` reads a stand-in stack on the playground's own port (bolt_app/local/fake_aws.py), never AWS:
# made-up credentials, and no profile or session token of yours is used.
STAND_IN_STACK = "playground-stack"
_REAL_AWS_SETTINGS = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_LAMBDA_FUNCTION_NAME")


def start_session(base_url: str) -> Playground:
    """Make up this session's Slack credentials, point the bot at the playground, import the Lambda handler.

    handler.py builds the app at import from the environment, exactly as on Lambda, so the
    environment is set first.
    """
    fake = FakeSlack(bot_token=f"xoxb-playground-{secrets.token_hex(12)}")
    fake.base_url = base_url.rstrip("/") + SLACK_MOUNT
    signing_secret = secrets.token_hex(16)
    for name in (*_REAL_SLACK_SETTINGS, *_REAL_AWS_SETTINGS):
        os.environ.pop(name, None)
    os.environ.update(SLACK_BOT_TOKEN=fake.bot_token, SLACK_SIGNING_SECRET=signing_secret, SLACK_API_URL=fake.api_url)
    # You, in the playground, are an admin of the command policy (policy.toml), as a deployer who set the
    # ChatOpsAdmins parameter to their own ID is: every command the policy gives admins works here.
    os.environ["CHATOPS_ADMINS"] = HUMAN_ID
    # Alarms, deploys and the digest (bolt_app/notifications/) go to the playground's #alerts.
    os.environ["ALERTS_CHANNEL"] = ALERTS_CHANNEL
    # The user switcher's roles (the playground's own policy file) and the stand-in EC2 fleet for /instances.
    people.configure_environment(base_url)
    # The command policy first: a broken one is a ConfigError here, as it is at a Lambda cold start
    # (where handler.py logs it and answers 500), not an app that failed to build.
    settings = Settings.from_env()
    Policy.load(settings.policy_file, settings.chatops_admins)
    os.environ.update(
        STACK_NAME=STAND_IN_STACK,
        AWS_ENDPOINT_URL_CLOUDFORMATION=base_url.rstrip("/") + STAND_IN_AWS_MOUNT + "/",
        AWS_ACCESS_KEY_ID="playground",
        AWS_SECRET_ACCESS_KEY="playground",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
    )
    sys.modules.pop("handler", None)
    handler_module = importlib.import_module("handler")
    playground = Playground(fake, handler_module.handler, signing_secret)
    # Lazy listeners: Lambda's asynchronous self-invocation, played in this process.
    playground.attach_self_invoker(handler_module.bot.lambda_adapter.self_invoker)
    playground.app = handler_module.bot.lambda_adapter.app
    # The audit trail (local: JSON log lines): each record also goes to the inspector.
    playground.attach_audit_trail(registry_of(handler_module.bot.lambda_adapter.app).audit)
    return playground


def serve(host: str = "127.0.0.1", port: int = 3000) -> int:
    """Serve the playground until Ctrl+C (a quiet exit, 0). Binding first makes a taken port a one-line error."""
    import uvicorn

    try:
        sock = listening_socket(host, port)
    except CannotListen as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    url = f"http://{host}:{sock.getsockname()[1]}"
    try:
        playground = start_session(url)
    except ConfigError as error:  # policy.toml (or CHATOPS_ADMINS) that cannot be used: one line, no traceback
        print(f"error: {error}", file=sys.stderr)
        sock.close()
        return 2
    # handler.py has set its loggers up for Lambda (JSON): one readable line each in the terminal.
    use_readable_lines()
    print(f"Slack playground: {url} (no Slack workspace needed; Ctrl+C to stop)", flush=True)
    config = uvicorn.Config(
        create_asgi_app(playground, listen_host=host), log_level="warning", timeout_graceful_shutdown=2
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn shuts down gracefully on Ctrl+C, then re-raises the signal for its caller: stopping is the
        # way out of the playground, not an error.
        pass
    finally:
        playground.close()
        sock.close()
    return 0
