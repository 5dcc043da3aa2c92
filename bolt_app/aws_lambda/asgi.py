"""The bot as an ASGI app, behind the same gateway as the Lambda handler.

Served by Mangum as `handler.asgi_handler` for Application Load Balancer targets (and API
Gateway events), and by uvicorn for the local HTTP mode. Bolt gets the request guard's parse of
the body (as on the Lambda path); Bolt's ASGI adapter answers only the lifespan protocol.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from slack_bolt import App
from slack_bolt.adapter.asgi import SlackRequestHandler as BoltAsgiAdapter

from bolt_app.aws_lambda.lazy_listeners import checked_bolt_request, is_self_invocation
from bolt_app.request_path.gateway import NOT_CONFIGURED, SlackGateway, bolt_response, lambda_response
from bolt_app.request_path.request_guard import HttpResponse, SlackRequest

EVENTS_PATH = "/slack/events"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class GuardedAsgiApp:
    """ASGI app: read the body, run the gateway, and let Bolt answer."""

    def __init__(self, app: App, gateway: SlackGateway) -> None:
        self.app = app
        self.bolt = BoltAsgiAdapter(app, path=EVENTS_PATH)  # lifespan only
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.bolt(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        raw_body = await _read_body(receive)
        try:
            body = raw_body.decode("utf-8")
        except UnicodeDecodeError:
            await _send(send, HttpResponse(400, "The body is not UTF-8."))
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        # Routing is the load balancer's job (as it is API Gateway's for the Lambda adapter):
        # every path it sends here is the Slack endpoint.
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        aws_context = scope.get("aws.context")

        def dispatch(request: SlackRequest) -> HttpResponse:
            bolt_request = checked_bolt_request(request.body, body, headers, query)
            if aws_context is not None:
                bolt_request.context["aws_lambda_function_name"] = getattr(aws_context, "function_name", None)
                bolt_request.context["aws_lambda_invoked_function_arn"] = getattr(
                    aws_context, "invoked_function_arn", None
                )
            answer = self.app.dispatch(bolt_request)
            return bolt_response(answer.status, answer.body, answer.headers)

        response = await asyncio.to_thread(
            self.gateway.handle, scope.get("method"), headers, body, dispatch, aws_context
        )
        await _send(send, response)


async def _read_body(receive: Receive) -> bytes:
    chunks = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.extend(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return bytes(chunks)


async def _send(send: Send, response: HttpResponse) -> None:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.with_headers().items()]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body.encode("utf-8")})


def lambda_asgi_handler(bot: Any, logger: Any, metrics: Any) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """`handler.asgi_handler`: Mangum over the guarded ASGI app of the container's one Bolt app."""
    from mangum import Mangum

    mangum: Mangum | None = None

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    def asgi_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        nonlocal mangum
        if is_self_invocation(event):
            return bot.run_self_invocation(event, context)
        if not bot.load():
            return lambda_response(NOT_CONFIGURED)
        if mangum is None:
            mangum = Mangum(GuardedAsgiApp(bot.lambda_adapter.app, bot.gateway), lifespan="off")
        try:
            return mangum(event, context)
        except Exception:
            # Mangum raises on event shapes it does not know; never let that reach the runtime.
            logger.exception("unsupported event")
            return lambda_response(HttpResponse(400, "Unsupported event."))

    return asgi_handler
