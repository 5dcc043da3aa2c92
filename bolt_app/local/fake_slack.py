"""A stand-in for Slack's Web API and response URLs, served over real HTTP.

The tests point the bot at it (SLACK_API_URL), and so does the local playground: it answers
the methods the bot calls as Slack does, records every call (method, arguments, token),
keeps the conversations those calls build (posts, updates, response URL replacements and
deletions, ephemeral messages), and can be told to misbehave (HTTP errors, rate limits,
slow answers) for reliability tests.
Dev-only: not part of the Lambda artifact.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MAX_TEXT_CHARS = 40_000
MAX_BLOCKS = 50


@dataclass(frozen=True)
class ApiCall:
    method: str
    args: dict[str, Any]
    token: str | None
    # What the fake answered (for the playground's inspector); not part of equality.
    answer: dict[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ResponseUrlPost:
    key: str
    payload: dict[str, Any]
    context: dict[str, Any]


@dataclass
class Fault:
    """One injected misbehaviour for the next call of a method (or response URL, method "response_url")."""

    status: int = 500
    body: dict[str, Any] | str = field(default_factory=lambda: {"ok": False, "error": "internal_error"})
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    # Serve the call normally after the delay (a slow but successful answer).
    then_succeed: bool = False


# Methods that take the app-level token (xapp-...) instead of the bot token.
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


class FakeSlack:
    def __init__(
        self,
        bot_token: str = "xoxb-fake-bot-token",
        *,
        app_token: str = "xapp-1-A0FAKEAPP1-fake-app-token",
        team_id: str = "T0FAKE0001",
        bot_user_id: str = "U0FAKEBOT1",
        bot_id: str = "B0FAKEBOT1",
        latency: float = 0.0,
    ) -> None:
        # The one token Slack accepts; any other (a rotated or revoked one) gets invalid_auth, as Slack answers.
        self.bot_token = bot_token
        self._first_bot_token = bot_token
        # The app-level token: the only one apps.connections.open accepts (Socket Mode).
        self.app_token = app_token
        # Where apps.connections.open sends a Socket Mode client; None: a URL on this server, which
        # speaks no WebSocket (the handshake fails, as it would against anything but Slack).
        self.socket_mode_url: str | None = None
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        # Simulated network round trip added to every answer (benchmarks).
        self.latency = latency
        self.base_url = ""  # set once served
        self.calls: list[ApiCall] = []
        # Every method or "response_url" as it arrives, before faults or latency: attempts, not results.
        self.arrivals: list[str] = []
        self.response_posts: list[ResponseUrlPost] = []
        self.listeners: list[Callable[[ApiCall | ResponseUrlPost], None]] = []
        # channel id -> messages in posting order, as Slack's conversations.history would hold them.
        self.conversations: dict[str, list[dict[str, Any]]] = defaultdict(list)
        # Bumped on every change to `conversations`, so a viewer can tell when to redraw.
        self.revision = 0
        # Slack user groups: handle -> member IDs, as usergroups.list answers them (the policy's "@handle").
        self.usergroups: dict[str, list[str]] = {}
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._response_urls: dict[str, dict[str, Any]] = {}
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        self.methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "apps.connections.open": self._apps_connections_open,
            "usergroups.list": self._usergroups_list,
        }

    # -- test controls ---------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    def new_response_url(self, **context: Any) -> str:
        """A response_url for a slash command or block action; `context` is kept with each post to it."""
        key = f"R{next(self._ts):08d}"
        with self._lock:
            self._response_urls[key] = context
        return f"{self.base_url}/response/{key}"

    def expire_response_url(self, url: str) -> None:
        """From now on, posts to `url` get what Slack answers after its 30 minutes: 404 `expired_url`."""
        with self._lock:
            self._response_urls.pop(url.rsplit("/", 1)[-1], None)

    def set_response_url_message(self, response_url: str, message_ts: str) -> None:
        """The message a slash command's response_url stands for once its answer is posted (Slack
        replaces that answer on `replace_original`, as it replaces the clicked message for actions)."""
        key = response_url.rsplit("/", 1)[-1]
        with self._lock:
            if key in self._response_urls:
                self._response_urls[key] = {**self._response_urls[key], "message_ts": message_ts}

    def inject(self, method: str, *faults: Fault) -> None:
        with self._lock:
            self._faults[method].extend(faults)

    def calls_to(self, method: str) -> list[ApiCall]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def rotate_token(self, new_token: str) -> None:
        """As when the bot token is regenerated: calls with the old one answer invalid_auth from now on."""
        self.bot_token = new_token

    def reset(self) -> None:
        with self._lock:
            self.bot_token = self._first_bot_token
            self.calls.clear()
            self.arrivals.clear()
            self.response_posts.clear()
            self._faults.clear()
            self.conversations.clear()
            self.usergroups.clear()
            self.revision += 1

    # -- the conversation store -------------------------------------------------------

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """A copy of the conversation's messages, oldest first (ephemeral ones included, flagged)."""
        with self._lock:
            return [dict(m) for m in self.conversations.get(channel, [])]

    def add_message(self, channel: str, message: dict[str, Any]) -> dict[str, Any]:
        """Put a message into a conversation (a person's message, or a command's in-channel answer).

        A `ts` is assigned when the message has none; the stored message is returned.
        """
        stored = {"type": "message", **message}
        stored.setdefault("ts", self._next_ts())
        with self._lock:
            self.conversations[channel].append(stored)
            self.revision += 1
        return dict(stored)

    def _bot_message(self, args: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "ts": ts,
            "text": args.get("text") or "",
        }
        if args.get("blocks"):
            message["blocks"] = args["blocks"]
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        return message

    def _replace(self, channel: str, ts: str, changes: dict[str, Any] | None) -> bool:
        """Edit (changes) or delete (None) a stored message; False when there is no such message."""
        with self._lock:
            messages = self.conversations.get(channel, [])
            for index, message in enumerate(messages):
                if message.get("ts") == ts:
                    if changes is None:
                        del messages[index]
                    else:
                        edited = {k: v for k, v in message.items() if k not in ("text", "blocks")}
                        messages[index] = {**edited, **changes}
                    self.revision += 1
                    return True
        return False

    # -- the HTTP side ----------------------------------------------------------------

    def asgi_app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["GET", "POST"]),
                Route("/response/{key}", self._response_url, methods=["POST"]),
            ]
        )

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        self._arrived(method)
        fault = self._next_fault(method)
        if fault is not None:
            await asyncio.sleep(fault.delay)
            if not fault.then_succeed:
                return _fault_response(fault)
        if self.latency:
            await asyncio.sleep(self.latency)
        args, error = await _read_args(request)
        token = _bearer_token(request) or args.pop("token", None)
        answer = self._answer(method, args, token, error)
        # Recorded after answering, so that listeners see the conversations already changed.
        self._record(ApiCall(method=method, args=args, token=token, answer=answer))
        return JSONResponse(answer)

    def _answer(self, method: str, args: dict[str, Any], token: Any, error: str | None) -> dict[str, Any]:
        # Checked in Slack's order: unknown method, then the body, then authentication.
        implementation = self.methods.get(method)
        if implementation is None:
            return {"ok": False, "error": "unknown_method"}
        if error:
            return {"ok": False, "error": error}
        if not token:
            return {"ok": False, "error": "not_authed"}
        expected = self.app_token if method in APP_TOKEN_METHODS else self.bot_token
        if token != expected:
            # Slack tells a known token of the wrong kind (a bot token for Socket Mode) from a wrong one.
            wrong_kind = token in (self.bot_token, self.app_token)
            return {"ok": False, "error": "not_allowed_token_type" if wrong_kind else "invalid_auth"}
        return implementation(args)

    async def _response_url(self, request: Request) -> Response:
        key = request.path_params["key"]
        self._arrived("response_url")
        fault = self._next_fault("response_url")
        if fault is not None:
            await asyncio.sleep(fault.delay)
            if not fault.then_succeed:
                return _fault_response(fault)
        if self.latency:
            await asyncio.sleep(self.latency)
        with self._lock:
            context = self._response_urls.get(key)
        if context is None:
            return Response("expired_url", status_code=404)
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return Response("invalid_payload", status_code=400)
        if not isinstance(payload, dict):
            return Response("invalid_payload", status_code=400)
        error = _message_error(payload) if not payload.get("delete_original") else None
        if error:
            return Response(error, status_code=400)
        if not self._apply_response(payload, context):
            return Response("message_not_found", status_code=404)
        self._record(ResponseUrlPost(key=key, payload=payload, context=context))
        return Response("ok")

    def _arrived(self, method: str) -> None:
        with self._lock:
            self.arrivals.append(method)

    def _apply_response(self, payload: dict[str, Any], context: dict[str, Any]) -> bool:
        """Do to the conversation what Slack does with a response URL post.

        The context names the conversation (`channel`), the message the response URL belongs to
        (`message_ts`, block actions only) and who acted (`user`); without a channel there is no
        conversation to change (bare test URLs), and the post is only recorded.
        """
        channel, original_ts = context.get("channel"), context.get("message_ts")
        if not isinstance(channel, str):
            return True
        changes = {k: payload[k] for k in ("text", "blocks") if k in payload}
        if payload.get("delete_original"):
            return isinstance(original_ts, str) and self._replace(channel, original_ts, None)
        if payload.get("replace_original"):
            return isinstance(original_ts, str) and self._replace(channel, original_ts, changes)
        message = self._bot_message(changes, self._next_ts())
        if payload.get("response_type") != "in_channel":
            # Slack's default for response URLs: only the person who acted sees it.
            message.update(ephemeral=True, ephemeral_to=context.get("user"))
        if payload.get("thread_ts"):
            message["thread_ts"] = payload["thread_ts"]
        self.add_message(channel, message)
        return True

    def _next_fault(self, method: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(method)
            return queue.popleft() if queue else None

    def _record(self, item: ApiCall | ResponseUrlPost) -> None:
        with self._lock:
            (self.calls if isinstance(item, ApiCall) else self.response_posts).append(item)
        for listener in list(self.listeners):
            listener(item)

    # -- Web API methods ------------------------------------------------------------------

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake-workspace.slack.com/",
            "team": "Fake Workspace",
            "user": "bot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _usergroups_list(self, args: dict[str, Any]) -> dict[str, Any]:
        # As Slack answers: `users` only with include_users (sent as the string "true"/"1" in a form body).
        include_users = str(args.get("include_users", "")).lower() in ("true", "1")
        groups = []
        for number, (handle, users) in enumerate(sorted(self.usergroups.items()), start=1):
            group: dict[str, Any] = {"id": f"S0FAKEGRP{number}", "team_id": self.team_id, "handle": handle}
            group["name"] = handle
            group["date_delete"] = 0
            group["user_count"] = len(users)
            if include_users:
                group["users"] = list(users)
            groups.append(group)
        return {"ok": True, "usergroups": groups}

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        ticket = f"{next(self._ts):08d}"
        default = self.base_url.replace("http", "ws", 1) + f"/socket-mode/link/?ticket={ticket}"
        return {"ok": True, "url": self.socket_mode_url or default}

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if not channel or not isinstance(channel, str):
            return {"ok": False, "error": "channel_not_found"}
        error = _message_error(args)
        if error:
            return {"ok": False, "error": error}
        message = self._bot_message(args, self._next_ts())
        self.add_message(channel, message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel"), args.get("ts")
        if not channel or not isinstance(channel, str):
            return {"ok": False, "error": "channel_not_found"}
        if not ts or not isinstance(ts, str):
            return {"ok": False, "error": "message_not_found"}
        error = _message_error(args)
        if error:
            return {"ok": False, "error": error}
        changes = {k: args[k] for k in ("text", "blocks") if k in args}
        if not self._replace(channel, ts, changes):
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": channel, "ts": ts, "text": args.get("text") or ""}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, user = args.get("channel"), args.get("user")
        if not channel or not isinstance(channel, str):
            return {"ok": False, "error": "channel_not_found"}
        if not user or not isinstance(user, str):
            return {"ok": False, "error": "user_not_in_channel"}
        error = _message_error(args)
        if error:
            return {"ok": False, "error": error}
        message = self._bot_message(args, self._next_ts())
        message.update(ephemeral=True, ephemeral_to=user)
        self.add_message(channel, message)
        return {"ok": True, "message_ts": message["ts"]}

    # -- serving ----------------------------------------------------------------------

    @contextmanager
    def serve(self, host: str = "127.0.0.1") -> Iterator[FakeSlack]:
        """Serve on a free loopback port in a background thread for the duration of the block."""
        with serve_asgi_in_thread(self.asgi_app(), host) as base_url:
            self.base_url = base_url
            yield self


@contextmanager
def serve_asgi_in_thread(asgi_app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run an ASGI app under uvicorn on a background thread; yields its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server = uvicorn.Server(uvicorn.Config(asgi_app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Slack server did not start")
            time.sleep(0.01)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        if thread.is_alive():
            thread.join(timeout=10)
        sock.close()


async def _read_args(request: Request) -> tuple[dict[str, Any], str | None]:
    """Arguments as Slack reads them: JSON body, form body, and query string."""
    args: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if not body:
        return args, None
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            parsed = json.loads(body)
        except ValueError:
            return args, "invalid_json"
        if not isinstance(parsed, dict):
            return args, "invalid_json"
        args.update(parsed)
    else:
        try:
            args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
        except (ValueError, UnicodeDecodeError):
            return args, "invalid_form_data"
        for key in ("blocks", "attachments"):
            if isinstance(args.get(key), str):
                try:
                    args[key] = json.loads(args[key])
                except ValueError:
                    return args, f"invalid_{key}"
    return args, None


def _message_error(args: dict[str, Any]) -> str | None:
    text, blocks = args.get("text"), args.get("blocks")
    if not text and not blocks and not args.get("attachments"):
        return "no_text"
    if text is not None and not isinstance(text, str):
        return "invalid_arguments"
    if isinstance(text, str) and len(text) > MAX_TEXT_CHARS:
        return "msg_too_long"
    if blocks is not None and not _valid_blocks(blocks):
        return "invalid_blocks"
    return None


def _valid_blocks(blocks: Any) -> bool:
    # Slack's check goes deeper; this is what keeps a viewer from drawing garbage.
    return (
        isinstance(blocks, list)
        and len(blocks) <= MAX_BLOCKS
        and all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks)
    )


def _bearer_token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[len("Bearer ") :] if auth.startswith("Bearer ") else None


def _fault_response(fault: Fault) -> Response:
    if isinstance(fault.body, str):
        return Response(fault.body, status_code=fault.status, headers=fault.headers)
    return JSONResponse(fault.body, status_code=fault.status, headers=fault.headers)
