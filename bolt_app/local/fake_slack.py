"""A stand-in for Slack's Web API and response URLs, served over real HTTP.

The tests point the bot at it (SLACK_API_URL), and so can the local playground: it answers
the methods the bot calls as Slack does, records every call (method, arguments, token),
and can be told to misbehave (HTTP errors, rate limits, slow answers) for reliability tests.
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


class FakeSlack:
    def __init__(
        self,
        bot_token: str = "xoxb-fake-bot-token",
        *,
        team_id: str = "T0FAKE0001",
        bot_user_id: str = "U0FAKEBOT1",
        bot_id: str = "B0FAKEBOT1",
        latency: float = 0.0,
    ) -> None:
        self.bot_token = bot_token
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
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._response_urls: dict[str, dict[str, Any]] = {}
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        self.methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
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

    def inject(self, method: str, *faults: Fault) -> None:
        with self._lock:
            self._faults[method].extend(faults)

    def calls_to(self, method: str) -> list[ApiCall]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.arrivals.clear()
            self.response_posts.clear()
            self._faults.clear()

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
        call = ApiCall(method=method, args=args, token=token)
        self._record(call)
        if error:
            return JSONResponse({"ok": False, "error": error})
        if not token:
            return JSONResponse({"ok": False, "error": "not_authed"})
        if token != self.bot_token:
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        implementation = self.methods.get(method)
        if implementation is None:
            return JSONResponse({"ok": False, "error": "unknown_method"})
        return JSONResponse(implementation(args))

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
        self._record(ResponseUrlPost(key=key, payload=payload, context=context))
        return Response("ok")

    def _arrived(self, method: str) -> None:
        with self._lock:
            self.arrivals.append(method)

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

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        error = _message_error(args)
        if error:
            return {"ok": False, "error": error}
        ts = self._next_ts()
        message = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "ts": ts,
            "text": args.get("text", ""),
        }
        if args.get("blocks"):
            message["blocks"] = args["blocks"]
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        return {"ok": True, "channel": args["channel"], "ts": ts, "message": message}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("ts"):
            return {"ok": False, "error": "message_not_found"}
        error = _message_error(args)
        if error:
            return {"ok": False, "error": error}
        return {"ok": True, "channel": args["channel"], "ts": args["ts"], "text": args.get("text", "")}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        error = _message_error(args)
        if error:
            return {"ok": False, "error": error}
        return {"ok": True, "message_ts": self._next_ts()}

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
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(asgi_app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fake Slack server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
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
    if isinstance(text, str) and len(text) > MAX_TEXT_CHARS:
        return "msg_too_long"
    if blocks is not None and (not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS):
        return "invalid_blocks"
    return None


def _bearer_token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[len("Bearer ") :] if auth.startswith("Bearer ") else None


def _fault_response(fault: Fault) -> Response:
    if isinstance(fault.body, str):
        return Response(fault.body, status_code=fault.status, headers=fault.headers)
    return JSONResponse(fault.body, status_code=fault.status, headers=fault.headers)
