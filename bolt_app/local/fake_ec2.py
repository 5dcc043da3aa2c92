"""A stand-in EC2 fleet over real HTTP on 127.0.0.1, for local runs (playground, local server; dev-only).

`/instances` reaches it through `AWS_ENDPOINT_URL_EC2`, with botocore unchanged: it answers the three
calls the bot makes (DescribeInstances, StartInstances, StopInstances) in EC2's query protocol (XML,
`<item>` lists, errors as `<Response><Errors>…`). It also plays the IAM condition in template.yaml:
start/stop of an instance not tagged `ChatOps=enabled` answers `UnauthorizedOperation`, as AWS would.
States move on by themselves (stopping → stopped, pending → running) after `settle_seconds`.

Tests use moto's EC2; this fake exists because moto is a test dependency and the playground must
run from requirements-local.txt alone.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bolt_app.local.fake_slack import serve_asgi_in_thread

STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}
# What each transitional state settles into.
SETTLES_TO = {"pending": "running", "stopping": "stopped"}
XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"


@dataclass
class FakeInstance:
    instance_id: str
    instance_type: str
    state: str
    tags: dict[str, str] = field(default_factory=dict)
    changed_at: float = 0.0


def stand_in_fleet() -> list[FakeInstance]:
    """The playground's fleet: one plain instance, one needing a second person, one stopped, one untagged."""
    return [
        FakeInstance("i-0a1b2c3d4e5f60001", "t3.micro", "running", {"Name": "web-1", "ChatOps": "enabled"}),
        FakeInstance(
            "i-0a1b2c3d4e5f60002",
            "r6g.large",
            "running",
            {"Name": "db-1", "ChatOps": "enabled", "ChatOpsApproval": "required"},
        ),
        FakeInstance("i-0a1b2c3d4e5f60003", "c7g.xlarge", "stopped", {"Name": "batch-1", "ChatOps": "enabled"}),
        # Never listed, never acted on: it lacks the ChatOps=enabled tag.
        FakeInstance("i-0a1b2c3d4e5f60004", "m7g.large", "running", {"Name": "payroll"}),
    ]


class FakeEC2:
    def __init__(self, instances: list[FakeInstance] | None = None, settle_seconds: float = 5.0) -> None:
        self.instances = {i.instance_id: i for i in (stand_in_fleet() if instances is None else instances)}
        self.settle_seconds = settle_seconds
        self.base_url = ""
        self.calls: list[str] = []
        # Actions answered UnauthorizedOperation whatever the tags (a role without the grant).
        self.unauthorized: set[str] = set()
        self._lock = threading.Lock()

    def asgi_app(self) -> Starlette:
        return Starlette(routes=[Route("/", self._call, methods=["POST"])])

    @contextmanager
    def serve(self) -> Iterator[FakeEC2]:
        with serve_asgi_in_thread(self.asgi_app()) as base_url:
            self.base_url = base_url
            yield self

    async def _call(self, request: Request) -> Response:
        return self.answer(await request.body())

    @contextmanager
    def serve_plain(self) -> Iterator[FakeEC2]:
        """Served by the standard library's threaded HTTP server (no event loop of its own to leave behind
        when a local run is stopped with Ctrl+C)."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                answer = fake.answer(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()

    def answer(self, body: bytes) -> Response:
        params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        action = params.get("Action", "")
        with self._lock:
            self.calls.append(action)
            self._settle()
            if action == "DescribeInstances":
                try:
                    return _xml(action, self._describe(params))
                except _Answer as answer:
                    return answer.response
            if action in ("StartInstances", "StopInstances"):
                return self._change(action, params)
        return _error(400, "InvalidAction", f"The action {action} is not valid for this web service.")

    def _settle(self) -> None:
        now = time.monotonic()
        for instance in self.instances.values():
            if instance.state in SETTLES_TO and now - instance.changed_at >= self.settle_seconds:
                instance.state = SETTLES_TO[instance.state]

    def _describe(self, params: dict[str, str]) -> str:
        wanted_ids = _numbered(params, "InstanceId")
        filters: list[tuple[str, list[str]]] = []
        for n in range(1, 20):
            name = params.get(f"Filter.{n}.Name")
            if name is None:
                break
            filters.append((name, _numbered(params, f"Filter.{n}.Value")))
        found = []
        for instance in self.instances.values():
            if wanted_ids and instance.instance_id not in wanted_ids:
                continue
            if all(_matches(instance, name, values) for name, values in filters):
                found.append(instance)
        missing = [i for i in wanted_ids if i not in self.instances]
        if missing:
            raise _Answer(_error(400, "InvalidInstanceID.NotFound", f"The instance ID '{missing[0]}' does not exist"))
        items = "".join(
            f"<item><reservationId>r-{i.instance_id[2:]}</reservationId><ownerId>123456789012</ownerId>"
            f"<instancesSet><item>{_instance_xml(i)}</item></instancesSet></item>"
            for i in found
        )
        return f"<reservationSet>{items}</reservationSet>"

    def _change(self, action: str, params: dict[str, str]) -> Response:
        ids = _numbered(params, "InstanceId")
        changes = []
        for instance_id in ids:
            instance = self.instances.get(instance_id)
            if instance is None:
                return _error(400, "InvalidInstanceID.NotFound", f"The instance ID '{instance_id}' does not exist")
            if instance.tags.get("ChatOps") != "enabled" or action in self.unauthorized:
                # template.yaml's condition on aws:ResourceTag/ChatOps, as IAM would enforce it.
                return _error(403, "UnauthorizedOperation", "You are not authorized to perform this operation.")
            previous = instance.state
            if action == "StopInstances":
                if previous in ("pending", "shutting-down", "terminated"):
                    return _error(
                        400,
                        "IncorrectInstanceState",
                        f"The instance '{instance_id}' is not in a state from which it can be stopped.",
                    )
                if previous == "running":
                    instance.state, instance.changed_at = "stopping", time.monotonic()
            else:
                if previous in ("stopping", "shutting-down", "terminated"):
                    return _error(
                        400,
                        "IncorrectInstanceState",
                        f"The instance '{instance_id}' is not in a state from which it can be started.",
                    )
                if previous == "stopped":
                    instance.state, instance.changed_at = "pending", time.monotonic()
            changes.append((instance_id, previous, instance.state))
        items = "".join(
            f"<item><instanceId>{i}</instanceId>{_state_xml('currentState', now)}{_state_xml('previousState', was)}"
            "</item>"
            for i, was, now in changes
        )
        return _xml(action, f"<instancesSet>{items}</instancesSet>")

    # -- test and playground controls ----------------------------------------------------------

    def set_state(self, instance_id: str, state: str) -> None:
        """As if something else moved the instance to `state` just now (it settles after settle_seconds)."""
        with self._lock:
            instance = self.instances[instance_id]
            instance.state, instance.changed_at = state, time.monotonic()

    def set_tag(self, instance_id: str, key: str, value: str | None) -> None:
        with self._lock:
            tags = self.instances[instance_id].tags
            if value is None:
                tags.pop(key, None)
            else:
                tags[key] = value


class _Answer(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _numbered(params: dict[str, str], prefix: str) -> list[str]:
    values = []
    for n in range(1, 1001):
        value = params.get(f"{prefix}.{n}")
        if value is None:
            break
        values.append(value)
    return values


def _matches(instance: FakeInstance, name: str, values: list[str]) -> bool:
    if name.startswith("tag:"):
        return instance.tags.get(name[4:]) in values
    if name == "instance-state-name":
        return instance.state in values
    if name == "instance-id":
        return instance.instance_id in values
    return True


def _state_xml(tag: str, state: str) -> str:
    return f"<{tag}><code>{STATE_CODES[state]}</code><name>{state}</name></{tag}>"


def _instance_xml(instance: FakeInstance) -> str:
    tags = "".join(f"<item><key>{escape(k)}</key><value>{escape(v)}</value></item>" for k, v in instance.tags.items())
    return (
        f"<instanceId>{instance.instance_id}</instanceId><instanceType>{instance.instance_type}</instanceType>"
        f"{_state_xml('instanceState', instance.state)}<tagSet>{tags}</tagSet>"
    )


def _xml(action: str, inner: str) -> Response:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><{action}Response xmlns="{XMLNS}">'
        f"<requestId>{uuid.uuid4()}</requestId>{inner}</{action}Response>"
    )
    return Response(body, media_type="text/xml")


def _error(status: int, code: str, message: str) -> Response:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error></Errors><RequestID>{uuid.uuid4()}</RequestID></Response>"
    )
    return Response(body, status_code=status, media_type="text/xml")


@contextmanager
def local_fleet() -> Iterator[FakeEC2 | None]:
    """For a local run (HTTP server, Socket Mode): `/instances` acts on a stand-in fleet on 127.0.0.1, never on
    an AWS account by surprise. `LOCAL_EC2=aws` (or an EC2 endpoint of your own, AWS_ENDPOINT_URL_EC2) keeps
    the EC2 of your AWS credentials instead."""
    if os.environ.get("LOCAL_EC2", "").strip().lower() == "aws" or os.environ.get("AWS_ENDPOINT_URL_EC2"):
        yield None
        return
    with FakeEC2(settle_seconds=8.0).serve_plain() as fake:
        os.environ["AWS_ENDPOINT_URL_EC2"] = fake.base_url + "/"
        os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION") or "us-east-1")
        if not os.environ.get("AWS_ACCESS_KEY_ID") and not os.environ.get("AWS_PROFILE"):
            # botocore signs every call; made-up keys are enough for the stand-in, which checks none.
            os.environ.update(AWS_ACCESS_KEY_ID="local-stand-in", AWS_SECRET_ACCESS_KEY="local-stand-in")
        try:
            yield fake
        finally:
            os.environ.pop("AWS_ENDPOINT_URL_EC2", None)
