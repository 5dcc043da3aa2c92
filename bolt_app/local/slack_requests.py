"""Requests as Slack sends them, wrapped in the Lambda event shapes API Gateway delivers.

Used by the tests, the playground and the benchmark to drive `handler.handler` exactly as
production traffic does: bodies signed with Slack's v0 scheme, in API Gateway HTTP API
(payload 2.0), REST API (payload 1.0), Function URL or ALB events.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

TEAM_ID = "T0FAKE0001"
API_APP_ID = "A0FAKEAPP1"
_ids = itertools.count(1)


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10].upper()}{next(_ids)}"


# -- signing ------------------------------------------------------------------------------


def slack_signature(signing_secret: str, timestamp: str, body: str) -> str:
    """Slack's request signature: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(signing_secret: str, body: str, content_type: str, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "content-type": content_type,
        "x-slack-request-timestamp": ts,
        "x-slack-signature": slack_signature(signing_secret, ts, body),
        "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }


# -- Slack payloads -----------------------------------------------------------------------


def dm_message(
    text: str = "",
    *,
    user: str = "U0HUMAN001",
    channel: str = "D0DMCHAN01",
    thread_ts: str | None = None,
    subtype: str | None = None,
    files: list[dict[str, Any]] | None = None,
    blocks: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A `message.im` event as Slack delivers it. `text` is the wire text (escaped, with markup);
    for what a person typed, pass `**typed_message(typed)` instead of text and blocks."""
    ts = f"{time.time():.6f}"
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": "im",
        "team": TEAM_ID,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    if subtype:
        event["subtype"] = subtype
    if files:
        event["files"] = files
        event.setdefault("subtype", "file_share")
        event["upload"] = False
    if blocks is not None:
        event["blocks"] = blocks
    event.update(extra)
    return event


def file_metadata(name: str, mimetype: str = "application/octet-stream", size: int = 1024) -> dict[str, Any]:
    file_id = _unique("F")
    return {
        "id": file_id,
        "created": int(time.time()),
        "timestamp": int(time.time()),
        "name": name,
        "title": name,
        "mimetype": mimetype,
        "filetype": name.rsplit(".", 1)[-1] if "." in name else "binary",
        "size": size,
        "mode": "hosted",
        "is_external": False,
        "url_private": f"https://files.slack.com/files-pri/{TEAM_ID}-{file_id}/{name}",
    }


def rich_text_blocks(*parts: str | tuple[str, str]) -> list[dict[str, Any]]:
    """A rich_text block as Slack's composer sends it: plain strings are text, (url, label) pairs links."""
    elements: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, tuple):
            url, label = part
            link: dict[str, Any] = {"type": "link", "url": url}
            if label:
                link["text"] = label
            elements.append(link)
        else:
            elements.append({"type": "text", "text": part})
    return [
        {
            "type": "rich_text",
            "block_id": _unique("b")[:5],
            "elements": [{"type": "rich_text_section", "elements": elements}],
        }
    ]


# What Slack's composer turns into a link: a URL up to whitespace, minus trailing punctuation;
# and an e-mail address, which becomes a mailto: link.
_TYPED_URL = re.compile(r"https?://[^\s<>]*[^\s<>.,;:!?)\]'\"]")
_TYPED_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}")
_TYPED_LINK = re.compile(f"{_TYPED_URL.pattern}|{_TYPED_EMAIL.pattern}")


def slack_escape(text: str) -> str:
    """`&`, `<` and `>` as Slack escapes them in a message's `text` (and only those three)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# What the composer formats (with Slack's "format messages with markup" on, its default): `code`,
# *bold*, _italic_, ~strike~ — not inside words, not starting or ending with a space.
_TYPED_STYLE = re.compile(
    r"`(?P<code>[^`\n]+)`"
    r"|(?<![\w*])\*(?P<bold>[^*\s](?:[^*\n]*[^*\s])?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic>[^_\s](?:[^_\n]*[^_\s])?)_(?![\w_])"
    r"|(?<![\w~])~(?P<strike>[^~\s](?:[^~\n]*[^~\s])?)~(?![\w~])"
)


def typed_message(typed: str) -> dict[str, Any]:
    """`text` and `blocks` of a message as Slack's composer sends what a person typed.

    In `text`, `&`, `<` and `>` are escaped — inside link markup too — links become `<url>`
    (e-mail addresses `<mailto:addr|addr>`) and the formatting marks stay as typed; the
    `rich_text` block carries the raw strings, raw URLs and the formatting as element styles.
    Use as `dm_message(**typed_message("a & *b* https://x?a=1&b=2"))`.
    """
    text_parts: list[str] = []
    elements: list[dict[str, Any]] = []
    position = 0
    for match in _TYPED_STYLE.finditer(typed):
        _typed_span(typed[position : match.start()], {}, text_parts, elements)
        style = next(name for name, value in match.groupdict().items() if value is not None)
        if style == "code":  # nothing inside a code span is a link
            text_parts.append(slack_escape(match.group(0)))
            elements.append({"type": "text", "text": match.group(style), "style": {"code": True}})
        else:
            mark = match.group(0)[0]
            text_parts.append(mark)
            _typed_span(match.group(style), {style: True}, text_parts, elements)
            text_parts.append(mark)
        position = match.end()
    _typed_span(typed[position:], {}, text_parts, elements)
    blocks = (
        [
            {
                "type": "rich_text",
                "block_id": _unique("b")[:5],
                "elements": [{"type": "rich_text_section", "elements": elements}],
            }
        ]
        if typed
        else []
    )
    return {"text": "".join(text_parts), "blocks": blocks}


def _typed_span(span: str, style: dict[str, bool], text_parts: list[str], elements: list[dict[str, Any]]) -> None:
    def element(item: dict[str, Any]) -> dict[str, Any]:
        return {**item, "style": dict(style)} if style else item

    position = 0
    for match in _TYPED_LINK.finditer(span):
        before = span[position : match.start()]
        if before:
            text_parts.append(slack_escape(before))
            elements.append(element({"type": "text", "text": before}))
        found = match.group(0)
        if found.startswith(("http://", "https://")):
            text_parts.append(f"<{slack_escape(found)}>")
            elements.append(element({"type": "link", "url": found}))
        else:
            text_parts.append(f"<mailto:{slack_escape(found)}|{slack_escape(found)}>")
            elements.append(element({"type": "link", "url": f"mailto:{found}", "text": found}))
        position = match.end()
    if span[position:]:
        text_parts.append(slack_escape(span[position:]))
        elements.append(element({"type": "text", "text": span[position:]}))


def event_callback(event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    """The Events API envelope around one event."""
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "context_team_id": TEAM_ID,
        "api_app_id": API_APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or _unique("Ev"),
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": "U0FAKEBOT1",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": _unique("4-"),
    }


def url_verification(challenge: str) -> dict[str, Any]:
    return {"token": "legacy-verification-token", "challenge": challenge, "type": "url_verification"}


def slash_command(
    command: str, text: str = "", *, response_url: str, user: str = "U0HUMAN001", channel: str = "C0GENERAL1"
) -> dict[str, str]:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "fake-workspace",
        "channel_id": channel,
        "channel_name": "general",
        "user_id": user,
        "user_name": "dwight",
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": _unique("13345224609.738474920."),
    }


def block_actions(
    action: dict[str, Any],
    *,
    response_url: str,
    message: dict[str, Any] | None = None,
    user: str = "U0HUMAN001",
    channel: str = "C0GENERAL1",
) -> dict[str, Any]:
    """A `block_actions` payload for a click on `action` (a button element of the message)."""
    message_ts = (message or {}).get("ts", f"{time.time():.6f}")
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "dwight", "name": "dwight", "team_id": TEAM_ID},
        "api_app_id": API_APP_ID,
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": _unique("13345224609.738474920."),
        "team": {"id": TEAM_ID, "domain": "fake-workspace"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "general"},
        "message": message or {"type": "message", "ts": message_ts, "text": ""},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [{**action, "action_ts": f"{time.time():.6f}"}],
    }


def button_click(blocks: list[dict[str, Any]], action_id: str, block_id: str | None = None) -> dict[str, Any]:
    """The action Slack reports when the button `action_id` in `blocks` is clicked (in the block `block_id`,
    when given: action_ids need only be unique within a block). Buttons in `elements` and a section's accessory."""
    for block in blocks:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        elements = [
            *block.get("elements", []),
            *([block["accessory"]] if isinstance(block.get("accessory"), dict) else []),
        ]
        for element in elements:
            if element.get("action_id") == action_id:
                return {**element, "block_id": block.get("block_id")}
    raise KeyError(action_id)


# -- bodies -------------------------------------------------------------------------------


def json_body(payload: dict[str, Any]) -> tuple[str, str]:
    return json.dumps(payload), "application/json"


def form_body(fields: dict[str, str]) -> tuple[str, str]:
    return urlencode(fields), "application/x-www-form-urlencoded"


def interactive_body(payload: dict[str, Any]) -> tuple[str, str]:
    return form_body({"payload": json.dumps(payload)})


# -- Lambda events ------------------------------------------------------------------------


@dataclass
class LambdaContext:
    """The attributes of the Lambda runtime's context object that Powertools and Bolt read."""

    function_name: str = "slack-bot"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024  # template.yaml's MemorySize
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def http_api_event(
    body: str,
    headers: dict[str, str],
    *,
    method: str = "POST",
    path: str = "/slack/events",
    base64_encoded: bool = False,
    function_url: bool = False,
) -> dict[str, Any]:
    """API Gateway HTTP API (payload 2.0) event; with function_url, a Lambda Function URL event."""
    domain = (
        "abcdefghij.lambda-url.us-east-1.on.aws" if function_url else "abcdefghij.execute-api.us-east-1.amazonaws.com"
    )
    request_context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "abcdefghij",
        "domainName": domain,
        "domainPrefix": "abcdefghij",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "3.4.5.6",
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": _unique("req-"),
        "routeKey": "$default" if function_url else f"{method} {path}",
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
        "timeEpoch": int(time.time() * 1000),
    }
    return {
        "version": "2.0",
        "routeKey": request_context["routeKey"],
        "rawPath": path,
        "rawQueryString": "",
        "headers": {**headers, "host": domain},
        "requestContext": request_context,
        "body": base64.b64encode(body.encode()).decode() if base64_encoded else body,
        "isBase64Encoded": base64_encoded,
    }


def rest_api_event(
    body: str,
    headers: dict[str, str],
    *,
    method: str = "POST",
    path: str = "/slack/events",
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """API Gateway REST API (payload 1.0) event, header names as the client sent them."""
    cased = {"-".join(p.capitalize() for p in k.split("-")): v for k, v in headers.items()}
    return {
        "version": "1.0",
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": cased,
        "multiValueHeaders": {k: [v] for k, v in cased.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdefghij",
            "httpMethod": method,
            "path": f"/Prod{path}",
            "protocol": "HTTP/1.1",
            "requestId": _unique("req-"),
            "resourcePath": path,
            "stage": "Prod",
            "identity": {"sourceIp": "3.4.5.6", "userAgent": headers.get("user-agent", "")},
        },
        "body": base64.b64encode(body.encode()).decode() if base64_encoded else body,
        "isBase64Encoded": base64_encoded,
    }


def alb_event(
    body: str,
    headers: dict[str, str],
    *,
    method: str = "POST",
    path: str = "/slack/events",
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """Application Load Balancer target event (multi-value headers off)."""
    return {
        "requestContext": {
            "elb": {
                "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/slack/0123456789"
            }
        },
        "httpMethod": method,
        "path": path,
        "queryStringParameters": {},
        "headers": {**headers, "host": "slack-bot-123.us-east-1.elb.amazonaws.com"},
        "body": base64.b64encode(body.encode()).decode() if base64_encoded else body,
        "isBase64Encoded": base64_encoded,
    }


def signed_event(
    signing_secret: str,
    body_and_type: tuple[str, str],
    *,
    shape: str = "http_api",
    timestamp: int | None = None,
    retry_num: int | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """A signed request in the given Lambda event shape: http_api, rest_api, function_url or alb.

    With retry_num, it is Slack's retry of an event: the same body, signed anew, with retry headers.
    """
    body, content_type = body_and_type
    headers = signed_headers(signing_secret, body, content_type, timestamp)
    if retry_num is not None:
        headers.update({"x-slack-retry-num": str(retry_num), "x-slack-retry-reason": "http_timeout"})
    if shape == "rest_api":
        return rest_api_event(body, headers, **kwargs)
    if shape == "alb":
        return alb_event(body, headers, **kwargs)
    return http_api_event(body, headers, function_url=shape == "function_url", **kwargs)
