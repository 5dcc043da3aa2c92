"""Shared fixtures: a fake Slack Web API on 127.0.0.1 and the Lambda handler pointed at it."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bolt_app.local import slack_requests as sr
from bolt_app.local.fake_slack import FakeSlack

BOT_TOKEN = "xoxb-test-0000000000-secret-bot-token"
SIGNING_SECRET = "test-signing-secret-0f1e2d3c4b5a"


@pytest.fixture(scope="session")
def fake_slack_server() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token=BOT_TOKEN).serve() as fake:
        yield fake


@pytest.fixture
def slack(fake_slack_server: FakeSlack) -> FakeSlack:
    """The fake Slack, with nothing recorded yet."""
    fake_slack_server.reset()
    return fake_slack_server


@pytest.fixture(scope="session")
def lambda_module(fake_slack_server: FakeSlack) -> Iterator[Any]:
    """`handler` imported as Lambda imports it: once, with the environment set first."""
    patch = pytest.MonkeyPatch()
    patch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    patch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    patch.setenv("SLACK_API_URL", fake_slack_server.api_url)
    patch.delenv("SLACK_APP_TOKEN", raising=False)
    sys.modules.pop("handler", None)
    module = importlib.import_module("handler")
    yield module
    sys.modules.pop("handler", None)
    patch.undo()


Invoke = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def invoke(lambda_module: Any, slack: FakeSlack) -> Invoke:
    def call(event: dict[str, Any]) -> dict[str, Any]:
        return lambda_module.handler(event, sr.LambdaContext())

    return call


def signed(body_and_type: tuple[str, str], **kwargs: Any) -> dict[str, Any]:
    return sr.signed_event(SIGNING_SECRET, body_and_type, **kwargs)


def dm_event(event: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return signed(sr.json_body(sr.event_callback(event)), **kwargs)


def body_json(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["body"])
