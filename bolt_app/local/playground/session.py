"""The playground's Slack side: it plays the workspace for the bot.

Every user action becomes the request Slack would send (signed, API Gateway HTTP API 2.0 event)
and goes through the Lambda entry point; the bot's Web API calls and response URL posts land
in FakeSlack, whose conversation store is what the page draws. Everything is logged, secrets
masked, for the inspector pane.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from bolt_app.local import manifest
from bolt_app.local import slack_requests as sr
from bolt_app.local.fake_slack import ApiCall, FakeSlack, ResponseUrlPost
from bolt_app.local.playground import people
from bolt_app.local.playground.masking import mask

logger = logging.getLogger(__name__)

HUMAN_ID = "U0HUMAN001"
HUMAN_NAME = "dwight"
# The one place the bot's name is set: the manifest's bot user (what Slack shows), here and in the page title.
BOT_NAME = manifest.load_manifest()["features"]["bot_user"]["display_name"]
DM_CHANNEL = "D0PLAYDM01"
GENERAL_CHANNEL = "C0GENERAL1"
# Kept bounded: the page fetches it whole on every change.
MAX_LOG_ENTRIES = 300

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


AS_SENT, AS_RETRY = "as_sent", "retry"


@dataclass(frozen=True)
class Sent:
    """A request as the playground sent it to the bot, for the inspector's replay."""

    kind: str
    event: dict[str, Any]
    # The unsigned body and its content type (None for a self-invocation, which is not signed).
    body_and_type: tuple[str, str] | None


class PlaygroundError(ValueError):
    """A user action the playground cannot turn into a Slack request (unknown channel, button, ...)."""


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    is_im: bool


# The alerts channel: the playground's test alarm, deploy and digest (aws_events.py) are posted here.
ALERTS_CHANNEL = "C0ALERTS01"
CHANNELS = (
    Channel(DM_CHANNEL, BOT_NAME, True),
    Channel(GENERAL_CHANNEL, "general", False),
    Channel(ALERTS_CHANNEL, "alerts", False),
)


class Playground:
    def __init__(
        self, fake: FakeSlack, lambda_handler: LambdaHandler, signing_secret: str, page_token: str | None = None
    ) -> None:
        self.fake = fake
        # What the page sends with every action (bolt_app/local/playground/server.py): made up per session.
        self.page_token = page_token or secrets.token_urlsafe(24)
        self.lambda_handler = lambda_handler
        self.signing_secret = signing_secret
        self.log: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._revision = 0
        self._lock = threading.Lock()
        # One request at a time, as one Lambda container serves them.
        self._invoke_lock = threading.Lock()
        # Lazy listeners' self-invocations, delivered once the request that started them is answered.
        self._queued_invocations: list[dict[str, Any]] = []
        # What each logged request sent (inspector entry id -> request), for the inspector's replay.
        self._sent: dict[int, Sent] = {}
        self._invocation_threads: list[threading.Thread] = []
        self._self_invoker: Any = None
        self._previous_deliver: Any = None
        self._audit_listeners: list[Any] | None = None
        fake.listeners.append(self._on_fake_slack)
        # Who is typing and clicking: you (an admin) unless switched (bolt_app/local/playground/people.py).
        self.me = HUMAN_ID
        # The bot's Bolt app (set by start_session), for what the page shows of its audit trail.
        self.app: Any = None

    def attach_self_invoker(self, self_invoker: Any) -> None:
        """Play Lambda's asynchronous invoke for the bot's lazy listeners (`LambdaSelfInvoker.deliver`):
        each self-invocation goes back into the Lambda handler, in this process, as its own request."""
        self._self_invoker, self._previous_deliver = self_invoker, self_invoker.deliver
        self_invoker.deliver = self._queue_invocation

    def close(self) -> None:
        if self._on_fake_slack in self.fake.listeners:
            self.fake.listeners.remove(self._on_fake_slack)
        if self._audit_listeners is not None and self.on_audit_record in self._audit_listeners:
            self._audit_listeners.remove(self.on_audit_record)
        if self._self_invoker is not None:
            self._self_invoker.deliver = self._previous_deliver
            self._self_invoker = None
        self.wait_for_invocations()

    def wait_for_invocations(self, timeout: float = 30.0) -> None:
        """Until every self-invocation started so far has run (tests, shutdown)."""
        for thread in list(self._invocation_threads):
            thread.join(timeout)

    # -- what the page shows ------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        with self._lock:
            log = [dict(entry) for entry in self.log]
            revision = self._revision
        return {
            # Any change to the conversations or the log changes this number.
            "version": self.fake.revision + revision,
            "me": self.me,
            "bot_name": BOT_NAME,
            "users": {HUMAN_ID: HUMAN_NAME, **people.names(), self.fake.bot_user_id: BOT_NAME},
            "bot_user_id": self.fake.bot_user_id,
            "channels": [
                {"id": c.id, "name": c.name, "is_im": c.is_im, "messages": self.fake.messages(c.id)} for c in CHANNELS
            ],
            "log": log,
        }

    # -- user actions -------------------------------------------------------------------

    def send(
        self, channel: str, text: str, files: list[dict[str, Any]] | None = None, thread_ts: str | None = None
    ) -> dict[str, Any]:
        """The person sends a message (or a slash command, when it starts with `/`) in `channel`,
        or a reply in the thread of its message `thread_ts`."""
        try:
            return self._send(channel, text, files, thread_ts)
        finally:
            self._start_queued_invocations()

    def _send(
        self, channel: str, text: str, files: list[dict[str, Any]] | None, thread_ts: str | None
    ) -> dict[str, Any]:
        target = _channel(channel)
        text = text.strip()
        if thread_ts is not None:
            parent = next((m for m in self.fake.messages(target.id) if m.get("ts") == thread_ts), None)
            if parent is None or parent.get("ephemeral") or parent.get("thread_ts", thread_ts) != thread_ts:
                raise PlaygroundError(f"no message {thread_ts} to reply to in {target.name}")
        if text.startswith("/") and not files:
            command, _, argument = text.partition(" ")
            return self._slash_command(target, command, argument.strip())
        if not text and not files:
            raise PlaygroundError("nothing to send")
        return self._message(target, text, [_file(f) for f in files or []], thread_ts)

    def switch_user(self, user_id: str) -> dict[str, Any]:
        """From now on, messages, commands and clicks are this person's (one of people.PEOPLE)."""
        if people.person(user_id) is None:
            raise PlaygroundError(f"unknown person {user_id!r}")
        with self._lock:
            self.me = user_id
            self._revision += 1
        return people.people_state(self)

    def click(self, channel: str, ts: str, action_id: str) -> dict[str, Any]:
        """The person clicks the button `action_id` of the message `ts`."""
        try:
            return self._click(channel, ts, action_id)
        finally:
            self._start_queued_invocations()

    def _click(self, channel: str, ts: str, action_id: str) -> dict[str, Any]:
        target = _channel(channel)
        message = next((m for m in self.fake.messages(target.id) if m.get("ts") == ts), None)
        if message is None:
            raise PlaygroundError(f"no message {ts} in {target.name}")
        try:
            action = sr.button_click(message.get("blocks") or [], action_id)
        except KeyError:
            raise PlaygroundError(f"no button {action_id} in that message") from None
        response_url = self.fake.new_response_url(channel=target.id, message_ts=ts, user=self.me)
        slack_message = {k: v for k, v in message.items() if k not in ("ephemeral", "ephemeral_to")}
        payload = sr.block_actions(
            action, response_url=response_url, message=slack_message, channel=target.id, user=self.me
        )
        payload["container"]["is_ephemeral"] = bool(message.get("ephemeral"))
        if target.is_im:
            payload["channel"] = {"id": target.id, "name": "directmessage"}
        return self._invoke(f"block_actions {action_id}", sr.interactive_body(payload))

    def _message(
        self, target: Channel, text: str, files: list[dict[str, Any]], thread_ts: str | None = None
    ) -> dict[str, Any]:
        # What Slack's composer sends: `text` escaped, URLs marked up as <url>; raw link elements in blocks.
        event = sr.dm_message(
            **sr.typed_message(text), user=self.me, channel=target.id, files=files or None, thread_ts=thread_ts
        )
        if thread_ts:
            parent = next(m for m in self.fake.messages(target.id) if m.get("ts") == thread_ts)
            event["parent_user_id"] = parent.get("user")
        if not target.is_im:
            event["channel_type"] = "channel"
        self.fake.add_message(target.id, {k: v for k, v in event.items() if k not in ("channel", "event_ts")})
        if not target.is_im:
            # The bot subscribes to DMs only (message.im): Slack would send it nothing for this.
            return {"sent": False, "reason": "the bot only receives direct messages and slash commands"}
        return self._invoke(
            "event message.im" + (" (file_share)" if files else ""), sr.json_body(sr.event_callback(event))
        )

    def _slash_command(self, target: Channel, command: str, argument: str) -> dict[str, Any]:
        if command not in manifest.slash_commands(manifest.load_manifest()):
            # What Slack does with a command the app's manifest does not declare: no request to the
            # app at all, only Slackbot's note to the person who typed it.
            note = (
                f"`{command}` is not a valid command. In Slack, all messages that start with the "
                '"/" character are interpreted as commands. Slash commands come from '
                "slack/manifest.json (features.slash_commands)."
            )
            self.fake.add_message(
                target.id, {"user": "USLACKBOT", "text": note, "ephemeral": True, "ephemeral_to": self.me}
            )
            return {"sent": False, "reason": f"{command} is not declared in slack/manifest.json"}
        response_url = self.fake.new_response_url(channel=target.id, user=self.me)
        fields = sr.slash_command(command, argument, response_url=response_url, user=self.me, channel=target.id)
        if target.is_im:
            fields["channel_name"] = "directmessage"
        entry = self._invoke(f"command {command}", sr.form_body(fields))
        answer = self._show_command_answer(target, f"{command} {argument}".strip(), entry)
        if answer is not None:
            # What a later response_url post with replace_original replaces (a lazy listener's result).
            self.fake.set_response_url_message(response_url, answer["ts"])
        return entry

    def _show_command_answer(self, target: Channel, invocation: str, entry: dict[str, Any]) -> dict[str, Any] | None:
        """What Slack does with a slash command's HTTP answer: a message, in channel or only to the invoker."""
        status, body = entry["status"], entry["response_body"]
        bot = {"user": self.fake.bot_user_id, "bot_id": self.fake.bot_id}
        only_you = {"ephemeral": True, "ephemeral_to": self.me}
        if status != 200:
            failure = f'`{invocation}` failed: the app answered HTTP {status} (Slack shows "dispatch_failed")'
            self.fake.add_message(target.id, {"user": "USLACKBOT", "text": failure, **only_you})
            return None
        if not body:
            return None  # an empty ack: nothing is shown
        answer = body if isinstance(body, dict) else {"text": str(body)}
        message = {
            **bot,
            "text": answer.get("text") or "",
            **({"blocks": answer["blocks"]} if answer.get("blocks") else {}),
        }
        if answer.get("response_type") == "in_channel":
            # Slack shows the invocation itself too when the answer is in channel.
            self.fake.add_message(target.id, {"user": self.me, "text": invocation})
            return self.fake.add_message(target.id, message)
        return self.fake.add_message(target.id, {**message, **only_you})

    # -- the request to the bot ---------------------------------------------------------

    def _invoke(
        self, kind: str, body_and_type: tuple[str, str], *, retry_num: int | None = None, **fields: Any
    ) -> dict[str, Any]:
        event = sr.signed_event(self.signing_secret, body_and_type, retry_num=retry_num)
        request = {"headers": event["headers"], "body": _parsed(*body_and_type)}
        # What the inspector offers to send again (see replay).
        replays = {AS_SENT: "Replay as sent"}
        if kind.startswith("event "):
            replays[AS_RETRY] = "Replay as Slack's retry"
        elif kind.startswith("block_actions "):
            replays[AS_RETRY] = "Click again"

        def raised(error: Exception) -> dict[str, Any]:
            # What API Gateway does when the function raises: a 500, the trace in the logs.
            logger.exception("the Lambda handler raised")
            return {"statusCode": 500, "body": f"handler raised {type(error).__name__}: {error}"}

        sent = Sent(kind, event, body_and_type)
        return self._run_logged(event, request, raised, sent=sent, kind=kind, replays=replays, **fields)

    def _run_logged(
        self,
        event: dict[str, Any],
        request: dict[str, Any],
        raised: Callable[[Exception], dict[str, Any]],
        *,
        sent: Sent,
        **fields: Any,
    ) -> dict[str, Any]:
        """One inspector entry for one call of the Lambda handler: logged before, its answer and time after."""
        entry: dict[str, Any] = {
            "id": next(self._ids),
            "type": "request",
            "replays": {},
            **fields,
            "time": time.time(),
            "status": None,
            "ms": None,
            "request": self._masked(request),
            "response_body": None,
        }
        with self._lock:
            self._sent[entry["id"]] = sent
            for old in [i for i in self._sent if i <= entry["id"] - MAX_LOG_ENTRIES]:
                del self._sent[old]
        self._append(entry)
        with self._invoke_lock:
            started = time.perf_counter()
            try:
                response = self.lambda_handler(event, sr.LambdaContext())
            except Exception as error:
                response = raised(error)
            elapsed = (time.perf_counter() - started) * 1000
        body = response.get("body") or ""
        if response.get("isBase64Encoded"):
            body = base64.b64decode(body).decode("utf-8", "replace")
        with self._lock:
            entry.update(
                status=response.get("statusCode"), ms=round(elapsed, 1), response_body=self._masked(_json_or_text(body))
            )
            self._revision += 1
        # The terminal's line for it (the inspector has the details).
        logger.info("request %s: HTTP %s in %.0f ms", entry["kind"], entry["status"], elapsed)
        return dict(entry)

    # -- sending a recorded request again ----------------------------------------------------

    def replay(self, entry_id: int, how: str) -> dict[str, Any]:
        """Send the request of inspector entry `entry_id` again: `as_sent` (byte for byte, its signature too:
        what a replay attack sends, or Lambda redelivering a self-invocation), or `retry` (signed anew: an
        event as Slack retries it, with X-Slack-Retry-Num; a click as a second click on the same message)."""
        try:
            return self._replay(entry_id, how)
        finally:
            self._start_queued_invocations()

    def _replay(self, entry_id: int, how: str) -> dict[str, Any]:
        with self._lock:
            sent = self._sent.get(entry_id)
            offered = next((e.get("replays") or {} for e in self.log if e.get("id") == entry_id), {})
        if sent is None or how not in offered:
            raise PlaygroundError(f"request {entry_id} cannot be replayed {how.replace('_', ' ')}")
        if how == AS_SENT:
            kind = f"replay of #{entry_id} as sent: {sent.kind}"
            request = {"headers": sent.event.get("headers"), "body": _parsed_form_or_json(sent.event)}
            return self._run_logged(sent.event, request, _raised_on_replay, sent=sent, kind=kind)
        assert sent.body_and_type is not None
        if sent.kind.startswith("event "):
            # Slack's retry: the same body, signed now, numbered (its first retry comes at once).
            return self._invoke(f"retry of #{entry_id}: {sent.kind}", sent.body_and_type, retry_num=1)
        # A second click on the same message: a new click (its own action_ts, trigger_id, response_url).
        payload = json.loads(dict(parse_qsl(sent.body_and_type[0]))["payload"])
        container = payload.get("container") or {}
        payload["response_url"] = self.fake.new_response_url(
            channel=str(container.get("channel_id")),
            message_ts=str(container.get("message_ts")),
            # The same clicker again (the user switcher may have moved on since).
            user=str((payload.get("user") or {}).get("id") or self.me),
        )
        payload["trigger_id"] = f"{payload.get('trigger_id', 'trigger')}.again"
        for action in payload.get("actions") or []:
            action["action_ts"] = f"{time.time():.6f}"
        return self._invoke(f"second click (#{entry_id}): {sent.kind}", sr.interactive_body(payload))

    # -- Lambda's asynchronous invoke, played in-process ------------------------------------

    def _queue_invocation(self, function_arn: str, event: dict[str, Any]) -> None:
        # Lambda queues the event and answers 202 at once; delivery comes after the ack is answered.
        with self._lock:
            self._queued_invocations.append(json.loads(json.dumps(event)))

    def _start_queued_invocations(self) -> None:
        with self._lock:
            queued, self._queued_invocations = self._queued_invocations, []
        for event in queued:
            thread = threading.Thread(target=self._deliver_invocation, args=(event,), daemon=True)
            self._invocation_threads = [t for t in self._invocation_threads if t.is_alive()] + [thread]
            thread.start()

    def _deliver_invocation(self, event: dict[str, Any]) -> None:
        function = (event.get("headers") or {}).get("x-slack-bolt-lazy-function-name", "?")
        request = {"headers": event.get("headers"), "body": _parsed_form_or_json(event)}

        def raised(error: Exception) -> dict[str, Any]:
            # What Lambda does when the function raises on an async event: retry it later, then the
            # on-failure destination. The playground shows it and stops there.
            return {"statusCode": 500, "body": f"raised {type(error).__name__}: Lambda would retry this event"}

        kind = f"lazy {function} (async self-invocation)"
        self._run_logged(
            event,
            request,
            raised,
            sent=Sent(kind, event, None),
            kind=kind,
            request_title="Lambda self-invocation (InvocationType=Event; authorised by IAM, not signed)",
            # Lambda delivers an asynchronous event again after a function error, or now and then twice.
            replays={AS_SENT: "Deliver again (as Lambda may)"},
        )

    def attach_audit_trail(self, audit: Any) -> None:
        """Show each record of the bot's local audit trail (bolt_app/chatops/audit.py) in the inspector."""
        listeners = getattr(audit, "listeners", None)
        if isinstance(listeners, list):
            listeners.append(self.on_audit_record)
            self._audit_listeners = listeners

    def on_audit_record(self, record: dict[str, Any]) -> None:
        """An audit record the bot wrote (bolt_app/chatops/audit.py's local trail), shown in the inspector."""
        self._append({"id": next(self._ids), "time": time.time(), "type": "audit", "record": self._masked(record)})

    def _on_fake_slack(self, item: ApiCall | ResponseUrlPost) -> None:
        if isinstance(item, ApiCall):
            answer = item.answer if isinstance(item.answer, dict) else {}
            logger.info("Web API %s: %s", item.method, "ok" if answer.get("ok") else answer.get("error", "failed"))
            record = {
                "type": "api",
                "method": item.method,
                "args": item.args,
                "token": item.token,
                "answer": item.answer,
            }
        else:
            how = [k for k in ("replace_original", "delete_original") if item.payload.get(k)]
            logger.info("response_url post: %s", ", ".join(how) or item.payload.get("response_type") or "ephemeral")
            record = {"type": "response_url", "payload": item.payload, "context": item.context}
        self._append({"id": next(self._ids), "time": time.time(), **self._masked(record)})

    def _append(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.log.append(entry)
            del self.log[:-MAX_LOG_ENTRIES]
            self._revision += 1

    def _masked(self, value: Any) -> Any:
        return mask(value, secrets=(self.signing_secret, self.fake.bot_token))


def _raised_on_replay(error: Exception) -> dict[str, Any]:
    logger.exception("the Lambda handler raised")
    return {"statusCode": 500, "body": f"handler raised {type(error).__name__}: {error}"}


def _channel(channel_id: str) -> Channel:
    for channel in CHANNELS:
        if channel.id == channel_id:
            return channel
    raise PlaygroundError(f"unknown channel {channel_id!r}")


def _file(spec: dict[str, Any]) -> dict[str, Any]:
    """Slack's file metadata for a file the person attached (only its name, type and size are sent)."""
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise PlaygroundError("a file needs a name")
    size = spec.get("size")
    mimetype = spec.get("type") or "application/octet-stream"
    return sr.file_metadata(name.strip(), str(mimetype), size if isinstance(size, int) and size >= 0 else 0)


def _parsed(body: str, content_type: str) -> Any:
    if content_type == "application/json":
        return json.loads(body)
    fields = dict(parse_qsl(body, keep_blank_values=True))
    if "payload" in fields:
        fields["payload"] = json.loads(fields["payload"])
    return fields


def _parsed_form_or_json(event: dict[str, Any]) -> Any:
    body = event.get("body") or ""
    content_type = str((event.get("headers") or {}).get("content-type", ""))
    try:
        return _parsed(body, "application/json" if content_type.startswith("application/json") else "form")
    except ValueError:
        return body


def _json_or_text(body: str) -> Any:
    try:
        return json.loads(body) if body else ""
    except ValueError:
        return body
