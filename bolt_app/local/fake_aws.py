"""Fakes of two AWS endpoints moto does not play, over real HTTP on 127.0.0.1 (tests, bench; dev-only).

- `FakeLambda`: Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`), which the
  bot reaches through `AWS_ENDPOINT_URL_LAMBDA`. It records each invocation and answers as Lambda
  answers an `InvocationType=Event` call (202, empty payload), or with an injected error in Lambda's
  REST-JSON error shape. The tests then deliver the recorded events to the handler themselves:
  once, twice, late — as Lambda's asynchronous queue may.
- `access_denied_app`: an endpoint answering every call with the error AWS sends when IAM denies it,
  HTTP 403 with code `AccessDenied`, in the service's protocol: `<ErrorResponse>` XML for
  CloudFormation (query), and for CloudWatch (AWS JSON 1.0 in this botocore, query-compatible) a JSON
  body with `__type` plus the `x-amzn-query-error: AccessDenied;Sender` header botocore takes the code
  from. moto does not enforce IAM by default, so this is the stand-in for a missing grant.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bolt_app.local.fake_slack import serve_asgi_in_thread


@dataclass(frozen=True)
class Invocation:
    function_name: str
    invocation_type: str
    payload: dict[str, Any]


class FakeLambda:
    def __init__(self) -> None:
        self.invocations: list[Invocation] = []
        self.base_url = ""
        # Error answers for the next invocations: (HTTP status, Lambda error type).
        self.errors: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    def asgi_app(self) -> Starlette:
        return Starlette(
            routes=[Route("/2015-03-31/functions/{name:path}/invocations", self._invoke, methods=["POST"])]
        )

    async def _invoke(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        with self._lock:
            error = self.errors.pop(0) if self.errors else None
        if error is not None:
            status, error_type = error
            return JSONResponse(
                {"Type": "User", "message": f"{error_type} (fake)"},
                status_code=status,
                headers={"x-amzn-ErrorType": error_type, "x-amzn-RequestId": request_id},
            )
        invocation = Invocation(
            function_name=unquote(request.path_params["name"]),
            invocation_type=request.headers.get("x-amz-invocation-type", "RequestResponse"),
            payload=json.loads(await request.body()),
        )
        with self._lock:
            self.invocations.append(invocation)
        # What Lambda answers an accepted asynchronous invocation.
        return Response(b"", status_code=202, headers={"x-amzn-RequestId": request_id})

    def reset(self) -> None:
        with self._lock:
            self.invocations.clear()
            self.errors.clear()

    @contextmanager
    def serve(self) -> Iterator[FakeLambda]:
        with serve_asgi_in_thread(self.asgi_app()) as base_url:
            self.base_url = base_url
            yield self


def access_denied_app(service: str, action: str) -> Starlette:
    """Every request answered as IAM's denial of `service:action` (query protocol, XML)."""

    async def deny(request: Request) -> Response:
        request_id = str(uuid.uuid4())
        message = (
            "User: arn:aws:sts::123456789012:assumed-role/slack-bolt-bot-SlackBotFunctionRole/slack-bolt-bot "
            f"is not authorized to perform: {service}:{action} because no identity-based policy allows "
            f"the {service}:{action} action"
        )
        if request.headers.get("x-amz-target"):
            # AWS JSON 1.0 (CloudWatch, query-compatible): botocore reads the code from x-amzn-query-error.
            headers = {"x-amzn-RequestId": request_id, "x-amzn-query-error": "AccessDenied;Sender"}
            body_json = {"__type": "com.amazonaws.cloudwatch#AccessDeniedException", "message": message}
            return JSONResponse(body_json, status_code=403, media_type="application/x-amz-json-1.0", headers=headers)
        body = (
            '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
            f"<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return Response(body, status_code=403, media_type="text/xml", headers={"x-amzn-RequestId": request_id})

    return Starlette(routes=[Route("/{path:path}", deny, methods=["POST", "GET"])])


@contextmanager
def serve_access_denied(service: str, action: str) -> Iterator[str]:
    with serve_asgi_in_thread(access_denied_app(service, action)) as base_url:
        yield base_url


# What the playground's stand-in stack answers: a realistic second (CloudFormation's DescribeStacks from a
# Lambda in the region takes a few hundred milliseconds, and a cold client adds its TLS handshake), so the
# slow command's two steps — the ack, then the report replacing it — can be seen.
STAND_IN_DELAY_S = 1.0


def stand_in_stack_app(stack_name: str, outputs: dict[str, str], delay_s: float = STAND_IN_DELAY_S) -> Starlette:
    """CloudFormation's DescribeStacks for one stack (query protocol, XML), answered after `delay_s`;
    any other stack is CloudFormation's ValidationError "does not exist"."""
    import asyncio
    from datetime import UTC, datetime
    from html import escape
    from urllib.parse import parse_qs

    created = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")

    async def describe_stacks(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        await asyncio.sleep(delay_s)
        request_id = str(uuid.uuid4())
        namespace = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
        if form.get("Action") != "DescribeStacks" or form.get("StackName") != stack_name:
            body = (
                f'<ErrorResponse xmlns="{namespace}"><Error><Type>Sender</Type><Code>ValidationError</Code>'
                f"<Message>Stack with id {escape(form.get('StackName', ''))} does not exist</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>"
            )
            return Response(body, status_code=400, media_type="text/xml")
        members = "".join(
            f"<member><OutputKey>{escape(k)}</OutputKey><OutputValue>{escape(v)}</OutputValue></member>"
            for k, v in outputs.items()
        )
        body = (
            f'<DescribeStacksResponse xmlns="{namespace}"><DescribeStacksResult><Stacks><member>'
            f"<StackName>{escape(stack_name)}</StackName>"
            f"<StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/{escape(stack_name)}/{request_id}</StackId>"
            f"<CreationTime>{created}</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus>"
            f"<Outputs>{members}</Outputs></member></Stacks></DescribeStacksResult>"
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></DescribeStacksResponse>"
        )
        return Response(body, media_type="text/xml", headers={"x-amzn-RequestId": request_id})

    return Starlette(routes=[Route("/", describe_stacks, methods=["POST"])])
