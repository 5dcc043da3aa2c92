"""`python -m bolt_app manifest`: print the Slack app manifest, ready to paste into Slack.

slack/manifest.json is the one source (not at the top level: the SAM CLI takes any manifest.json
there for a CDK app's); this fills in the request URL — the stack's
`SlackRequestUrl` output — for events, the /test command and interactivity, or turns it into
the Socket Mode variant for local runs (no URLs at all). Local-only: not on Lambda.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MANIFEST_PATH = Path(__file__).resolve().parents[2] / "slack" / "manifest.json"
EVENTS_PATH = "/slack/events"


def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def slash_commands(manifest: dict[str, Any]) -> list[str]:
    """The slash commands the manifest declares: the only ones Slack lets anyone type."""
    return [entry["command"] for entry in manifest.get("features", {}).get("slash_commands", [])]


def request_url(url: str) -> str:
    """Validate the URL Slack will call; a bare API URL (no path) gets /slack/events appended."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname:
        # Slack only calls https URLs; catching it here beats a failed verification in Slack's UI.
        raise ValueError(f"the request URL must be an https:// URL, got {url!r}")
    path = parts.path if parts.path not in ("", "/") else EVENTS_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def for_http(manifest: dict[str, Any], url: str) -> dict[str, Any]:
    """The manifest with every request URL set to `url` (Socket Mode off)."""
    result = copy.deepcopy(manifest)
    settings = result["settings"]
    settings["socket_mode_enabled"] = False
    settings["event_subscriptions"]["request_url"] = url
    settings["interactivity"]["request_url"] = url
    for command in result["features"].get("slash_commands", []):
        command["url"] = url
    return result


def for_socket_mode(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest for Socket Mode: no request URLs anywhere, Slack connects to the bot instead."""
    result = copy.deepcopy(manifest)
    settings = result["settings"]
    settings["socket_mode_enabled"] = True
    settings["event_subscriptions"].pop("request_url", None)
    settings["interactivity"].pop("request_url", None)
    for command in result["features"].get("slash_commands", []):
        command.pop("url", None)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bolt_app manifest",
        description="Print the Slack app manifest (JSON) with the request URL filled in.",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--url", help="the request URL: the SlackRequestUrl output of `sam deploy`")
    mode.add_argument("--socket-mode", action="store_true", help="the Socket Mode variant, for local runs")
    args = parser.parse_args(argv)

    manifest = load_manifest()
    if args.socket_mode:
        result = for_socket_mode(manifest)
    else:
        try:
            result = for_http(manifest, request_url(args.url))
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    print(json.dumps(result, indent=2))
    return 0
