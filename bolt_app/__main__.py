"""`python -m bolt_app`: run the bot locally.

With no Slack credentials in the environment: the playground, a local stand-in for Slack in
the browser. With SLACK_APP_TOKEN: Socket Mode. With a bot token and signing secret: HTTP.

`python -m bolt_app manifest ...` prints the Slack app manifest (see bolt_app/local/manifest.py).
`python -m bolt_app event KIND` prints a test event for the alerts channel, as AWS sends it (alarm, ok,
message, deploy-start, deploy-end, deploy-failed, digest; see bolt_app/local/aws_events.py, docs/alerts.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from bolt_app.config import ConfigError, Settings
from bolt_app.local.console_logs import configure_local_logging

# Any of these set means "run against a real Slack": a half-set configuration is then an
# error naming what is missing, never a silent fall-back to the playground.
SLACK_CREDENTIALS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["manifest"]:
        from bolt_app.local.manifest import main as manifest_main

        return manifest_main(argv[1:])
    if argv[:1] == ["event"]:
        from bolt_app.local.aws_events import main as event_main

        return event_main(argv[1:])
    try:
        return run(argv)
    except KeyboardInterrupt:
        # Ctrl+C is how a local run stops, at any moment (even before the server is up): no traceback.
        return 0


class _OneLineErrors(argparse.ArgumentParser):
    """A wrong argument is one line (and exit 2), as every other start-up mistake is."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see --help)\n")


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535; 0 picks a free one)")
    return port


def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise argparse.ArgumentTypeError(f"{value!r} is not a log level (DEBUG, INFO, WARNING, ERROR)")
    return level


def run(argv: list[str]) -> int:
    parser = _OneLineErrors(prog="python -m bolt_app", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="playground and HTTP mode: address to listen on")
    parser.add_argument("--port", type=_port, default=3000, help="playground and HTTP mode: port to listen on")
    parser.add_argument(
        "--playground", action="store_true", help="start the playground even when Slack credentials are set"
    )
    parser.add_argument(
        "--log-level",
        type=_log_level,
        default=os.environ.get("POWERTOOLS_LOG_LEVEL", "").strip() or "INFO",
        help="DEBUG, INFO (default, or POWERTOOLS_LOG_LEVEL), WARNING or ERROR",
    )
    args = parser.parse_args(argv)
    # One readable line per record, no metrics lines: JSON is for Lambda's log group (bolt_app/local/console_logs.py).
    configure_local_logging(args.log_level)

    if args.playground or not any(os.environ.get(name, "").strip() for name in SLACK_CREDENTIALS):
        from bolt_app.local.playground import serve

        return serve(args.host, args.port)

    socket_mode = bool(os.environ.get("SLACK_APP_TOKEN", "").strip())
    try:
        # Socket Mode never sees a signed HTTP request: it runs without SLACK_SIGNING_SECRET.
        settings = Settings.from_env(socket_mode=socket_mode)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    from bolt_app.local import runners
    from bolt_app.local.fake_ec2 import local_fleet

    try:
        # /instances: a stand-in EC2 fleet unless LOCAL_EC2=aws (bolt_app/local/fake_ec2.py).
        with local_fleet():
            if socket_mode:
                return runners.run_socket_mode(settings)
            return runners.run_http(settings, args.host, args.port)
    except ConfigError as error:  # the command policy (policy.toml, CHATOPS_ADMINS): one line, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
