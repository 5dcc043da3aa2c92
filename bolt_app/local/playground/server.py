"""The playground's HTTP side: the page, its JSON endpoints, and FakeSlack's Web API, on one port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bolt_app.local.playground import people
from bolt_app.local.playground.session import Playground, PlaygroundError

STATIC = Path(__file__).parent / "static"
# Where FakeSlack's Web API and response URLs live on the playground's own port.
SLACK_MOUNT = "/slack"


def create_asgi_app(playground: Playground, *, mount_fake_slack: bool = True) -> Starlette:
    """The page at /, its API under /playground/, and (when mounted) the fake Web API under /slack/."""

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})

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

    async def bad_request(request: Request, error: Exception) -> Response:
        return JSONResponse({"error": str(error)}, status_code=400)

    routes: list[Any] = [
        Route("/", index),
        Route("/playground/state", state),
        Route("/playground/messages", send, methods=["POST"]),
        Route("/playground/actions", click, methods=["POST"]),
        # The user switcher and the audit panel (people.py, static/people.js).
        Route("/playground/people", who),
        Route("/playground/people", switch_user, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    if mount_fake_slack:
        routes.append(Mount(SLACK_MOUNT, app=playground.fake.asgi_app()))
        # The stand-in EC2 fleet /instances lists, starts and stops in the playground.
        routes.append(Mount(people.STAND_IN_EC2_MOUNT, app=people.fleet().asgi_app()))
    return Starlette(routes=routes, exception_handlers={PlaygroundError: bad_request})


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise PlaygroundError("expected a JSON body") from None
    if not isinstance(body, dict):
        raise PlaygroundError("expected a JSON object")
    return body
