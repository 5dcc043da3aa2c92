"""SnapStart runtime hooks (bolt_app/aws_lambda/snapstart.py), run through `snapshot_restore_py`'s registry in a
fresh container of the deployed configuration: secret in Secrets Manager, records in DynamoDB, both on
a moto server that counts every call it receives, and the fake Slack counting its own."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from bench.aws import CountingMoto, by_operation
from bolt_app.local import slack_requests as sr
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, lambda_env
from tests.containers import ROOT, _Child

SNAPSTART_ENV = {"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}


class SnapStartContainer(_Child):
    def __init__(self, env: dict[str, str]) -> None:
        script = str(ROOT / "tests" / "snapstart_container.py")
        super().__init__([sys.executable, script], {**env, "PYTHONPATH": str(ROOT)}, stdin=True)
        self.read_until("READY")

    def _send(self, line: str, answer: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return json.loads(self.read_until(answer)[len(answer) :])

    def command(self, command: str) -> dict[str, Any]:
        return self._send(command, "STATE ")

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        return self._send(json.dumps(event), "RESPONSE ")


@pytest.fixture
def aws() -> Iterator[CountingMoto]:
    with CountingMoto() as server:
        server.provision(BOT_TOKEN, SIGNING_SECRET)
        yield server


def _deployed_env(slack, aws: CountingMoto, **extra: str) -> dict[str, str]:
    env = lambda_env(slack, **aws.env(), **extra)
    del env["SLACK_BOT_TOKEN"], env["SLACK_SIGNING_SECRET"]
    return env


def _dm(text: str, secret: str = SIGNING_SECRET) -> dict[str, Any]:
    return sr.signed_event(secret, sr.json_body(sr.event_callback(sr.dm_message(text))))


def _records(aws: CountingMoto) -> list[dict[str, Any]]:
    import boto3

    client = boto3.client(
        "dynamodb", endpoint_url=aws.endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    return client.scan(TableName=aws.table_name)["Items"]


def test_hooks_are_registered_only_in_a_snapstart_environment(slack, aws):
    plain = SnapStartContainer(_deployed_env(slack, aws))
    try:
        assert plain.command("STATE")["registered"] is False
    finally:
        plain.stop()
    snap = SnapStartContainer(_deployed_env(slack, aws, **SNAPSTART_ENV))
    try:
        assert snap.command("STATE")["registered"] is True
    finally:
        snap.stop()


def test_before_snapshot_primes_the_whole_path_without_a_network_call(slack, aws):
    container = SnapStartContainer(_deployed_env(slack, aws, **SNAPSTART_ENV))
    try:
        # Init read the secret, as every cold start of the deployed configuration does.
        assert by_operation(aws.calls) == {"secretsmanager.GetSecretValue": 1}
        state = container.command("SNAPSHOT")
        # The url_verification and the bot's own DM, both answered, through handler.handler.
        assert state["primed"] == [200, 200]
        assert state["aws_clients"] == ["dynamodb", "lambda", "secretsmanager"]
        # No AWS call, no Slack call, no idempotency record, no replay-cache entry.
        assert by_operation(aws.calls) == {"secretsmanager.GetSecretValue": 1}
        assert slack.calls == [] and slack.response_posts == []
        assert state["replay_cache_entries"] == 0
        assert _records(aws) == []

        aws.reset()
        container.command("RESTORE 60")
        response = container.invoke(_dm("first after restore"))
        assert response["statusCode"] == 200
        [call] = slack.calls_to("chat.postMessage")
        assert call.token == BOT_TOKEN and call.args["text"] == "Echo: first after restore"
        # The restore read nothing again (a young snapshot); the DM wrote and completed its record.
        assert by_operation(aws.calls) == {"dynamodb.PutItem": 1, "dynamodb.UpdateItem": 1}
    finally:
        container.stop()


def test_after_restore_rereads_the_secret_only_when_the_snapshot_is_older_than_its_cache_age(slack, aws):
    import boto3

    # The signing secret is rotated (the fake Slack knows one bot token): requests show which one is in force.
    rotated = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": "rotated-signing-secret"}
    young = SnapStartContainer(_deployed_env(slack, aws, **SNAPSTART_ENV))
    old = SnapStartContainer(_deployed_env(slack, aws, **SNAPSTART_ENV))
    try:
        for container in (young, old):
            container.command("SNAPSHOT")
        secrets = boto3.client(
            "secretsmanager", endpoint_url=aws.endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        secrets.put_secret_value(SecretId=aws.secret_arn, SecretString=json.dumps(rotated))
        aws.reset()

        young.command("RESTORE 3600")
        assert aws.calls == []  # a young snapshot keeps what it read before the snapshot
        assert young.invoke(_dm("young, old secret"))["statusCode"] == 200
        assert "secretsmanager.GetSecretValue" not in by_operation(aws.calls)
        # A signature only the rotated secret verifies: the container re-reads the secret on demand
        # (issue 10's rotation path, once), not because of the restore.
        assert young.invoke(_dm("young, new secret", rotated["SLACK_SIGNING_SECRET"]))["statusCode"] == 200
        assert by_operation(aws.calls)["secretsmanager.GetSecretValue"] == 1

        aws.reset()
        old.command(f"RESTORE {25 * 3600}")
        assert by_operation(aws.calls) == {"secretsmanager.GetSecretValue": 1}
        assert old.invoke(_dm("old, new secret", rotated["SLACK_SIGNING_SECRET"]))["statusCode"] == 200
        assert old.invoke(_dm("old, old secret"))["statusCode"] == 401
    finally:
        young.stop()
        old.stop()
    texts = [c.args["text"] for c in slack.calls_to("chat.postMessage")]
    assert texts == ["Echo: young, old secret", "Echo: young, new secret", "Echo: old, new secret"]


def test_after_restore_reseeds_random_and_keeps_the_primed_clients(slack, aws):
    # DEBUG: the "request handled" line of a routine answered DM is a DEBUG line.
    container = SnapStartContainer(_deployed_env(slack, aws, POWERTOOLS_LOG_LEVEL="DEBUG", **SNAPSTART_ENV))
    try:
        snapshotted = container.command("SNAPSHOT")
        # Every environment restored from one snapshot would otherwise draw the same numbers.
        restored = container.command("RESTORE 60")
        assert restored["random_state"] != snapshotted["random_state"]
        assert restored["aws_clients"] == snapshotted["aws_clients"] == ["dynamodb", "lambda", "secretsmanager"]
        container.invoke(_dm("first after restore"))
    finally:
        output = container.stop()
    # The first real request after the restore is this environment's cold start in the logs.
    [handled] = [json.loads(line) for line in output.splitlines() if '"Ev' in line and "request handled" in line
                 and "SNAPSTART" not in line]  # fmt: skip
    assert handled["cold_start"] is True


def test_an_unconfigured_container_snapshots_without_priming(slack, aws):
    env = _deployed_env(slack, aws, **SNAPSTART_ENV)
    env.pop("SLACK_SECRET_ARN")
    container = SnapStartContainer(env)
    try:
        state = container.command("SNAPSHOT")
        assert state["registered"] is True and state["primed"] == []
        assert container.invoke(_dm("unconfigured"))["statusCode"] == 500
    finally:
        container.stop()
