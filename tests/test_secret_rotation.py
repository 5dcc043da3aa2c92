"""Rotating the signing secret and the bot token under a warm container: no window of 401s or failed
replies, and a flood of forged requests cannot become a flood of Secrets Manager reads.

Secrets Manager is moto's server; Secrets Manager calls go through a counting endpoint in front of it
(AWS_ENDPOINT_URL_SECRETS_MANAGER), so the reads counted are the HTTP calls the container really made.
"""

from __future__ import annotations

import json

import pytest

from bolt_app.local import slack_requests as sr
from tests.aws_endpoint import AwsEndpoint
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, lambda_env
from tests.containers import Container

GET_SECRET = "secretsmanager.GetSecretValue"
NEW_TOKEN = "xoxb-rotated-0000000000-new-bot-token"
NEW_SECRET = "rotated-signing-secret-9a8b7c6d5e4f"


@pytest.fixture
def secrets_endpoint(aws_endpoint):
    with AwsEndpoint(aws_endpoint).serve() as endpoint:
        yield endpoint


def _rotate(aws_endpoint: str, arn: str, *, token: str, signing_secret: str) -> None:
    import boto3

    boto3.client("secretsmanager", endpoint_url=aws_endpoint).put_secret_value(
        SecretId=arn, SecretString=json.dumps({"SLACK_BOT_TOKEN": token, "SLACK_SIGNING_SECRET": signing_secret})
    )


@pytest.fixture
def container(slack, slack_secret_arn, secrets_endpoint):
    env = lambda_env(slack, SLACK_SECRET_ARN=slack_secret_arn, AWS_ENDPOINT_URL_SECRETS_MANAGER=secrets_endpoint.url)
    del env["SLACK_BOT_TOKEN"], env["SLACK_SIGNING_SECRET"]
    with Container(env) as started:
        yield started


def _dm(secret: str, text: str) -> dict:
    return sr.signed_event(secret, sr.json_body(sr.event_callback(sr.dm_message(text))))


def test_rotated_secret_and_token_are_picked_up_by_the_next_request(
    container, slack, slack_secret_arn, aws_endpoint, secrets_endpoint
):
    assert container.invoke(_dm(SIGNING_SECRET, "before"))["statusCode"] == 200
    assert secrets_endpoint.count(GET_SECRET) == 1  # read once, at start

    _rotate(aws_endpoint, slack_secret_arn, token=NEW_TOKEN, signing_secret=NEW_SECRET)
    slack.rotate_token(NEW_TOKEN)
    after = container.invoke(_dm(NEW_SECRET, "after"))
    later = container.invoke(_dm(NEW_SECRET, "later"))
    old = container.invoke(_dm(SIGNING_SECRET, "old secret"))

    assert after["statusCode"] == 200 and later["statusCode"] == 200
    # The old signing secret no longer verifies; inside the re-read limit that is "come again" (503).
    assert old["statusCode"] == 503
    assert [(c.args["text"], c.token) for c in slack.calls_to("chat.postMessage")] == [
        ("Echo: before", BOT_TOKEN),
        ("Echo: after", NEW_TOKEN),
        ("Echo: later", NEW_TOKEN),
    ]
    assert secrets_endpoint.count(GET_SECRET) == 2  # one re-read, for the first request with the new secret


def test_rotated_token_alone_is_retried_once_with_the_new_token(
    container, slack, slack_secret_arn, aws_endpoint, secrets_endpoint
):
    assert container.invoke(_dm(SIGNING_SECRET, "before"))["statusCode"] == 200

    _rotate(aws_endpoint, slack_secret_arn, token=NEW_TOKEN, signing_secret=SIGNING_SECRET)
    slack.rotate_token(NEW_TOKEN)
    response = container.invoke(_dm(SIGNING_SECRET, "after"))

    assert response["statusCode"] == 200
    attempts = [(c.args["text"], c.token, c.answer.get("error")) for c in slack.calls_to("chat.postMessage")]
    assert attempts == [
        ("Echo: before", BOT_TOKEN, None),
        ("Echo: after", BOT_TOKEN, "invalid_auth"),  # Slack refuses the old token...
        ("Echo: after", NEW_TOKEN, None),  # ...and the call is made once more with the re-read one
    ]
    assert secrets_endpoint.count(GET_SECRET) == 2


def test_fifty_forged_requests_cause_at_most_one_extra_read(container, slack, secrets_endpoint):
    forged = [container.invoke(_dm("forged-secret", f"forged {n}")) for n in range(50)]
    genuine = container.invoke(_dm(SIGNING_SECRET, "genuine"))

    # The first is re-read and refused; the rest, inside the re-read limit, cannot be told from a
    # request signed with a just-rotated secret, so they are asked to come again (503), never served.
    assert forged[0]["statusCode"] == 401
    assert {r["statusCode"] for r in forged[1:]} == {503}
    assert genuine["statusCode"] == 200
    assert secrets_endpoint.count(GET_SECRET) <= 2  # the read at start, and at most one re-read
    assert [c.args["text"] for c in slack.calls_to("chat.postMessage")] == ["Echo: genuine"]


def test_a_revoked_token_is_not_retried_endlessly(container, slack, secrets_endpoint):
    # Revoked in Slack, the secret not updated: re-reading finds nothing newer. The failure is
    # permanent (200, so Slack does not retry), and the next failures do not re-read within the minute:
    # those may have met a token rotated since, so they answer 5xx and Slack's retry (a minute on) re-reads.
    slack.rotate_token("xoxb-someone-else")
    responses = [container.invoke(_dm(SIGNING_SECRET, f"revoked {n}")) for n in range(3)]

    assert [r["statusCode"] for r in responses] == [200, 500, 500]
    assert secrets_endpoint.count(GET_SECRET) == 2
    assert all(c.answer.get("error") == "invalid_auth" for c in slack.calls_to("chat.postMessage"))
    assert len(slack.calls_to("chat.postMessage")) == 3  # one call each: no retry without a newer token


def test_rereads_are_bounded_from_the_last_reread_not_from_start(
    slack_secret_arn, aws_endpoint, secrets_endpoint, monkeypatch
):
    from bolt_app.config import REREAD_INTERVAL_SECONDS, RereadDeferred, SlackCredentials
    from bolt_app.foundation import aws_clients

    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", secrets_endpoint.url)
    aws_clients.reset()
    now = [1000.0]
    credentials = SlackCredentials(BOT_TOKEN, SIGNING_SECRET, slack_secret_arn, clock=lambda: now[0])
    try:
        # Right after start: the first re-read is allowed at once (a rotation just after a cold start).
        _rotate(aws_endpoint, slack_secret_arn, token=NEW_TOKEN, signing_secret=NEW_SECRET)
        assert credentials.newer_signing_secret(SIGNING_SECRET) == NEW_SECRET
        assert credentials.bot_token == NEW_TOKEN
        # Rotated again half a minute later: not re-read until a minute after the last re-read.
        _rotate(aws_endpoint, slack_secret_arn, token=BOT_TOKEN, signing_secret="third-secret")
        now[0] += REREAD_INTERVAL_SECONDS / 2
        with pytest.raises(RereadDeferred):
            credentials.newer_signing_secret(NEW_SECRET)
        now[0] += REREAD_INTERVAL_SECONDS / 2
        assert credentials.newer_signing_secret(NEW_SECRET) == "third-secret"
        # A value another request already picked up needs no read at all.
        assert credentials.newer_bot_token(NEW_TOKEN) == BOT_TOKEN
        assert secrets_endpoint.count(GET_SECRET) == 2
        # Each credential has its own limit: the signing secret's re-reads leave the token's free.
        _rotate(aws_endpoint, slack_secret_arn, token="xoxb-fourth-token", signing_secret="third-secret")
        assert credentials.newer_bot_token(BOT_TOKEN) == "xoxb-fourth-token"
        with pytest.raises(RereadDeferred):
            credentials.newer_bot_token("xoxb-fourth-token")
        assert secrets_endpoint.count(GET_SECRET) == 3
    finally:
        aws_clients.reset()


# -- each credential its own re-read limit (issue 18, item 2) ---------------------------------------


def test_a_forged_request_does_not_use_up_the_token_reread(
    container, slack, slack_secret_arn, aws_endpoint, secrets_endpoint
):
    # Anyone can send a forged request; it re-reads the signing secret. A token rotated in the same
    # minute must still be re-read when Slack refuses it: the DM is answered, not lost.
    assert container.invoke(_dm("forged-secret", "forged"))["statusCode"] == 401

    _rotate(aws_endpoint, slack_secret_arn, token=NEW_TOKEN, signing_secret=SIGNING_SECRET)
    slack.rotate_token(NEW_TOKEN)
    response = container.invoke(_dm(SIGNING_SECRET, "after the forgery"))

    assert response["statusCode"] == 200
    assert [(c.args["text"], c.token) for c in slack.calls_to("chat.postMessage")][-1] == (
        "Echo: after the forgery",
        NEW_TOKEN,
    )
    assert secrets_endpoint.count(GET_SECRET) == 3  # start, the forgery's re-read, the token's


def test_a_rotation_inside_the_reread_limit_is_answered_5xx_so_slack_retries(
    container, slack, slack_secret_arn, aws_endpoint, secrets_endpoint
):
    # The forgery used the signing secret's re-read; a genuine event signed with a secret rotated in
    # that minute cannot be verified yet. A 401 would lose it; a 5xx has Slack retry it later.
    assert container.invoke(_dm("forged-secret", "forged"))["statusCode"] == 401
    _rotate(aws_endpoint, slack_secret_arn, token=BOT_TOKEN, signing_secret=NEW_SECRET)

    response = container.invoke(_dm(NEW_SECRET, "signed with the new secret"))

    assert response["statusCode"] == 503
    assert slack.calls_to("chat.postMessage") == []
