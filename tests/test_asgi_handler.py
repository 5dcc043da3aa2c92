"""`handler.asgi_handler`: Mangum over Bolt's ASGI adapter, for Application Load Balancer targets."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from bolt_app.local import slack_requests as sr
from tests.conftest import ROOT_DIR, SIGNING_SECRET, lambda_env, signed


@pytest.fixture
def asgi_invoke(lambda_module, slack):
    def call(event):
        return lambda_module.asgi_handler(event, sr.LambdaContext())

    return call


def _alb(body_and_type, **kwargs):
    return signed(body_and_type, shape="alb", **kwargs)


def test_alb_dm_is_echoed(asgi_invoke, slack):
    response = asgi_invoke(_alb(sr.json_body(sr.event_callback(sr.dm_message("through the load balancer")))))

    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is False  # ALB's response shape, from Mangum
    assert [c.args["text"] for c in slack.calls_to("chat.postMessage")] == ["Echo: through the load balancer"]


def test_alb_base64_body(asgi_invoke, slack):
    response = asgi_invoke(_alb(sr.json_body(sr.event_callback(sr.dm_message("b64 via alb"))), base64_encoded=True))

    assert response["statusCode"] == 200
    assert [c.args["text"] for c in slack.calls_to("chat.postMessage")] == ["Echo: b64 via alb"]


@pytest.mark.parametrize("path", ["/slack/events", "/api/messages", "/api/slack"])
def test_alb_slash_test_on_every_route(asgi_invoke, slack, path):
    response = asgi_invoke(
        _alb(sr.form_body(sr.slash_command("/test", response_url=slack.new_response_url())), path=path)
    )

    assert response["statusCode"] == 200
    message = json.loads(response["body"])
    assert message["response_type"] == "in_channel"
    assert "Farmhouse Thai Cuisine" in json.dumps(message["blocks"])


def test_alb_button_click_replaces_the_picker(asgi_invoke, slack):
    picker = [
        {
            "block_id": "dinner_picker",
            "elements": [{"type": "button", "action_id": "dinner_pick_ler_ros", "value": "Ler Ros"}],
        }
    ]
    payload = sr.block_actions(
        sr.button_click(picker, "dinner_pick_ler_ros"), response_url=slack.new_response_url(), user="U0ALB00001"
    )

    response = asgi_invoke(_alb(sr.interactive_body(payload)))

    assert response["statusCode"] == 200
    assert [p.payload["text"] for p in slack.response_posts] == ["<@U0ALB00001> picked *Ler Ros*"]


def test_alb_has_the_same_guards(asgi_invoke, slack):
    forged = sr.signed_event("forged", sr.json_body(sr.event_callback(sr.dm_message("x"))), shape="alb")
    get = _alb(sr.json_body(sr.event_callback(sr.dm_message("x"))), method="GET")
    bad_json = _alb(("{nope", "application/json"))

    assert asgi_invoke(forged)["statusCode"] == 401
    assert asgi_invoke(get)["statusCode"] == 405
    assert asgi_invoke(bad_json)["statusCode"] == 400
    assert asgi_invoke({"unexpected": "shape"})["statusCode"] == 400
    assert slack.calls == []


def test_alb_retries_get_exactly_one_reply(asgi_invoke, slack):
    body = sr.json_body(sr.event_callback(sr.dm_message("alb once")))

    assert asgi_invoke(sr.signed_event(SIGNING_SECRET, body, shape="alb"))["statusCode"] == 200
    retry = sr.signed_event(SIGNING_SECRET, body, shape="alb", retry_num=1, timestamp=int(time.time()) + 1)
    assert asgi_invoke(retry)["statusCode"] == 200

    assert len(slack.calls_to("chat.postMessage")) == 1


def test_api_gateway_events_work_through_the_asgi_handler_too(asgi_invoke, slack):
    response = asgi_invoke(signed(sr.json_body(sr.event_callback(sr.dm_message("v2 via mangum")))))

    assert response["statusCode"] == 200
    assert [c.args["text"] for c in slack.calls_to("chat.postMessage")] == ["Echo: v2 via mangum"]


NOT_ON_THE_DEFAULT_PATH = (
    "mangum",
    "starlette",
    "uvicorn",
    "bolt_app.aws_lambda.asgi",
    "slack_bolt.adapter.asgi",
    "slack_bolt.adapter.socket_mode",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.parameters",
    "bolt_app.local.fake_slack",
    "bolt_app.local.runners",
    # boto3 is a stand-in until used (bolt_app/aws_lambda/adapter.py); Powertools imports only botocore's
    # light package __init__ (for its user-agent hook). The heavy parts never load:
    "boto3.session",
    "botocore.session",
    "botocore.client",
    "s3transfer",
)

DEFAULT_PATH_SCRIPT = f"""
import sys
import handler
from bolt_app.local import slack_requests as sr
body = sr.json_body(sr.event_callback(sr.dm_message("x")))
response = handler.handler(sr.signed_event({SIGNING_SECRET!r}, body), sr.LambdaContext())
assert response["statusCode"] == 200, response
print(sorted(m for m in sys.modules if m.startswith({NOT_ON_THE_DEFAULT_PATH!r})))
"""


def test_the_default_handler_never_imports_mangum_or_local_code(slack):
    result = subprocess.run(
        [sys.executable, "-c", DEFAULT_PATH_SCRIPT],
        cwd=ROOT_DIR,
        env=lambda_env(slack),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
