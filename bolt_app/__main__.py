"""`python -m bolt_app`: run the bot locally (Socket Mode with SLACK_APP_TOKEN, else HTTP).

`python -m bolt_app manifest ...` prints the Slack app manifest (see bolt_app/local/manifest.py).
"""

from __future__ import annotations

import argparse
import logging
import sys

from bolt_app.config import ConfigError, Settings


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["manifest"]:
        from bolt_app.local.manifest import main as manifest_main

        return manifest_main(argv[1:])
    return run(argv)


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bolt_app", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="HTTP mode: address to listen on")
    parser.add_argument("--port", type=int, default=3000, help="HTTP mode: port to listen on")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    from bolt_app.local import runners

    if settings.app_token:
        runners.run_socket_mode(settings)
    else:
        runners.run_http(settings, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
