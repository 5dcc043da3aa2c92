"""Lambda SnapStart runtime hooks (template parameter `SnapStart=On`).

With SnapStart, Lambda runs the function's init once per published version, snapshots the memory
and disk of the initialised environment, and later restores that snapshot instead of running init.
Lambda's Python runtime client runs the hooks registered with `snapshot_restore_py`:
before-snapshot hooks after init (in reverse order of registration), after-restore hooks before the
first invocation of a restored environment. Registered only when Lambda says the environment is a
SnapStart one (`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`), so other deployments pay nothing.

Before the snapshot, everything a first request would do lazily is done once, with no network call:
the AWS clients (their service models are the slow part of creating one), OpenSSL's first context,
and two synthetic signed requests through `handler.handler` — a `url_verification`, and a DM from a
bot (which the listener ignores, so no Web API call) handled under a throw-away exactly-once store
(no DynamoDB record). The replay cache is emptied after them.

After a restore, what must not be shared by every environment restored from one snapshot is redone:
`random`'s state (the retry jitter, and anything else drawing numbers), pooled connections (sockets
opened at init, by the secret read, are not valid after a restore), and the tokens themselves when the
snapshot is older than SECRET_MAX_AGE_SECONDS (a rotated token must reach restored environments too; a younger
snapshot picks a rotation up on demand, as any warm container does: config.SlackCredentials).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from typing import Any

# Lambda's reserved variable: "on-demand", "provisioned-concurrency" or "snap-start".
INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"
# Past this age a restored environment reads the secret again rather than trust tokens as old as the
# snapshot (a younger one relies on the on-demand re-read of config.SlackCredentials).
SECRET_MAX_AGE_SECONDS = 24 * 3600


class _SnapshotContext:
    """The Lambda context attributes Powertools and Bolt read, for the synthetic requests."""

    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "slack-bot")
    function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
    aws_request_id = "snapstart-prime"
    invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


class SnapStartHooks:
    """The hooks for one container's bot (`handler._Bot`) and its Lambda entry point."""

    def __init__(self, bot: Any, entry: Callable[[dict[str, Any], Any], dict[str, Any]]) -> None:
        self.bot = bot
        self.entry = entry
        self.snapshot_at: float | None = None
        self.primed: list[int] = []

    def before_snapshot(self) -> None:
        self.snapshot_at = time.time()
        if not self.bot.load():
            return  # not configured: every request answers 500 anyway; nothing worth priming
        import ssl

        from bolt_app.foundation import aws_clients
        from bolt_app.request_path.exactly_once import InMemoryExactlyOnce
        from bolt_app.request_path.request_guard import ReplayCache

        # OpenSSL's one-time set-up (its configuration, the default verify paths) happens on the first context.
        ssl.create_default_context()
        # The clients the request path uses; creating one loads and parses its service model.
        if os.environ.get("IDEMPOTENCY_TABLE"):
            aws_clients.client("dynamodb")
        if os.environ.get("SLACK_SECRET_ARN"):
            aws_clients.client("secretsmanager")
        # A slow command's ack self-invokes the function (lazy_listeners.invoke_lambda_async): its client
        # made now spares the first one after a restore the model load on Slack's 3-second path.
        aws_clients.client("lambda")
        # The credentials init read (no second read of the secret).
        signing_secret = self.bot.settings.signing_secret
        gateway = self.bot.gateway
        store = gateway.exactly_once
        gateway.exactly_once = InMemoryExactlyOnce()  # thrown away: no record survives the snapshot
        try:
            for body in (_URL_VERIFICATION, _bot_dm()):
                response = self.entry(_signed_http_event(signing_secret, body), _SnapshotContext())
                self.primed.append(response["statusCode"])
        finally:
            gateway.exactly_once = store
            # The synthetic signatures must not linger in the replay cache of every restored container.
            gateway.guard._replays = ReplayCache()

    def after_restore(self) -> None:
        # Every environment restored from one snapshot starts with the same `random` state.
        random.seed()
        # The synthetic requests took Powertools' cold-start flag; this environment's first real
        # request is the one to carry `cold_start: true` in its log line.
        from aws_lambda_powertools.logging import logger as powertools_logger

        powertools_logger.is_cold_start = True
        _drop_pooled_connections()
        age = time.time() - (self.snapshot_at or time.time())
        if age > SECRET_MAX_AGE_SECONDS and os.environ.get("SLACK_SECRET_ARN"):
            # Rebuild the bot from a fresh read of the secret (config.py reads it uncached).
            self.bot.gateway = None
            self.bot.lambda_adapter = None
            self.bot.load()


def _drop_pooled_connections() -> None:
    """Close the AWS clients' pooled connections: a socket from before the snapshot is not valid after it.
    The clients themselves stay (their models are what priming paid for); new connections are opened on use."""
    from bolt_app.foundation import aws_clients

    for made in list(aws_clients._clients.values()):
        made._endpoint.http_session.close()  # botocore's URLLib3Session: clears its urllib3 pools


_URL_VERIFICATION = json.dumps({"token": "snapstart", "challenge": "snapstart-prime", "type": "url_verification"})


def _bot_dm() -> str:
    """A DM posted by a bot: it runs the guard, the exactly-once store and Bolt's message path, and the
    listener ignores it (no reply, no metric)."""
    event = {
        "type": "message",
        "channel_type": "im",
        "channel": "D0SNAPSTART",
        "user": "U0SNAPSTART",
        "bot_id": "B0SNAPSTART",
        "text": "prime",
        "ts": f"{time.time():.6f}",
    }
    return json.dumps(
        {
            "token": "snapstart",
            "team_id": "T0SNAPSTART",
            "api_app_id": "A0SNAPSTART",
            "type": "event_callback",
            "event_id": f"EvSNAPSTART{time.time_ns()}",
            "event_time": int(time.time()),
            "event": event,
        }
    )


def _signed_http_event(signing_secret: str, body: str) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, signed as Slack signs requests."""
    from slack_sdk.signature import SignatureVerifier

    timestamp = str(int(time.time()))
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=timestamp, body=body)
    return {
        "version": "2.0",
        "routeKey": "POST /slack/events",
        "rawPath": "/slack/events",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "x-slack-request-timestamp": timestamp,
            "x-slack-signature": signature,
        },
        "requestContext": {"http": {"method": "POST", "path": "/slack/events"}, "requestId": "snapstart-prime"},
        "body": body,
        "isBase64Encoded": False,
    }


def register_snapstart_hooks(bot: Any, entry: Callable[[dict[str, Any], Any], dict[str, Any]]) -> SnapStartHooks | None:
    """Register the hooks when this environment is a SnapStart one; None (and no import) otherwise."""
    if os.environ.get(INITIALIZATION_TYPE) != "snap-start":
        return None
    from snapshot_restore_py import register_after_restore, register_before_snapshot

    hooks = SnapStartHooks(bot, entry)
    register_before_snapshot(hooks.before_snapshot)
    register_after_restore(hooks.after_restore)
    return hooks
