"""The playground's HTTP side: the page, its JSON endpoints, and FakeSlack's Web API, on one port.

Only the playground's own page may drive it. Any process on the machine, and any web page open in the
browser, can reach a port on 127.0.0.1: a page by a cross-site form post or `fetch` (its Origin is its own),
or by DNS rebinding (its Host is the attacker's name, resolved to 127.0.0.1). So every request must name a
loopback host (Host), a browser's request must come from the playground's own origin (Origin), and every
state-changing request must carry the session's token, which only the page served here knows
(`x-playground-token`: a custom header also makes a cross-origin browser request ask first, and nothing
here answers that preflight).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from bolt_app.local.fake_aws import stand_in_stack_app
from bolt_app.local.playground import people
from bolt_app.local.playground.session import Playground, PlaygroundError

STATIC = Path(__file__).parent / "static"
# Where FakeSlack's Web API and response URLs live on the playground's own port.
SLACK_MOUNT = "/slack"
# The stand-in CloudFormation `/stack-status` reads in the playground (bolt_app/local/fake_aws.py).
STAND_IN_AWS_MOUNT = "/aws/cloudformation"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
TOKEN_HEADER = "x-playground-token"
# The page's own endpoints that act (send, click, replay): the token is required there.
ACTIONS_PREFIX = "/playground/"


def create_asgi_app(
    playground: Playground, *, mount_fake_slack: bool = True, listen_host: str | None = None
) -> ASGIApp:
    """The page at /, its API under /playground/, and (when mounted) the fake Web API under /slack/.

    `listen_host`: the address it listens on; a specific one (`--host 192.168.1.5`) is accepted as a Host
    besides the loopback names, a wildcard (`0.0.0.0`) adds nothing."""

    async def index(request: Request) -> Response:
        # The session's token goes into the page, which sends it back with every action.
        html = (STATIC / "index.html").read_text().replace("{{PLAYGROUND_TOKEN}}", playground.page_token)
        return HTMLResponse(html, headers={"cache-control": "no-store"})

    async def favicon(request: Request) -> Response:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    async def state(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(playground.state), headers={"cache-control": "no-store"})

    async def send(request: Request) -> Response:
        body = await _json_object(request)
        files = body.get("files") or []
        thread_ts = body.get("thread_ts")
        if (
            not isinstance(body.get("text", ""), str)
            or not isinstance(files, list)
            or not isinstance(thread_ts, str | None)
        ):
            raise PlaygroundError("expected {channel, text, files: [{name, type, size}], thread_ts?}")
        return JSONResponse(
            await run_in_threadpool(playground.send, str(body.get("channel")), body.get("text", ""), files, thread_ts)
        )

    async def click(request: Request) -> Response:
        body = await _json_object(request)
        args = (str(body.get("channel")), str(body.get("ts")), str(body.get("action_id")))
        return JSONResponse(await run_in_threadpool(playground.click, *args))

    async def who(request: Request) -> Response:
        return JSONResponse(
            await run_in_threadpool(people.people_state, playground), headers={"cache-control": "no-store"}
        )

    async def switch_user(request: Request) -> Response:
        body = await _json_object(request)
        return JSONResponse(await run_in_threadpool(playground.switch_user, str(body.get("user"))))

    async def replay(request: Request) -> Response:
        body = await _json_object(request)
        entry_id, how = body.get("id"), body.get("how")
        if not isinstance(entry_id, int) or not isinstance(how, str):
            raise PlaygroundError("expected {id: <inspector entry>, how: as_sent | retry}")
        return JSONResponse(await run_in_threadpool(playground.replay, entry_id, how))

    async def aws_event(request: Request) -> Response:
        # The alerts channel's test events (aws_events.py): a test alarm, its recovery, a deploy, the digest.
        from bolt_app.local.playground import aws_events

        kind = str((await _json_object(request)).get("kind"))
        if kind not in aws_events.KINDS:
            raise PlaygroundError(f"expected {{kind}}, one of {', '.join(aws_events.KINDS)}")
        return JSONResponse(await run_in_threadpool(aws_events.fire, playground, kind))

    async def bad_request(request: Request, error: Exception) -> Response:
        return JSONResponse({"error": str(error)}, status_code=400)

    routes: list[Any] = [
        Route("/", index),
        Route("/favicon.ico", favicon),
        Route("/playground/state", state),
        Route("/playground/messages", send, methods=["POST"]),
        Route("/playground/actions", click, methods=["POST"]),
        # The user switcher and the audit panel (people.py, static/people.js).
        Route("/playground/people", who),
        Route("/playground/people", switch_user, methods=["POST"]),
        Route("/playground/replay", replay, methods=["POST"]),
        Route("/playground/aws-events", aws_event, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    if mount_fake_slack:
        routes.append(Mount(SLACK_MOUNT, app=playground.fake.asgi_app()))
        # The stand-in EC2 fleet /instances lists, starts and stops in the playground.
        routes.append(Mount(people.STAND_IN_EC2_MOUNT, app=people.fleet().asgi_app()))
        stack = os.environ.get("STACK_NAME", "")
        outputs = {"SlackRequestUrl": "(the playground: no API Gateway)", "Note": "a stand-in stack, not AWS"}
        routes.append(Mount(STAND_IN_AWS_MOUNT, app=stand_in_stack_app(stack, outputs)))
    app = Starlette(routes=routes, exception_handlers={PlaygroundError: bad_request})
    hosts = LOOPBACK_HOSTS | ({listen_host} if listen_host and listen_host not in ("0.0.0.0", "::") else set())
    return OnlyThisPage(app, playground.page_token, frozenset(hosts))


class OnlyThisPage:
    """Refuses (403) what the playground's own page could not have sent: see the module's docstring."""

    def __init__(self, app: ASGIApp, token: str, hosts: frozenset[str] = LOOPBACK_HOSTS) -> None:
        self.app = app
        self.token = token
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self.refusal(scope)
            if refusal is not None:
                await JSONResponse({"error": refusal}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> str | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host = headers.get("host", "")
        if _hostname(host) not in self.hosts:
            return f"the playground answers only on a loopback name (127.0.0.1, localhost), not {host!r}"
        origin = headers.get("origin")
        if origin is not None and origin != f"http://{host}":
            return f"requests from {origin!r} are refused: only the playground's own page may send them"
        acts = scope.get("method") not in ("GET", "HEAD") and scope.get("path", "").startswith(ACTIONS_PREFIX)
        if acts and not secrets.compare_digest(headers.get(TOKEN_HEADER, "").encode(), self.token.encode()):
            return f"missing or wrong {TOKEN_HEADER}: only the playground's own page may act"
        return None


def _hostname(host: str) -> str | None:
    try:
        return urlsplit(f"//{host}").hostname
    except ValueError:
        return None


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise PlaygroundError("expected a JSON body") from None
    if not isinstance(body, dict):
        raise PlaygroundError("expected a JSON object")
    return body
