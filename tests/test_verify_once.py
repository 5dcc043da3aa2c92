"""Verify once: the request guard is the only signature check (Bolt's own is off, app.py), so every
HTTP entry point must still refuse unsigned, forged and stale requests, and Bolt's lazy-listener
headers, before Bolt sees them: `handler.handler` (API Gateway HTTP/REST, Function URL),
`handler.asgi_handler` (ALB) and the local HTTP server of `python -m bolt_app`."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from bolt_app.local import slack_requests as sr
from bolt_app.local.fake_slack import FakeSlack
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.containers import local_bot

LAZY_HEADERS = {"x-slack-bolt-lazy-only": "1", "x-slack-bolt-lazy-function-name": "report_stack_status"}


def bad_requests(slack: FakeSlack) -> dict[str, tuple[str, dict[str, str], int]]:
    """name -> (body, headers, expected status); the body is a DM the bot would otherwise answer."""
    body, content_type = sr.json_body(sr.event_callback(sr.dm_message("should never be echoed")))
    good = sr.signed_headers(SIGNING_SECRET, body, content_type)
    command, command_type = sr.form_body(sr.slash_command("/stack-status", response_url=slack.new_response_url()))
    return {
        "unsigned": (body, {"content-type": content_type}, 401),
        "forged": (body, sr.signed_headers("not-the-signing-secret", body, content_type), 401),
        "stale": (body, sr.signed_headers(SIGNING_SECRET, body, content_type, int(time.time()) - 301), 401),
        "tampered": (body.replace("never", "NEVER"), good, 401),
        "lazy headers": (command, {**sr.signed_headers(SIGNING_SECRET, command, command_type), **LAZY_HEADERS}, 400),
    }


CASES = ["unsigned", "forged", "stale", "tampered", "lazy headers"]


def _assert_nothing_done(slack: FakeSlack) -> None:
    assert slack.calls == [] and slack.response_posts == []


@pytest.mark.parametrize("shape", ["http_api", "rest_api", "function_url"])
@pytest.mark.parametrize("case", CASES)
def test_lambda_handler_rejects(lambda_module, slack, shape, case):
    body, headers, status = bad_requests(slack)[case]
    make = {"http_api": sr.http_api_event, "rest_api": sr.rest_api_event}.get(shape)
    event = make(body, headers) if make else sr.http_api_event(body, headers, function_url=True)

    assert lambda_module.handler(event, sr.LambdaContext())["statusCode"] == status
    _assert_nothing_done(slack)


@pytest.mark.parametrize("case", CASES)
def test_alb_handler_rejects(lambda_module, slack, case):
    body, headers, status = bad_requests(slack)[case]

    assert lambda_module.asgi_handler(sr.alb_event(body, headers), sr.LambdaContext())["statusCode"] == status
    _assert_nothing_done(slack)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: str, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _wait_for(predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_local_http_server_rejects_and_runs_lazy_listeners_in_process(slack):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "STACK_", "AWS_LAMBDA_"))}
    env.update(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=slack.api_url)
    url = f"http://127.0.0.1:{port}/slack/events"
    with local_bot("--port", str(port), env=env):

        def up() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            except OSError:
                return False

        _wait_for(up)
        for case, (body, headers, status) in bad_requests(slack).items():
            assert _post(url, body, headers)[0] == status, case
        _assert_nothing_done(slack)

        # The two-step answer, with Bolt's thread runner: the ack, then the lazy report (not on AWS here).
        body, content_type = sr.form_body(sr.slash_command("/stack-status", response_url=slack.new_response_url()))
        status, answer = _post(url, body, sr.signed_headers(SIGNING_SECRET, body, content_type))
        assert status == 200 and json.loads(answer)["text"] == "Checking where this bot is deployed…"
        post = _wait_for(lambda: slack.response_posts)[0].payload
        assert post["replace_original"] is True and "not deployed on AWS" in post["text"]


# -- parse once: Bolt reads the body the guard has parsed ----------------------------------------


def test_the_lambda_path_parses_each_body_once(invoke, slack, monkeypatch):
    """The guard parses the body (to validate it) and hands the result to Bolt, which would otherwise
    parse the same bytes again: Bolt's own body parser is never called on `handler.handler`'s path."""
    import slack_bolt.request.request as bolt_request

    parsed_by_bolt: list[str] = []
    real_parse_body = bolt_request.parse_body
    monkeypatch.setattr(
        bolt_request, "parse_body", lambda body, ct: parsed_by_bolt.append(body) or real_parse_body(body, ct)
    )
    command = sr.slash_command("/test", response_url=slack.new_response_url())
    blocks = json.loads(invoke(sr.signed_event(SIGNING_SECRET, sr.form_body(command)))["body"])["blocks"]
    click = sr.block_actions(sr.button_click(blocks, "dinner_pick_ler_ros"), response_url=slack.new_response_url())
    dm = sr.json_body(sr.event_callback(sr.dm_message("parse me once")))

    assert invoke(sr.signed_event(SIGNING_SECRET, sr.interactive_body(click)))["statusCode"] == 200
    assert invoke(sr.signed_event(SIGNING_SECRET, dm))["statusCode"] == 200

    assert parsed_by_bolt == []
    assert [c.args["text"] for c in slack.calls_to("chat.postMessage")] == ["Echo: parse me once"]
    assert len(slack.response_posts) == 1  # the pick was made from the guard's parse


@pytest.mark.parametrize("entry_point", ["handler", "asgi_handler"])
def test_a_command_whose_text_says_payload_is_still_a_command(lambda_module, slack, entry_point):
    # Bolt's own parser takes any form containing the word "payload" for an interaction and reads it
    # as {} (no listener matches); the guard's parse looks at the field names, on both entry points.
    command = sr.slash_command("/test", "payload", response_url=slack.new_response_url())
    body, content_type = sr.form_body(command)
    headers = sr.signed_headers(SIGNING_SECRET, body, content_type)
    event = (
        sr.alb_event(body, headers)
        if entry_point == "asgi_handler"
        else sr.signed_event(SIGNING_SECRET, (body, content_type))
    )
    response = getattr(lambda_module, entry_point)(event, sr.LambdaContext())

    assert response["statusCode"] == 200
    assert json.loads(response["body"])["blocks"]  # the dinner picker
