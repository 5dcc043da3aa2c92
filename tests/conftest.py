"""Shared fixtures: a fake Slack Web API on 127.0.0.1 and the Lambda handler pointed at it."""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bolt_app.local import slack_requests as sr
from bolt_app.local.fake_slack import FakeSlack

ROOT_DIR = Path(__file__).resolve().parent.parent
BOT_TOKEN = "xoxb-test-0000000000-secret-bot-token"
SIGNING_SECRET = "test-signing-secret-0f1e2d3c4b5a"
# The suite's requests come from slack_requests' default user; it is an admin of the command policy
# (as a deployer who set ChatOpsAdmins), so the shipped policy.toml lets it run every command.
TEST_ADMIN = "U0HUMAN001"


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
    patch.setenv("CHATOPS_ADMINS", TEST_ADMIN)
    patch.delenv("SLACK_APP_TOKEN", raising=False)
    sys.modules.pop("handler", None)
    module = importlib.import_module("handler")
    yield module
    sys.modules.pop("handler", None)
    patch.undo()


Invoke = Callable[[dict[str, Any]], dict[str, Any]]


# Set by tests/test_json_logs.py for a nested run: `invoke` then sends every event to one cold
# Lambda container process, and everything it printed is written to this file at the end.
INVOKE_IN_CONTAINER_LOG = "TEST_INVOKE_IN_CONTAINER_LOG"


@pytest.fixture(scope="session")
def handler_container(fake_slack_server: FakeSlack) -> Iterator[Any]:
    from tests.containers import Container

    container = Container(lambda_env(fake_slack_server))
    yield container
    Path(os.environ[INVOKE_IN_CONTAINER_LOG]).write_text(container.close())


@pytest.fixture
def invoke(request: pytest.FixtureRequest, slack: FakeSlack) -> Invoke:
    if os.environ.get(INVOKE_IN_CONTAINER_LOG):
        return request.getfixturevalue("handler_container").invoke
    lambda_module = request.getfixturevalue("lambda_module")

    def call(event: dict[str, Any]) -> dict[str, Any]:
        return lambda_module.handler(event, sr.LambdaContext())

    return call


def signed(body_and_type: tuple[str, str], **kwargs: Any) -> dict[str, Any]:
    return sr.signed_event(SIGNING_SECRET, body_and_type, **kwargs)


def dm_event(event: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return signed(sr.json_body(sr.event_callback(event)), **kwargs)


def body_json(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["body"])


# -- AWS (moto server mode: real HTTP on 127.0.0.1, reached through AWS_ENDPOINT_URL) ----------

AWS_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    patch = pytest.MonkeyPatch()
    for name, value in {**AWS_ENV, "AWS_ENDPOINT_URL": endpoint}.items():
        patch.setenv(name, value)
    yield endpoint
    patch.undo()
    server.stop()


@pytest.fixture
def idempotency_table(aws_endpoint: str) -> str:
    """A fresh table in Powertools' default idempotency schema."""
    import uuid

    import boto3

    name = f"idempotency-{uuid.uuid4().hex[:8]}"
    dynamodb = boto3.client("dynamodb", endpoint_url=aws_endpoint)
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
    )
    return name


@pytest.fixture
def slack_secret_arn(aws_endpoint: str) -> str:
    """A Secrets Manager secret holding the test bot token and signing secret, as template.yaml makes it."""
    import uuid

    import boto3

    client = boto3.client("secretsmanager", endpoint_url=aws_endpoint)
    secret = client.create_secret(
        Name=f"slack-bot-{uuid.uuid4().hex[:8]}",
        SecretString=json.dumps({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}),
    )
    return secret["ARN"]


def lambda_env(fake_slack: FakeSlack, **extra: str) -> dict[str, str]:
    """The environment of a Lambda container pointed at the fake Slack."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "IDEMPOTENCY_", "CHATOPS_", "AUDIT_"))}
    env.update(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=fake_slack.api_url)
    env.update(CHATOPS_ADMINS=TEST_ADMIN)
    env.update(extra)
    return env


@pytest.fixture
def fresh_container(monkeypatch: pytest.MonkeyPatch, slack: FakeSlack) -> Callable[..., Any]:
    """Import `handler` anew, as a new Lambda container does, with extra environment."""

    def load(**env: str) -> Any:
        for name, value in lambda_env(slack, **env).items():
            monkeypatch.setenv(name, value)
        unset = ("SLACK_SECRET_ARN", "IDEMPOTENCY_TABLE", "SLACK_APP_TOKEN", "CHATOPS_POLICY_FILE", "AUDIT_LOG_GROUP")
        for name in unset:
            if name not in env:
                monkeypatch.delenv(name, raising=False)
        previous = sys.modules.pop("handler", None)
        try:
            return importlib.import_module("handler")
        finally:
            if previous is not None:
                sys.modules["handler"] = previous

    return load
