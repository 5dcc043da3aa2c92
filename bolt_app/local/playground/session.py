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
BOT_NAME = "chatops-bot"
DM_CHANNEL = "D0PLAYDM01"
GENERAL_CHANNEL = "C0GENERAL1"
# Kept bounded: the page fetches it whole on every change.
MAX_LOG_ENTRIES = 300

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


class PlaygroundError(ValueError):
    """A user action the playground cannot turn into a Slack request (unknown channel, button, ...)."""


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    is_im: bool


CHANNELS = (Channel(DM_CHANNEL, BOT_NAME, True), Channel(GENERAL_CHANNEL, "general", False))


class Playground:
    def __init__(self, fake: FakeSlack, lambda_handler: LambdaHandler, signing_secret: str) -> None:
        self.fake = fake
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

    def _invoke(self, kind: str, body_and_type: tuple[str, str]) -> dict[str, Any]:
        event = sr.signed_event(self.signing_secret, body_and_type)
        request = {"headers": event["headers"], "body": _parsed(*body_and_type)}

        def raised(error: Exception) -> dict[str, Any]:
            # What API Gateway does when the function raises: a 500, the trace in the logs.
            logger.exception("the Lambda handler raised")
            return {"statusCode": 500, "body": f"handler raised {type(error).__name__}: {error}"}

        return self._run_logged(event, request, raised, kind=kind)

    def _run_logged(
        self,
        event: dict[str, Any],
        request: dict[str, Any],
        raised: Callable[[Exception], dict[str, Any]],
        **fields: Any,
    ) -> dict[str, Any]:
        """One inspector entry for one call of the Lambda handler: logged before, its answer and time after."""
        entry: dict[str, Any] = {
            "id": next(self._ids),
            "type": "request",
            **fields,
            "time": time.time(),
            "status": None,
            "ms": None,
            "request": self._masked(request),
            "response_body": None,
        }
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
        return dict(entry)

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

        self._run_logged(
            event,
            request,
            raised,
            kind=f"lazy {function} (async self-invocation)",
            request_title="Lambda self-invocation (InvocationType=Event; authorised by IAM, not signed)",
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
            record = {
                "type": "api",
                "method": item.method,
                "args": item.args,
                "token": item.token,
                "answer": item.answer,
            }
        else:
            record = {"type": "response_url", "payload": item.payload, "context": item.context}
        self._append({"id": next(self._ids), "time": time.time(), **self._masked(record)})

    def _append(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.log.append(entry)
            del self.log[:-MAX_LOG_ENTRIES]
            self._revision += 1

    def _masked(self, value: Any) -> Any:
        return mask(value, secrets=(self.signing_secret, self.fake.bot_token))


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
