"""Checks every HTTP request before Bolt sees it, so bad input gets a clear answer, never a crash.

Bolt raises on some malformed bodies (a `payload` that is not JSON, for one) and answers 404
to requests no listener matches, which Slack retries. The guard answers those itself:
405 for a method other than POST, 401 for unsigned, forged, stale or replayed requests,
400 for a validly signed body that cannot be what Slack sends (or that carries Bolt's lazy-listener
headers), 200 for types we ignore. It is the only signature check: Bolt's own is off (app.py).
It also pulls out what exactly-once delivery and the logs need: the event_id, trigger_id
and Slack's retry number.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

from bolt_app.config import RereadDeferred, SlackCredentials

# Slack's (and Bolt's) window for X-Slack-Request-Timestamp.
SIGNATURE_MAX_AGE_SECONDS = 300
# Epoch seconds have 10 digits until the year 2286; anything much longer is not a timestamp.
MAX_TIMESTAMP_DIGITS = 12
# Slack retries an event three times (X-Slack-Retry-Num 1 to 3).
MAX_RETRY_NUM_DIGITS = 3
# Bolt reads these to run a lazy listener directly, skipping the ack (BoltRequest.lazy_only). Only the
# Lambda self-invocation may carry them (bolt_app/aws_lambda/lazy_listeners.py); Slack never sends them.
BOLT_LAZY_HEADERS = ("x-slack-bolt-lazy-only", "x-slack-bolt-lazy-function-name")
# The self-invocation's delivery id (its signature's hash), which the acting listeners trust to recognise
# Lambda's retry of their own run (bolt_app/chatops/claims.py): never taken from an HTTP request either.
DELIVERY_HEADER = "x-bolt-app-delivery"
SELF_INVOCATION_HEADERS = (*BOLT_LAZY_HEADERS, DELIVERY_HEADER)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: str = ""
    headers: Mapping[str, str] | None = None

    def with_headers(self) -> dict[str, str]:
        return dict(self.headers or {"Content-Type": "text/plain; charset=utf-8"})


class Rejected(Exception):
    """The request gets `response` without reaching Bolt; `reason` is for logs and metrics."""

    def __init__(self, response: HttpResponse, reason: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.response = response
        self.reason = reason
        # For the log line: plain values from the request, never its text or credentials.
        self.details = dict(details or {})


@dataclass(frozen=True)
class SlackRequest:
    """What the guard learned about an accepted request."""

    kind: str  # "event", "url_verification", "command", "interaction", "ssl_check"
    event_id: str | None = None
    event_type: str | None = None
    trigger_id: str | None = None
    retry_num: int | None = None
    retry_reason: str | None = None
    # The body as Bolt reads it (its `BoltRequest.body`): the JSON object, an interaction's
    # `payload`, or a form's fields. Parsed once, here; Bolt is handed it instead of parsing again.
    body: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def log_keys(self) -> dict[str, Any]:
        keys = {
            "slack_request": self.kind,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "trigger_id": self.trigger_id,
            "retry_num": self.retry_num,
            "retry_reason": self.retry_reason,
        }
        return {k: v for k, v in keys.items() if v is not None}


def _reject(status: int, reason: str, message: str, headers: Mapping[str, str] | None = None) -> Rejected:
    return Rejected(HttpResponse(status, message, headers), reason)


class ReplayCache:
    """Signatures seen within the signature window: a second delivery of the same bytes is a replay.

    Only for what Slack never retries (slash commands, interactions): events are not checked here.
    Slack signs with a whole-second timestamp, so a retry sent within the same second as a fast
    failure carries a byte-identical signature; events are de-duplicated by event_id instead
    (exactly-once), so a replayed event is answered from its record, never processed twice.
    Per container and bounded.
    """

    def __init__(self, max_items: int = 10_000) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._max_items = max_items
        self._lock = threading.Lock()

    def seen_before(self, signature: str, now: float) -> bool:
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now:
                self._seen.popitem(last=False)
            if signature in self._seen:
                return True
            self._seen[signature] = now + 2 * SIGNATURE_MAX_AGE_SECONDS
            if len(self._seen) > self._max_items:
                self._seen.popitem(last=False)
            return False


class RequestGuard:
    def __init__(self, credentials: SlackCredentials) -> None:
        self._credentials = credentials
        self._verifier = SignatureVerifier(credentials.signing_secret)
        self._replays = ReplayCache()

    def check(self, method: str | None, headers: Mapping[str, str], body: str) -> SlackRequest:
        """Returns what the request is, or raises Rejected with the answer it gets."""
        if (method or "").upper() != "POST":
            raise _reject(
                405, "method_not_allowed", "Only POST is accepted.", {"Allow": "POST", "Content-Type": "text/plain"}
            )
        lower = {str(k).lower(): str(v) for k, v in headers.items() if v is not None}
        self._verify(lower, body)
        if any(name in lower for name in SELF_INVOCATION_HEADERS):
            raise _reject(400, "lazy_headers", "Bolt's lazy-listener headers are not accepted over HTTP.")
        request = self._parse(lower.get("content-type", ""), body)
        # Events go through exactly-once on event_id instead (see ReplayCache).
        if request.kind != "event" and self._replays.seen_before(lower["x-slack-signature"], time.time()):
            raise _reject(401, "replayed", "This request was already received.")
        return replace(
            request,
            retry_num=_retry_num(lower.get("x-slack-retry-num")),
            retry_reason=lower.get("x-slack-retry-reason") or None,
        )

    def _verify(self, headers: Mapping[str, str], body: str) -> None:
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not timestamp or not signature:
            raise _reject(401, "unsigned", "Missing Slack request signature.")
        # ASCII digits only (str.isdigit() also takes "²" and other scripts' digits, which int() refuses), and
        # few: a 309-digit timestamp overflows the float comparison, a 5,000-digit one int()'s digit limit.
        well_formed = (
            timestamp.isascii()
            and timestamp.isdigit()
            and len(timestamp) <= MAX_TIMESTAMP_DIGITS
            and signature.isascii()
        )
        if well_formed and self._signed_with_current_secret(body, timestamp, signature):
            return
        # Covers forged signatures and timestamps outside the 5-minute window.
        raise _reject(401, "invalid_signature", "Invalid or expired Slack request signature.")

    def _signed_with_current_secret(self, body: str, timestamp: str, signature: str) -> bool:
        verifier = self._verifier
        if verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
            return True
        if abs(time.time() - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS:
            return False  # stale whatever the secret: no reason to re-read it
        # The signing secret may have been rotated since this container read it (bounded re-read).
        try:
            newer = self._credentials.newer_signing_secret(verifier.signing_secret)
        except RereadDeferred:
            # Forged, or signed with a secret rotated since the last re-read: unknown until the next
            # re-read is allowed. Not a 401, which would lose a genuine event: Slack retries a 5xx.
            raise _reject(
                503, "signature_reread_deferred", "The signature could not be checked yet; Slack will retry."
            ) from None
        if newer is None:
            return False
        self._verifier = SignatureVerifier(newer)
        return self._verifier.is_valid(body=body, timestamp=timestamp, signature=signature)

    @staticmethod
    def _parse(content_type: str, body: str) -> SlackRequest:
        if content_type.startswith("application/json") or body.lstrip().startswith("{"):
            return _parse_json_body(body)
        return _parse_form_body(body)


def _retry_num(value: str | None) -> int | None:
    """Slack's X-Slack-Retry-Num; anything but a small ASCII number is not Slack's (400)."""
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= MAX_RETRY_NUM_DIGITS):
        raise _reject(400, "invalid_retry_num", "X-Slack-Retry-Num is not a retry number.")
    return int(value)


def parse_body(content_type: str, body: str) -> SlackRequest:
    """What a signed body is, parsed as the guard parses it (raises Rejected). For bodies that reach
    Bolt without the guard (a lazy self-invocation): Bolt's own parser reads any form body that
    contains "payload", a command's text included, as an interaction without one, and gives {}."""
    return RequestGuard._parse(content_type, body)


def _parse_json_body(body: str) -> SlackRequest:
    try:
        payload = json.loads(body)
    except ValueError:
        raise _reject(400, "invalid_json", "The body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise _reject(400, "invalid_json", "The body is not a JSON object.")
    body_type = payload.get("type")
    if body_type == "url_verification":
        if not isinstance(payload.get("challenge"), str):
            raise _reject(400, "invalid_url_verification", "url_verification without a challenge.")
        return SlackRequest(kind="url_verification", body=payload)
    if body_type == "event_callback":
        event = payload.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise _reject(400, "invalid_event", "event_callback without an event.")
        event_id = payload.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            raise _reject(400, "invalid_event", "event_callback without an event_id.")
        return SlackRequest(kind="event", event_id=event_id, event_type=event["type"], body=payload)
    if body_type == "app_rate_limited":
        # Slack dropped this minute's events for the workspace (over 30,000 an hour):
        # https://docs.slack.dev/reference/events/app_rate_limited/ -- {"token", "type", "team_id",
        # "minute_rate_limited": epoch seconds of the minute, "api_app_id"}, no inner event and no event_id.
        # 200 (nothing to retry), but never quietly: the gateway logs it at WARNING and counts it.
        minute, team = payload.get("minute_rate_limited"), payload.get("team_id")
        details = {
            "minute_rate_limited": minute if isinstance(minute, int) and not isinstance(minute, bool) else None,
            "team_id": team if isinstance(team, str) else None,
        }
        raise Rejected(HttpResponse(200, ""), "app_rate_limited", {k: v for k, v in details.items() if v is not None})
    # Anything newer: nothing for this bot to do, and nothing to retry.
    raise _reject(200, "ignored_type", "")


def _parse_form_body(body: str) -> SlackRequest:
    try:
        form = parse_qs(body, keep_blank_values=True, strict_parsing=bool(body), errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise _reject(400, "invalid_form", "The body is not a valid form.") from None
    if "payload" in form:
        try:
            payload = json.loads(form["payload"][0])
        except ValueError:
            raise _reject(400, "invalid_payload", "The payload field is not valid JSON.") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            raise _reject(400, "invalid_payload", "The payload field is not a Slack payload.")
        trigger_id = payload.get("trigger_id")
        return SlackRequest(
            kind="interaction", trigger_id=trigger_id if isinstance(trigger_id, str) else None, body=payload
        )
    # A field given twice counts with its last value, as Bolt reads forms.
    fields = {name: values[-1] for name, values in form.items()}
    if "command" in form:
        if not form["command"][0].startswith("/"):
            raise _reject(400, "invalid_command", "The command field is not a slash command.")
        return SlackRequest(kind="command", trigger_id=(form.get("trigger_id") or [None])[0], body=fields)
    if "ssl_check" in form:
        return SlackRequest(kind="ssl_check", body=fields)
    raise _reject(400, "missing_payload", "A form body needs a payload or a command.")
