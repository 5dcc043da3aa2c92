"""Lazy listeners on Lambda, through `handler.handler`: `/stack-status` acks at once, self-invokes
through Lambda's Invoke API (a fake on 127.0.0.1), and the self-invocation (delivered by the test,
as Lambda's async queue would: once, twice, late) reads CloudFormation and CloudWatch (moto server)
and posts the report to the command's response_url (FakeSlack)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt import BoltRequest

from bolt_app.aws_lambda.lazy_listeners import IN_PROGRESS_WAIT_RESERVE_SECONDS, LazyWorkFailed, self_invocation_event
from bolt_app.foundation import aws_clients
from bolt_app.local import slack_requests as sr
from bolt_app.local.fake_aws import FakeLambda, serve_access_denied
from bolt_app.local.fake_slack import FakeSlack, Fault
from bolt_app.slack_web.blocks import DINNER_PICKER_BLOCKS, RESTAURANTS
from tests.aws_endpoint import AwsEndpoint
from tests.conftest import ROOT_DIR, body_json, lambda_env, signed

FUNCTION_NAME = "slack-bolt-bot"
REQUEST_URL = "https://abcdefghij.execute-api.us-east-1.amazonaws.com/slack/events"
LAZY_FUNCTION = "report_stack_status"
ACCOUNT_ID = "123456789012"
SECRET_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT_ID}:secret:slack-bolt-bot-AbCdEf"
QUEUE_URL = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT_ID}/slack-bolt-bot-LazyWorkFailureQueue"


@pytest.fixture(scope="session")
def fake_lambda_server() -> Iterator[FakeLambda]:
    with FakeLambda().serve() as fake:
        yield fake


@pytest.fixture
def lambda_api(monkeypatch, fake_lambda_server: FakeLambda, aws_endpoint: str) -> Iterator[FakeLambda]:
    """Lambda's Invoke API is the fake; every other AWS service is moto (AWS_ENDPOINT_URL)."""
    fake_lambda_server.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", fake_lambda_server.base_url)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)
    monkeypatch.delenv("STACK_NAME", raising=False)
    aws_clients.reset()
    yield fake_lambda_server
    aws_clients.reset()


@pytest.fixture
def stack(monkeypatch, lambda_api: FakeLambda, aws_endpoint: str) -> str:
    """A stack in moto with the bot's output, and a day of the function's metrics in CloudWatch."""
    import boto3

    name = f"slack-bolt-bot-{uuid.uuid4().hex[:6]}"
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "SlackRequestUrl": {"Value": REQUEST_URL},
            # As template.yaml's: the secret's ARN and the queue's URL carry the account ID.
            "SlackSecretArn": {"Value": SECRET_ARN},
            "LazyWorkFailureQueueUrl": {"Value": QUEUE_URL},
        },
    }
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    cloudwatch = boto3.client("cloudwatch")
    function = f"{name}-fn"
    for metric, value in (("Invocations", 41.0), ("Invocations", 1.0), ("Errors", 2.0), ("Throttles", 0.0)):
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": "FunctionName", "Value": function}],
                    "Value": value,
                    "Timestamp": datetime.now(UTC) - timedelta(minutes=5),
                }
            ],
        )
    monkeypatch.setenv("STACK_NAME", name)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", function)
    return name


def stack_status_command(slack: FakeSlack, **kwargs: Any) -> dict[str, Any]:
    fields = sr.slash_command("/stack-status", response_url=slack.new_response_url())
    return signed(sr.form_body(fields), **kwargs)


def deliver(lambda_module: Any, invocation_payload: dict[str, Any]) -> dict[str, Any]:
    """Lambda's async queue handing the event to a container (a copy: each delivery is its own JSON)."""
    return lambda_module.handler(json.loads(json.dumps(invocation_payload)), sr.LambdaContext())


def report_posts(slack: FakeSlack) -> list[dict[str, Any]]:
    return [post.payload for post in slack.response_posts]


# -- the ack, and the self-invocation -------------------------------------------------------------


def test_stack_status_acks_at_once_and_self_invokes_the_same_function(lambda_module, slack, stack, lambda_api):
    context = sr.LambdaContext(function_name="slack-bolt-bot-SlackBotFunction")
    event = stack_status_command(slack)
    response = lambda_module.handler(event, context)

    assert response["statusCode"] == 200
    ack = body_json(response)
    assert ack["response_type"] == "in_channel"
    assert ack["text"] == f"Checking stack `{stack}`…"
    assert report_posts(slack) == []  # the work has not run in the ack's invocation
    [invocation] = lambda_api.invocations
    assert invocation.function_name == context.invoked_function_arn  # the same version or alias
    assert invocation.invocation_type == "Event"
    payload = invocation.payload
    assert payload["method"] == "NONE"
    assert payload["headers"]["x-slack-bolt-lazy-only"] == "1"
    assert payload["headers"]["x-slack-bolt-lazy-function-name"] == LAZY_FUNCTION
    # The original request, less what the lazy run does not need (test_the_failure_queue_...).
    sent, forwarded = parse_qs(event["body"]), parse_qs(payload["body"])
    assert forwarded == {name: values for name, values in sent.items() if name != "token"}


def test_the_lazy_run_replaces_the_ack_with_the_status_card(invoke, lambda_module, slack, stack, lambda_api):
    assert invoke(stack_status_command(slack))["statusCode"] == 200
    # Delivered right after the ack, to the container that saw the original request: its signature is
    # in the replay cache, and the self-invocation runs anyway (it is not a Slack request).
    assert deliver(lambda_module, lambda_api.invocations[0].payload)["statusCode"] == 200

    [post] = report_posts(slack)
    assert post["replace_original"] is True and post["response_type"] == "in_channel"
    card = json.dumps(post["blocks"])
    assert "CREATE_COMPLETE" in card and stack in card
    assert REQUEST_URL in card  # the one output a channel is shown
    # Posted in the channel: no ARN, no queue URL, no account ID.
    assert ACCOUNT_ID not in json.dumps(post) and "arn:" not in json.dumps(post)
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for b in post["blocks"] for f in b.get("fields", [])}
    assert fields["*Invocations*"] == "42"
    assert fields["*Errors*"] == "2"
    assert fields["*Throttles*"] == "0"
    # moto computes no percentiles: with no Duration data CloudWatch answers no values for p99.
    assert fields["*p99 duration*"] == "no data"
    assert post["text"].startswith(f"Stack `{stack}`: CREATE_COMPLETE")


def test_a_redelivered_self_invocation_posts_once(invoke, lambda_module, slack, stack, lambda_api):
    invoke(stack_status_command(slack))
    payload = lambda_api.invocations[0].payload

    for _ in range(3):
        assert deliver(lambda_module, payload)["statusCode"] == 200

    assert len(report_posts(slack)) == 1


def test_a_redelivery_to_another_container_posts_once(fresh_container, idempotency_table, slack, stack, lambda_api):
    first = fresh_container(IDEMPOTENCY_TABLE=idempotency_table, STACK_NAME=stack)
    assert first.handler(stack_status_command(slack), sr.LambdaContext())["statusCode"] == 200
    payload = lambda_api.invocations[0].payload
    second = fresh_container(IDEMPOTENCY_TABLE=idempotency_table, STACK_NAME=stack)

    deliver(first, payload)
    deliver(second, payload)

    assert len(report_posts(slack)) == 1


def test_a_lazy_command_whose_text_says_payload_still_runs(invoke, lambda_module, slack, stack, lambda_api):
    # Bolt's own body parser takes any form body containing "payload" for an interaction and reads a
    # command's fields as {}: the ack (parsed by the request guard) worked, the lazy run matched nothing.
    fields = sr.slash_command("/stack-status", "payloads-api", response_url=slack.new_response_url())
    assert invoke(signed(sr.form_body(fields)))["statusCode"] == 200

    assert deliver(lambda_module, lambda_api.invocations[0].payload)["statusCode"] == 200

    [post] = report_posts(slack)
    assert "CREATE_COMPLETE" in json.dumps(post["blocks"])


def test_a_late_delivery_still_runs(invoke, lambda_module, slack, stack, lambda_api):
    # The command was acked ten minutes ago; Lambda's queue delivers its self-invocation only now.
    # Over HTTP the same request is stale (401); as a self-invocation, authorised by IAM, it runs.
    ten_minutes_ago = int(time.time()) - 600
    stale = stack_status_command(slack, timestamp=ten_minutes_ago)
    assert invoke(dict(stale))["statusCode"] == 401
    request = BoltRequest(body=stale["body"], headers=stale["headers"])
    request.lazy_function_name = LAZY_FUNCTION
    late = self_invocation_event(request)

    assert deliver(lambda_module, late)["statusCode"] == 200

    [post] = report_posts(slack)
    assert "CREATE_COMPLETE" in json.dumps(post["blocks"])


def test_a_failed_post_raises_so_lambda_retries_and_the_retry_posts(invoke, lambda_module, slack, stack, lambda_api):
    invoke(stack_status_command(slack))
    payload = lambda_api.invocations[0].payload
    slack.inject("response_url", *[Fault(status=503, body="service_unavailable")] * 3)

    with pytest.raises(LazyWorkFailed):
        deliver(lambda_module, payload)
    assert report_posts(slack) == []

    # Lambda's retry (same event): the record was released, so it runs, and posts once.
    assert deliver(lambda_module, payload)["statusCode"] == 200
    assert len(report_posts(slack)) == 1


def test_a_redelivery_while_the_first_still_runs_is_not_an_error(invoke, lambda_module, slack, stack, lambda_api):
    # Lambda may deliver the same async event twice at once. The second delivery finds the record in
    # progress and waits for the first's outcome: answered, so it is a duplicate, not an error (which
    # would make Lambda retry it and, past its retries, put a spurious entry in the failure queue).
    invoke(stack_status_command(slack))
    payload = lambda_api.invocations[0].payload
    # The first delivery's post is held by Slack (within the call's timeout) while the second arrives.
    slack.inject("response_url", Fault(delay=1.0, then_succeed=True))
    records = lambda_module.bot.gateway.exactly_once._records
    earlier = set(records)  # the container's store holds earlier tests' records too
    first_result: list[dict[str, Any]] = []
    first = threading.Thread(target=lambda: first_result.append(deliver(lambda_module, payload)))
    first.start()
    try:
        deadline = time.monotonic() + 10
        while not set(records) - earlier and time.monotonic() < deadline:
            time.sleep(0.01)
        assert set(records) - earlier, "the first delivery never took its record"

        second = deliver(lambda_module, payload)
    finally:
        first.join()

    assert [r["statusCode"] for r in first_result] == [200]
    assert second["statusCode"] < 500
    assert len(report_posts(slack)) == 1


@dataclass
class _ShortLambdaContext(sr.LambdaContext):
    """An invocation near its end: the wait for another delivery is over in half a second."""

    def get_remaining_time_in_millis(self) -> int:
        return int((IN_PROGRESS_WAIT_RESERVE_SECONDS + 0.5) * 1000)


def test_a_redelivery_that_finds_the_work_still_running_is_not_a_success(
    invoke, lambda_module, slack, stack, lambda_api
):
    # Past its wait, the second delivery has not run the work: a success would end Lambda's retries,
    # and nothing would run the work should the first delivery fail after all.
    invoke(stack_status_command(slack))
    payload = lambda_api.invocations[0].payload
    slack.inject("response_url", Fault(delay=1.2, then_succeed=True))
    records = lambda_module.bot.gateway.exactly_once._records
    earlier = set(records)
    first = threading.Thread(target=lambda: deliver(lambda_module, payload))
    first.start()
    try:
        deadline = time.monotonic() + 10
        while not set(records) - earlier and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(LazyWorkFailed):
            lambda_module.handler(json.loads(json.dumps(payload)), _ShortLambdaContext())
    finally:
        first.join()
    assert len(report_posts(slack)) == 1


def test_a_lazy_record_whose_answer_was_lost_still_runs_the_work(
    monkeypatch, aws_endpoint, fresh_container, idempotency_table, slack, stack, lambda_api
):
    # The record's PutItem lands, its answer comes after the 0.5 s read timeout, botocore's retry is
    # refused by the delivery's own record: that is the delivery's own claim, and the work runs.
    with AwsEndpoint(aws_endpoint).serve() as dynamodb:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url)
        aws_clients.reset()
        container = fresh_container(IDEMPOTENCY_TABLE=idempotency_table, STACK_NAME=stack)
        assert container.handler(stack_status_command(slack), sr.LambdaContext())["statusCode"] == 200
        payload = lambda_api.invocations[0].payload
        dynamodb.hold_answers["DynamoDB_20120810.PutItem"] = 1

        result = deliver(container, payload)

        assert dynamodb.count("DynamoDB_20120810.PutItem") == 2
    assert result["statusCode"] == 200
    [post] = report_posts(slack)
    assert "CREATE_COMPLETE" in json.dumps(post["blocks"])


@pytest.mark.parametrize("kind", ["command", "event", "interaction"])
def test_the_failure_queue_never_holds_the_verification_token_or_the_signature(kind, slack, lambda_api):
    """Lambda's invocation record in the failure queue carries the self-invocation event, kept 14 days:
    it must hold neither Slack's legacy verification token nor the request's signature, and the lazy
    run must still tell deliveries apart (a redelivery is keyed the same)."""
    from slack_bolt import App
    from slack_bolt.authorization import AuthorizeResult

    from bolt_app.aws_lambda.lazy_listeners import LambdaSelfInvoker, handle_self_invocation
    from bolt_app.request_path.exactly_once import InMemoryExactlyOnce

    runs: list[str] = []
    app = App(
        signing_secret="unused",
        authorize=lambda enterprise_id, team_id: AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id),
        request_verification_enabled=False,
        process_before_response=True,
    )
    app.listener_runner.lazy_listener_runner = LambdaSelfInvoker(app.logger)

    def record(body: dict[str, Any]) -> None:
        runs.append(json.dumps(body))

    bodies = {
        "command": sr.form_body(sr.slash_command("/stack-status", response_url=slack.new_response_url())),
        "event": sr.json_body(sr.event_callback(sr.dm_message("slow work"))),
        "interaction": sr.interactive_body(
            sr.block_actions(
                sr.button_click(DINNER_PICKER_BLOCKS, RESTAURANTS[0].action_id), response_url=slack.new_response_url()
            )
        ),
    }
    body, content_type = bodies[kind]
    assert "legacy-verification-token" in body  # as Slack sends it
    app.command("/stack-status")(ack=lambda ack: ack(), lazy=[record])
    app.event("message")(ack=lambda ack: ack(), lazy=[record])
    app.action(re.compile(".*"))(ack=lambda ack: ack(), lazy=[record])
    headers = sr.signed_headers("unused", body, content_type, int(time.time()))
    request = BoltRequest(body=body, headers={**headers, "x-slack-bolt-lazy-function-name": "record"})
    request.lazy_function_name = "record"

    queued = json.dumps(self_invocation_event(request))

    assert "legacy-verification-token" not in queued
    assert headers["x-slack-signature"] not in queued and headers["x-slack-signature"].removeprefix("v0=") not in queued
    store = InMemoryExactlyOnce()
    for _ in range(2):  # Lambda's redelivery of the same event: run once
        handle_self_invocation(app, store, json.loads(queued), sr.LambdaContext(), app.logger)
    assert len(runs) == 1
    assert "legacy-verification-token" not in runs[0]


# -- HTTP requests never take the lazy-only path ---------------------------------------------------

FORGED_LAZY_HEADERS = {"x-slack-bolt-lazy-only": "1", "x-slack-bolt-lazy-function-name": LAZY_FUNCTION}


@pytest.mark.parametrize("shape", ["http_api", "rest_api", "function_url"])
def test_forged_lazy_headers_over_http_do_nothing_lazy(invoke, slack, stack, lambda_api, shape):
    event = stack_status_command(slack, shape=shape)
    event["headers"].update(FORGED_LAZY_HEADERS)
    # Signed, with the lazy headers: Bolt would skip the ack and run the work inside this request.
    response = invoke(event)

    assert response["statusCode"] == 400
    assert report_posts(slack) == [] and lambda_api.invocations == []


@pytest.mark.parametrize("shape", ["http_api", "function_url"])
def test_a_delivery_header_over_http_is_refused(invoke, slack, stack, lambda_api, shape):
    # The acting listeners trust x-bolt-app-delivery to recognise Lambda's retry of their own run: only the
    # self-invocation may carry it (off Lambda, Bolt's thread runner hands the HTTP request's headers on).
    event = stack_status_command(slack, shape=shape)
    event["headers"]["x-bolt-app-delivery"] = "0" * 64
    response = invoke(event)

    assert response["statusCode"] == 400
    assert report_posts(slack) == [] and lambda_api.invocations == []


def test_forged_lazy_headers_through_the_alb_handler_do_nothing_lazy(lambda_module, slack, stack, lambda_api):
    event = stack_status_command(slack, shape="alb")
    event["headers"].update({k.title(): v for k, v in FORGED_LAZY_HEADERS.items()})

    response = lambda_module.asgi_handler(event, sr.LambdaContext())

    assert response["statusCode"] == 400
    assert report_posts(slack) == [] and lambda_api.invocations == []


def test_the_alb_handler_acks_self_invokes_and_runs_the_self_invocation(lambda_module, slack, stack, lambda_api):
    context = sr.LambdaContext()
    response = lambda_module.asgi_handler(stack_status_command(slack, shape="alb"), context)
    assert response["statusCode"] == 200 and stack in json.loads(response["body"])["text"]
    [invocation] = lambda_api.invocations
    assert invocation.function_name == context.invoked_function_arn

    lambda_module.asgi_handler(json.loads(json.dumps(invocation.payload)), sr.LambdaContext())

    [post] = report_posts(slack)
    assert "CREATE_COMPLETE" in json.dumps(post["blocks"])


def test_a_self_invocation_without_the_lazy_headers_does_nothing(lambda_module, slack, stack, lambda_api):
    event = {"method": "NONE", "headers": {"x-slack-signature": "v0=00"}, "body": "command=%2Fstack-status"}

    assert deliver(lambda_module, event)["statusCode"] == 400
    assert report_posts(slack) == []


def test_a_self_invocation_naming_a_renamed_lazy_function_is_a_failure(
    invoke, lambda_module, slack, stack, lambda_api, caplog
):
    # A deploy renamed the lazy function while Lambda held the event for a retry: nothing can run
    # it. That is a failure (Lambda retries, then the failure queue and its alarm), not "processed".
    invoke(stack_status_command(slack))
    payload = lambda_api.invocations[0].payload
    payload["headers"]["x-slack-bolt-lazy-function-name"] = "report_stack_status_v1"

    with pytest.raises(LazyWorkFailed):
        deliver(lambda_module, payload)

    assert report_posts(slack) == []
    [handled] = [r for r in caplog.records if r.getMessage() == "lazy listener handled"]
    assert handled.outcome == "processed" and handled.status == 500


# -- what the report says when AWS says no ----------------------------------------------------------


def run_stack_status(invoke: Any, lambda_module: Any, slack: FakeSlack, lambda_api: FakeLambda) -> dict[str, Any]:
    ack = invoke(stack_status_command(slack))
    assert ack["statusCode"] == 200
    deliver(lambda_module, lambda_api.invocations[-1].payload)
    [post] = report_posts(slack)
    return post


def test_a_missing_stack_is_named(monkeypatch, invoke, lambda_module, slack, lambda_api):
    monkeypatch.setenv("STACK_NAME", "no-such-stack")

    post = run_stack_status(invoke, lambda_module, slack, lambda_api)

    assert post["text"] == "Stack `no-such-stack` not found."


def test_access_denied_is_named(monkeypatch, invoke, lambda_module, slack, lambda_api):
    # moto does not enforce IAM: a fake endpoint answers as AWS does when the role lacks the grant.
    monkeypatch.setenv("STACK_NAME", "slack-bolt-bot")
    with serve_access_denied("cloudformation", "DescribeStacks") as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", endpoint)
        aws_clients.reset()
        post = run_stack_status(invoke, lambda_module, slack, lambda_api)

    assert post["text"] == "Could not read stack `slack-bolt-bot`: AWS answered `AccessDenied`."
    assert "Traceback" not in json.dumps(post)


def test_metrics_access_denied_still_reports_the_stack(monkeypatch, invoke, lambda_module, slack, stack, lambda_api):
    with serve_access_denied("cloudwatch", "GetMetricData") as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", endpoint)
        aws_clients.reset()
        post = run_stack_status(invoke, lambda_module, slack, lambda_api)

    card = json.dumps(post["blocks"])
    assert "CREATE_COMPLETE" in card and "AccessDenied" in card


def test_outside_aws_the_answer_says_the_bot_is_not_deployed(invoke, lambda_module, slack, lambda_api):
    ack = body_json(invoke(stack_status_command(slack)))
    assert ack["text"] == "Checking where this bot is deployed…"
    deliver(lambda_module, lambda_api.invocations[0].payload)

    [post] = report_posts(slack)
    assert "not deployed on AWS" in post["text"] and "sam deploy --guided" in post["text"]


def test_a_failed_self_invocation_is_an_error_answer_not_silence(invoke, slack, stack, lambda_api):
    lambda_api.errors.extend([(429, "TooManyRequestsException")] * 2)

    response = invoke(stack_status_command(slack))

    # 5xx: Slack shows the user that the command failed (and retries an event), rather than a
    # "Checking…" that never ends.
    assert response["statusCode"] == 500
    assert lambda_api.invocations == [] and report_posts(slack) == []


# -- the plain paths' cold path --------------------------------------------------------------------


def test_the_plain_paths_cold_path_never_loads_boto3(slack):
    """A fresh container answers a DM, /test and a click without importing boto3; /stack-status's ack does."""
    code = textwrap.dedent("""
        import json, sys
        import handler
        from bolt_app.local import slack_requests as sr
        events = json.loads(sys.stdin.read())
        for event in events[:-1]:
            assert handler.handler(event, sr.LambdaContext())["statusCode"] == 200
        assert "boto3" not in sys.modules and "botocore.session" not in sys.modules, "boto3 on a plain path"
        handler.handler(events[-1], sr.LambdaContext())
        assert "boto3" in sys.modules  # the self-invocation needs the Lambda client
        print("OK")
    """)
    click = sr.button_click(DINNER_PICKER_BLOCKS, "dinner_pick_farmhouse")
    picker_click = sr.block_actions(click, response_url=slack.new_response_url())
    events = [
        signed(sr.json_body(sr.event_callback(sr.dm_message("hello")))),
        signed(sr.form_body(sr.slash_command("/test", response_url=slack.new_response_url()))),
        signed(sr.interactive_body(picker_click)),
        stack_status_command(slack),
    ]
    env = lambda_env(slack, AWS_ENDPOINT_URL_LAMBDA="http://127.0.0.1:9", AWS_DEFAULT_REGION="us-east-1")
    result = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(events),
        cwd=ROOT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "OK" in result.stdout, result.stdout + result.stderr


def test_bolt_does_not_verify_the_signature_a_second_time(lambda_module):
    """Bolt's own RequestVerification is off: the request guard is the one verifier (tests/test_verify_once.py)."""
    from slack_bolt.middleware.request_verification import RequestVerification

    app = lambda_module.bot.lambda_adapter.app
    assert not any(isinstance(m, RequestVerification) for m in app._middleware_list)


def test_an_events_lazy_work_is_keyed_on_its_event_id_not_its_signature():
    """Slack retries an event with a new signature (a new timestamp) when the ack's answer was lost:
    lazy work started again by the retry must not run twice. Commands and interactions, which Slack
    never retries, stay keyed on their signature."""
    from slack_bolt import App
    from slack_bolt.authorization import AuthorizeResult

    from bolt_app.aws_lambda.lazy_listeners import LambdaSelfInvoker, handle_self_invocation
    from bolt_app.request_path.exactly_once import InMemoryExactlyOnce

    runs: list[str] = []
    app = App(
        signing_secret="unused",
        authorize=lambda enterprise_id, team_id: AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id),
        request_verification_enabled=False,
        process_before_response=True,
    )
    app.listener_runner.lazy_listener_runner = LambdaSelfInvoker(app.logger)

    def record(event: dict[str, Any]) -> None:
        runs.append(event["text"])

    app.event("message")(ack=lambda ack: ack(), lazy=[record])
    body, content_type = sr.json_body(sr.event_callback(sr.dm_message("slow work")))
    store = InMemoryExactlyOnce()
    for retry_num, timestamp in ((None, int(time.time())), (1, int(time.time()) + 61)):
        headers = sr.signed_headers("unused", body, content_type, timestamp)
        if retry_num:
            headers["x-slack-retry-num"] = str(retry_num)
        request = BoltRequest(body=body, headers={**headers, "x-slack-bolt-lazy-function-name": "record"})
        request.lazy_function_name = "record"
        handle_self_invocation(app, store, self_invocation_event(request), sr.LambdaContext(), app.logger)

    assert runs == ["slow work"]
