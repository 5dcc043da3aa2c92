"""Bolt's lazy listeners on Lambda: ack at once, then do the slow work in a second invocation.

`app.command("/x")(ack=..., lazy=[...])`: Bolt answers Slack with the ack and hands each lazy
function to the app's lazy-listener runner. On Lambda that runner is `LambdaSelfInvoker`: it
invokes this same function (`context.invoked_function_arn`, so the same version or alias)
asynchronously (`InvocationType=Event`) with a self-invocation event, and the handler runs the
named lazy function when that event arrives (`handle_self_invocation`).

The self-invocation event carries Bolt's mark, a top-level `"method": "NONE"`, which API Gateway,
Function URL and ALB events never carry: only a direct Lambda invoke, which IAM authorises, can
produce it. It holds the original Slack request (body and headers) plus Bolt's
`x-slack-bolt-lazy-only` / `x-slack-bolt-lazy-function-name` headers, less what the lazy run does
not need: Slack's legacy verification `token` is dropped from the body, and the signature is
replaced by its SHA-256 (`x-bolt-app-delivery`), enough to tell deliveries apart. Lambda keeps the
event (in the failure queue's invocation record, 14 days), so it carries neither. It is not checked
against Slack's signature: Lambda may deliver it long after Slack's 5-minute window. The other way round, HTTP requests
carrying the lazy headers are refused by the request guard, so they never skip the ack.

Exactly once: Lambda may deliver an asynchronous event more than once, even without an error
("Even if your function doesn't return an error, it's possible for it to receive the same event
from Lambda multiple times": https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html),
and retries it after a function error. Each delivery runs under an exactly-once record keyed on the
lazy function and the original request's signature hash (unique per Slack delivery), so the work is
done, and its result posted, once; a failed run releases the record and raises, so that Lambda
retries it and, past its retries, sends it to the on-failure destination (template.yaml). A delivery
that finds the work running in another waits for its outcome, and raises if it is still running:
no delivery ends as a success unless the work has run.

Off Lambda (local HTTP server, Socket Mode) the app keeps Bolt's own runner, which runs lazy
functions in a thread of the same process; the playground delivers the self-invocation to the
Lambda handler in-process (`LambdaSelfInvoker.deliver`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from slack_bolt import App, BoltRequest
from slack_bolt.kwargs_injection import build_required_kwargs
from slack_bolt.lazy_listener import LazyListenerRunner
from slack_bolt.util.utils import get_arg_names_of_callable

from bolt_app.foundation import aws_clients
from bolt_app.request_path.exactly_once import ExactlyOnce
from bolt_app.request_path.request_guard import (
    BOLT_LAZY_HEADERS,
    DELIVERY_HEADER,
    HttpResponse,
    Rejected,
    parse_body,
)

LAZY_ONLY_HEADER, LAZY_FUNCTION_HEADER = BOLT_LAZY_HEADERS
# DELIVERY_HEADER: the self-invocation's stand-in for X-Slack-Signature, its SHA-256 (tells deliveries apart).
_LAZY_ERROR = "lazy_listener_error"
# Set by LambdaSelfInvoker.run: the lazy function the self-invocation names was found and called.
_LAZY_RAN = "lazy_listener_ran"
# A delivery that finds its work running in another one waits for it until this much of the
# invocation's time is left (the function's timeout is 30 s: template.yaml).
IN_PROGRESS_WAIT_RESERVE_SECONDS = 5.0

Deliver = Callable[[str, dict[str, Any]], None]


class SelfInvocationFailed(RuntimeError):
    """The Lambda Invoke call that starts a lazy listener failed; the request answers 5xx."""


class LazyWorkFailed(RuntimeError):
    """A lazy listener failed without telling the user: raised to the Lambda runtime, so that
    Lambda retries the asynchronous invocation and, past its retries, sends it to the on-failure
    destination. (Every other failure is answered, never raised.)"""


def is_self_invocation(event: Any) -> bool:
    """Bolt's mark of its self-invocation: a top-level "method": "NONE" (no HTTP event has it)."""
    return isinstance(event, dict) and event.get("method") == "NONE"


class LambdaSelfInvoker(LazyListenerRunner):
    """Bolt's lazy-listener runner for Lambda: starts each lazy function as an async self-invocation."""

    def __init__(self, logger: logging.Logger, deliver: Deliver | None = None) -> None:
        self.logger = logger
        # (function ARN, event) -> None; the Lambda Invoke API unless replaced (the playground does).
        self.deliver: Deliver = deliver or invoke_lambda_async

    def start(self, function: Callable[..., None], request: BoltRequest) -> None:
        # Every entry point puts the invoked function's ARN in the request context (aws_lambda.py's
        # handle_checked, asgi.py's dispatch under Mangum); outside Lambda there is none.
        arn = request.context.get("aws_lambda_invoked_function_arn")
        if not arn:
            raise SelfInvocationFailed("no Lambda context to self-invoke")
        event = self_invocation_event(request)
        started = time.perf_counter()
        try:
            self.deliver(arn, event)
        except Exception as error:
            code = aws_clients.error_code(error)
            self.logger.error("lazy listener not started", extra={"error_type": type(error).__name__, "code": code})
            raise SelfInvocationFailed(f"Lambda Invoke failed ({code})") from None
        self.logger.info(
            "lazy listener started",
            extra={
                "lazy_function": request.lazy_function_name,
                "invoke_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )

    def run(self, function: Callable[..., None], request: BoltRequest) -> None:
        """Runs the lazy function in this (self-)invocation; a failure is kept for the caller, not swallowed."""
        kwargs = build_required_kwargs(
            logger=self.logger,
            required_arg_names=get_arg_names_of_callable(function),
            request=request,
            response=None,
            this_func=function,
        )
        request.context[_LAZY_RAN] = True
        try:
            function(**kwargs)
        except Exception as error:
            request.context[_LAZY_ERROR] = error


def invoke_lambda_async(function_arn: str, event: dict[str, Any]) -> None:
    """Lambda Invoke, InvocationType=Event: Lambda queues the event and answers 202 at once."""
    # On the ack path: REQUEST_PATH's short timeouts and one retry keep it inside Slack's 3 seconds.
    aws_clients.client("lambda").invoke(
        FunctionName=function_arn, InvocationType="Event", Payload=json.dumps(event).encode("utf-8")
    )


def self_invocation_event(request: BoltRequest) -> dict[str, Any]:
    """The original request (as Bolt read it) with Bolt's lazy headers and its self-invocation mark,
    without Slack's `token` and with the signature's hash in place of the signature."""
    headers = {
        name: values[0]
        for name, values in request.headers.items()
        if values and name not in ("cookie", "content-length", "x-slack-signature")
    }
    signatures = request.headers.get("x-slack-signature") or [""]
    headers[DELIVERY_HEADER] = delivery_hash(signatures[0])
    headers[LAZY_ONLY_HEADER] = "1"
    headers[LAZY_FUNCTION_HEADER] = str(request.lazy_function_name)
    body = without_verification_token(request.raw_body, headers.get("content-type", ""))
    return {"method": "NONE", "headers": headers, "body": body, "isBase64Encoded": False}


def delivery_hash(signature: str) -> str:
    """What tells one Slack delivery from another without being its signature."""
    return hashlib.sha256(signature.encode("utf-8")).hexdigest()


def without_verification_token(raw_body: str, content_type: str) -> str:
    """The body with Slack's legacy verification `token` taken out (top level of an event's JSON, a
    command's form field, an interaction's `payload`). The guard parsed this body for the ack, so it
    parses; should it not, it is kept as it is (the lazy run then refuses it)."""
    try:
        if content_type.startswith("application/json") or raw_body.lstrip().startswith("{"):
            document = json.loads(raw_body)
            if isinstance(document, dict):
                document.pop("token", None)
            return json.dumps(document, ensure_ascii=False)
        fields = []
        for name, value in parse_qsl(raw_body, keep_blank_values=True, strict_parsing=bool(raw_body)):
            if name == "token":
                continue
            if name == "payload":
                payload = json.loads(value)
                if isinstance(payload, dict):
                    payload.pop("token", None)
                value = json.dumps(payload, ensure_ascii=False)
            fields.append((name, value))
        return urlencode(fields)
    except ValueError:
        return raw_body


class CheckedBoltRequest(BoltRequest):
    """A Bolt request whose body is the request guard's parse, and whose copies keep it.

    Bolt copies a request for each lazy listener with `to_copyable()`, which re-parses the raw body with
    Bolt's own parser in "http" mode; that parser reads any form containing "payload" (a command's text
    included) as an interaction, and the lazy run gets {} (off Lambda, Bolt's thread runner runs that copy).
    """

    def to_copyable(self) -> CheckedBoltRequest:
        copied = CheckedBoltRequest(
            body=self.body,
            query=self.query,
            headers=self.headers,
            context=self.context.to_copyable(),
            mode="socket_mode",
        )
        copied.raw_body, copied.mode = self.raw_body, "http"
        return copied


def checked_bolt_request(
    parsed: Mapping[str, Any], raw_body: str, headers: Mapping[str, Any], query: Mapping[str, Any] | None = None
) -> BoltRequest:
    """A Bolt request for a body the request guard has parsed already, so that Bolt does not parse it again.

    Bolt's constructor parses a str body in "http" mode and takes a dict as it is in "socket_mode"; the
    request is then made an HTTP one with its raw body, as Bolt's own would be (and stays so when copied)."""
    request = CheckedBoltRequest(body=dict(parsed), query=dict(query or {}), headers=dict(headers), mode="socket_mode")
    request.raw_body, request.mode = raw_body, "http"
    return request


def handle_self_invocation(
    app: App, exactly_once: ExactlyOnce, event: dict[str, Any], context: Any, logger: Any
) -> HttpResponse:
    """Runs the lazy function a self-invocation names, once per original request and function.

    Returns what was done (the answer goes nowhere: an async invocation's result is discarded);
    raises LazyWorkFailed when the lazy function failed, so that Lambda retries it.
    """
    raw_headers, body = event.get("headers"), event.get("body")
    headers: dict[str, str] = {}
    if isinstance(raw_headers, Mapping):
        headers = {str(k).lower(): str(v) for k, v in raw_headers.items() if v is not None}
    function_name = headers.get(LAZY_FUNCTION_HEADER)
    # The signature's hash; an event queued by a version that still forwarded the signature hashes it here.
    signature = headers.get(DELIVERY_HEADER) or (
        delivery_hash(headers["x-slack-signature"]) if headers.get("x-slack-signature") else None
    )
    if not isinstance(body, str) or headers.get(LAZY_ONLY_HEADER) != "1" or not function_name or not signature:
        # Nothing a retry could fix: log and return, never raise.
        logger.warning("self-invocation ignored: not a lazy listener event")
        return HttpResponse(400, "Not a lazy listener event.")
    started = time.perf_counter()

    try:
        parsed = parse_body(headers.get("content-type", ""), body).body
    except Rejected as rejected:
        logger.warning("self-invocation ignored: body not understood", extra={"reason": rejected.reason})
        return HttpResponse(400, "Not a lazy listener event.")
    # An event's lazy work is keyed on its event_id: Slack's retry of it (signed anew) may start the
    # work a second time if the first ack's answer was lost. Commands and interactions, which Slack
    # never retries, are keyed on their delivery's signature (its hash).
    event_id = parsed.get("event_id")
    delivery = event_id if isinstance(event_id, str) and event_id else signature
    key = "lazy:" + function_name + ":" + hashlib.sha256(delivery.encode("utf-8")).hexdigest()[:32]

    def process() -> HttpResponse:
        # The body as the ack's request had it (the guard's parse), not Bolt's re-parse of it.
        request = checked_bolt_request(parsed, body, headers)
        request.context["aws_lambda_function_name"] = getattr(context, "function_name", None)
        request.context["aws_lambda_invoked_function_arn"] = getattr(context, "invoked_function_arn", None)
        response = app.dispatch(request)
        error = request.context.get(_LAZY_ERROR)
        if error is not None:
            logger.error(
                "lazy listener failed",
                extra={"lazy_function": function_name, "error_type": type(error).__name__},
            )
            return HttpResponse(500, "The lazy listener failed.")
        if not request.context.get(_LAZY_RAN) or not 200 <= response.status < 300:
            # Nothing ran: no listener has a lazy function of that name (a deploy renamed it while
            # Lambda held the event for a retry), or Bolt refused the request. Work that did not run
            # is a failure, never "processed": Lambda retries it, then the failure queue has it.
            logger.error(
                "lazy listener not run",
                extra={"lazy_function": function_name, "status": response.status},
            )
            return HttpResponse(500, "The lazy listener did not run.")
        return HttpResponse(response.status)

    # Another delivery of the same event may be running it (Lambda delivered it twice at once): wait
    # for its outcome while this invocation has time (answered: a duplicate, done; failed and
    # released: this delivery runs it).
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    wait = max(0.0, remaining() / 1000 - IN_PROGRESS_WAIT_RESERVE_SECONDS) if callable(remaining) else 0.0
    outcome = exactly_once.run(key, process, context, wait_seconds=wait)
    logger.info(
        "lazy listener handled",
        extra={
            "lazy_function": function_name,
            "status": outcome.response.status,
            "outcome": outcome.status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    if outcome.status == "in_progress":
        # Still running after the wait. Never a success: the work has not run here, and should the
        # other delivery fail after all, nothing would run it. Lambda retries this event later (by
        # then answered, a duplicate; or released, run), and past its retries the failure queue has it.
        raise LazyWorkFailed(f"lazy listener {function_name} is still running in another delivery; Lambda retries it")
    if outcome.response.status >= 500:
        raise LazyWorkFailed(f"lazy listener {function_name} failed; Lambda retries it")
    return outcome.response
