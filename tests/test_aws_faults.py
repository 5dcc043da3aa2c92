"""A slow or throttled DynamoDB table does not hold a request past Slack's 3 seconds: the AWS clients'
short timeouts and bounded retries let exactly-once fail open (answer rather than lose the message)
in time. DynamoDB is moto's server behind an endpoint that delays or throttles (AWS_ENDPOINT_URL_DYNAMODB)."""

from __future__ import annotations

import time

import pytest

from bolt_app.foundation import aws_clients
from bolt_app.local import slack_requests as sr
from tests.aws_endpoint import DYNAMODB_THROTTLING, DYNAMODB_THROUGHPUT_EXCEEDED, AwsEndpoint
from tests.conftest import SIGNING_SECRET

SLACK_WINDOW_SECONDS = 3.0
PUT_ITEM = "DynamoDB_20120810.PutItem"
UPDATE_ITEM = "DynamoDB_20120810.UpdateItem"


@pytest.fixture
def dynamodb(aws_endpoint, monkeypatch):
    with AwsEndpoint(aws_endpoint).serve() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint.url)
        aws_clients.reset()  # clients are made once per container: make them with this endpoint
        yield endpoint
    aws_clients.reset()


@pytest.fixture
def container(fresh_container, idempotency_table, dynamodb):
    return fresh_container(IDEMPOTENCY_TABLE=idempotency_table)


def _timed_dm(container, text: str) -> tuple[dict, float]:
    event = sr.signed_event(SIGNING_SECRET, sr.json_body(sr.event_callback(sr.dm_message(text))))
    started = time.monotonic()
    response = container.handler(event, sr.LambdaContext())
    return response, time.monotonic() - started


def _replies(slack) -> list[str]:
    return [c.args["text"] for c in slack.calls_to("chat.postMessage")]


@pytest.mark.parametrize("error", [DYNAMODB_THROTTLING, DYNAMODB_THROUGHPUT_EXCEEDED], ids=["throttling", "throughput"])
def test_throttled_table_fails_open_inside_slacks_window(container, dynamodb, slack, error):
    dynamodb.error = error

    response, took = _timed_dm(container, "throttled table")

    assert response["statusCode"] == 200
    assert _replies(slack) == ["Echo: throttled table"]
    assert took < SLACK_WINDOW_SECONDS
    assert dynamodb.count(PUT_ITEM) == aws_clients.REQUEST_PATH.max_attempts  # retried, and bounded


def test_slow_table_fails_open_inside_slacks_window(container, dynamodb, slack):
    dynamodb.delay = 5.0  # far past the client's read timeout, and past Slack's window

    response, took = _timed_dm(container, "slow table")

    assert response["statusCode"] == 200
    assert _replies(slack) == ["Echo: slow table"]
    assert took < SLACK_WINDOW_SECONDS
    assert dynamodb.count(PUT_ITEM) == aws_clients.REQUEST_PATH.max_attempts


def test_table_slow_only_to_record_the_answer_still_answers_once_in_time(container, dynamodb, slack):
    # The record is taken, the reply posted, and marking it answered times out: the reply stands.
    dynamodb.delay, dynamodb.faulty_targets = 5.0, {UPDATE_ITEM}

    response, took = _timed_dm(container, "slow bookkeeping")

    assert response["statusCode"] == 200
    assert _replies(slack) == ["Echo: slow bookkeeping"]
    assert took < SLACK_WINDOW_SECONDS


# -- a write that landed, whose answer was lost (issue 18, item 1) -------------------------------


def test_a_record_whose_answer_was_lost_is_the_attempts_own(container, dynamodb, slack):
    # The first PutItem lands in the table; its answer comes after the client's 0.5 s read timeout,
    # so botocore retries it, and the retry's condition fails against the attempt's own record.
    dynamodb.hold_answers[PUT_ITEM] = 1

    response, took = _timed_dm(container, "answer lost")

    assert dynamodb.count(PUT_ITEM) == 2  # the retry did happen
    assert response["statusCode"] == 200  # not 503 "being processed" by itself
    assert _replies(slack) == ["Echo: answer lost"]
    assert took < SLACK_WINDOW_SECONDS


def test_a_pick_whose_claim_answer_was_lost_is_the_clickers_own(container, dynamodb, slack):
    from tests.test_first_pick import FARMHOUSE, _click, _ephemerals, _picker, _shown

    picker = _picker(slack)
    dynamodb.hold_answers[PUT_ITEM] = 1

    response = container.handler(_click(slack, picker, "U0DWIGHT01", FARMHOUSE), sr.LambdaContext())

    assert dynamodb.count(PUT_ITEM) == 2
    assert response["statusCode"] == 200
    assert _shown(slack, picker)["text"] == "<@U0DWIGHT01> picked *Farmhouse Thai Cuisine*"
    assert _ephemerals(slack) == []  # not told they lost to themselves
