"""The playground's #alerts: a test alarm (ALARM, then OK), a test deploy and the digest, through its page API
and the real Lambda handler; the alarm card's Acknowledge button clicked there."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from bolt_app.local.fake_slack import FakeSlack, serve_asgi_in_thread
from bolt_app.local.playground import Playground, create_asgi_app
from bolt_app.local.playground.session import ALERTS_CHANNEL, HUMAN_ID
from tests.conftest import SIGNING_SECRET

# The session's token, as the page the playground serves sends it with every action.
PAGE_TOKEN = "page-token-for-tests"


@pytest.fixture
def server(fresh_container, slack: FakeSlack) -> Iterator[str]:
    module = fresh_container(ALERTS_CHANNEL=ALERTS_CHANNEL)
    playground = Playground(slack, module.handler, SIGNING_SECRET, page_token=PAGE_TOKEN)
    playground.attach_self_invoker(module.bot.lambda_adapter.self_invoker)
    with serve_asgi_in_thread(create_asgi_app(playground, mount_fake_slack=False)) as base_url:
        yield base_url
    playground.close()


def _post(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), headers={"content-type": "application/json", "x-playground-token": PAGE_TOKEN}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _alerts(server: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(server + "/playground/state", timeout=20) as response:
        state = json.loads(response.read())
    [channel] = [c for c in state["channels"] if c["id"] == ALERTS_CHANNEL]
    assert channel["name"] == "alerts"
    return channel["messages"]


def test_a_test_alarm_then_ok_then_acknowledge(server, slack):
    status, [entry] = _post(server + "/playground/aws-events", {"kind": "alarm"})
    assert status == 200 and entry["kind"] == "SNS: alarm ALARM (async invocation)"
    _post(server + "/playground/aws-events", {"kind": "ok"})

    card, reply = _alerts(server)
    assert "*playground-Errors* is *OK*" in card["blocks"][0]["text"]["text"]
    assert reply["thread_ts"] == card["ts"] and "*OK*" in reply["text"]

    status, _ = _post(
        server + "/playground/actions", {"channel": ALERTS_CHANNEL, "ts": card["ts"], "action_id": "alarm_acknowledge"}
    )
    assert status == 200
    assert f"Acknowledged by <@{HUMAN_ID}>" in json.dumps(_alerts(server)[0]["blocks"])


def test_a_test_deploy_and_the_digest(server, slack):
    status, entries = _post(server + "/playground/aws-events", {"kind": "deploy"})
    assert status == 200 and len(entries) == 2
    _post(server + "/playground/aws-events", {"kind": "digest"})

    deploy, end, digest = _alerts(server)
    assert deploy["text"].startswith(":white_check_mark: *playground*: `UPDATE_COMPLETE` in 1 min 42 s")
    assert end["thread_ts"] == deploy["ts"]
    assert digest["blocks"][0]["block_id"] == "stack_not_deployed"  # the playground is not deployed


def test_an_unknown_test_event_is_a_400(server):
    status, answer = _post(server + "/playground/aws-events", {"kind": "meteor"})
    assert status == 400 and "one of alarm, ok, deploy, digest" in answer["error"]


def test_a_test_deploy_is_of_the_stack_the_playground_plays(server, slack, monkeypatch):
    # `make run` sets STACK_NAME to its stand-in stack (for /stack-status's two steps); the test deploy must be
    # of that stack, or the handler ignores it as another stack's and #alerts shows nothing.
    monkeypatch.setenv("STACK_NAME", "playground-stack")
    status, entries = _post(server + "/playground/aws-events", {"kind": "deploy"})
    assert status == 200 and len(entries) == 2
    [deploy, end] = _alerts(server)
    assert deploy["text"].startswith(":white_check_mark: *playground-stack*: `UPDATE_COMPLETE` in 1 min 42 s")
    assert end["thread_ts"] == deploy["ts"]
