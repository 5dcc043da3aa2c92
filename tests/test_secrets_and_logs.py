"""Secrets Manager on Lambda (moto server), and no secret in any log line or response."""

from __future__ import annotations

import json
import time

from bolt_app.local import slack_requests as sr
from bolt_app.local.fake_slack import Fault
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, lambda_env
from tests.containers import Container


def _secret_env(slack, arn: str, **extra: str) -> dict[str, str]:
    env = lambda_env(slack, SLACK_SECRET_ARN=arn, **extra)
    del env["SLACK_BOT_TOKEN"], env["SLACK_SIGNING_SECRET"]
    return env


def test_credentials_come_from_secrets_manager(slack, slack_secret_arn):
    with Container(_secret_env(slack, slack_secret_arn)) as container:
        response = container.invoke(
            sr.signed_event(SIGNING_SECRET, sr.json_body(sr.event_callback(sr.dm_message("via secret"))))
        )
        forged = container.invoke(sr.signed_event("other", sr.json_body(sr.event_callback(sr.dm_message("forged")))))

    assert response["statusCode"] == 200
    assert forged["statusCode"] == 401
    [call] = slack.calls_to("chat.postMessage")
    assert call.token == BOT_TOKEN and call.args["text"] == "Echo: via secret"


def test_secret_is_read_once_per_container(slack, slack_secret_arn, aws_endpoint):
    import boto3

    with Container(_secret_env(slack, slack_secret_arn)) as container:
        for n in range(3):
            body = sr.json_body(sr.event_callback(sr.dm_message(f"message {n}")))
            assert container.invoke(sr.signed_event(SIGNING_SECRET, body))["statusCode"] == 200
        # Rotate the secret: this warm container keeps the credentials it read at start.
        boto3.client("secretsmanager", endpoint_url=aws_endpoint).put_secret_value(
            SecretId=slack_secret_arn,
            SecretString=json.dumps({"SLACK_BOT_TOKEN": "xoxb-rotated", "SLACK_SIGNING_SECRET": "rotated"}),
        )
        body = sr.json_body(sr.event_callback(sr.dm_message("after rotation")))
        assert container.invoke(sr.signed_event(SIGNING_SECRET, body))["statusCode"] == 200

    assert {c.token for c in slack.calls_to("chat.postMessage")} == {BOT_TOKEN}


def test_unreadable_secret_is_one_clear_line_and_a_500(slack, aws_endpoint):
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:does-not-exist-AbCdEf"
    container = Container(_secret_env(slack, missing))
    with container:
        response = container.invoke(
            sr.signed_event(SIGNING_SECRET, sr.json_body(sr.event_callback(sr.dm_message("x"))))
        )
    output = container.close()

    assert response["statusCode"] == 500
    assert "SLACK_SECRET_ARN could not be read (ResourceNotFoundException)" in output
    assert "Traceback" not in output


def _a_busy_day(container: Container, slack) -> list[dict]:
    """Every kind of request and failure, for the log checks."""
    events = [
        sr.signed_event(
            SIGNING_SECRET,
            sr.json_body(
                sr.event_callback(
                    sr.dm_message("secret plans <https://example.com>", files=[sr.file_metadata("plans.pdf")])
                )
            ),
        ),
        sr.signed_event(SIGNING_SECRET, sr.form_body(sr.slash_command("/test", response_url=slack.new_response_url()))),
        sr.signed_event("forged-secret", sr.json_body(sr.event_callback(sr.dm_message("secret plans forged")))),
        sr.signed_event(SIGNING_SECRET, ("{broken secret plans", "application/json")),
        sr.signed_event(SIGNING_SECRET, sr.json_body(sr.event_callback(sr.dm_message("secret plans fail")))),
    ]
    picker = [
        {
            "block_id": "dinner_picker",
            "elements": [{"type": "button", "action_id": "dinner_pick_ler_ros", "value": "Ler Ros"}],
        }
    ]
    events.append(
        sr.signed_event(
            SIGNING_SECRET,
            sr.interactive_body(
                sr.block_actions(sr.button_click(picker, "dinner_pick_ler_ros"), response_url=slack.new_response_url())
            ),
        )
    )
    responses = []
    for n, event in enumerate(events):
        if n == 4:  # Slack refuses this one: the failure path logs too
            slack.inject("chat.postMessage", Fault(status=200, body={"ok": False, "error": "invalid_auth"}))
        responses.append(container.invoke(event))
    return [*responses, *events]


def test_no_token_secret_or_signature_in_any_output_even_at_debug(slack):
    env = lambda_env(slack, POWERTOOLS_LOG_LEVEL="DEBUG", TEST_ROOT_LOG_LEVEL="DEBUG")
    container = Container(env)
    with container:
        responses_and_events = _a_busy_day(container, slack)
    output = container.close()

    assert '"level":"DEBUG"' in output or "DEBUG" in output  # the capture really ran at DEBUG
    assert "request handled" in output
    signatures = [
        e["headers"]["x-slack-signature"]
        for e in responses_and_events
        if "headers" in e and "x-slack-signature" in e["headers"]
    ]
    assert signatures
    everything = output + json.dumps([r for r in responses_and_events if "statusCode" in r])
    for secret in [BOT_TOKEN, SIGNING_SECRET, *signatures]:
        assert secret not in everything
    assert "xoxb-" not in output


def test_message_text_is_not_logged_at_info(slack):
    container = Container(lambda_env(slack, POWERTOOLS_LOG_LEVEL="INFO", TEST_ROOT_LOG_LEVEL="INFO"))
    with container:
        _a_busy_day(container, slack)
    output = container.close()

    # The capture ran: rejections and the refused reply are logged at INFO and above (a routine
    # answered request's "request handled" is DEBUG, so it is not here).
    assert "request rejected" in output and "listener failed" in output
    assert "secret plans" not in output
    assert "plans.pdf" not in output


def test_log_lines_carry_slack_correlation_keys(slack):
    container = Container(lambda_env(slack))
    body = sr.json_body(sr.event_callback(sr.dm_message("correlate me"), event_id="Ev0CORRELATE1"))
    with container:
        container.invoke(sr.signed_event(SIGNING_SECRET, body, retry_num=2, timestamp=int(time.time())))
    lines = [json.loads(line) for line in container.close().splitlines() if line.startswith('{"level"')]

    [handled] = [line for line in lines if line["message"] == "request handled"]
    assert handled["event_id"] == "Ev0CORRELATE1"
    assert handled["retry_num"] == 2
    assert handled["function_request_id"]  # Powertools' Lambda context injection


def test_the_secret_wins_over_stale_environment_tokens(slack, slack_secret_arn):
    env = lambda_env(slack, SLACK_SECRET_ARN=slack_secret_arn)
    env["SLACK_BOT_TOKEN"], env["SLACK_SIGNING_SECRET"] = "xoxb-stale-token", "stale-secret"
    with Container(env) as container:
        response = container.invoke(
            sr.signed_event(SIGNING_SECRET, sr.json_body(sr.event_callback(sr.dm_message("s"))))
        )

    assert response["statusCode"] == 200
    assert {c.token for c in slack.calls_to("chat.postMessage")} == {BOT_TOKEN}


def test_correlation_keys_do_not_leak_into_the_next_request_of_a_long_lived_server():
    # The local HTTP server and the playground keep one logger for many requests (no Lambda
    # context injection to clear it): a trigger_id must not stick to the next event's lines.
    import io
    import logging

    from aws_lambda_powertools import Logger

    from bolt_app import Settings
    from bolt_app.request_path.gateway import SlackGateway
    from bolt_app.request_path.request_guard import HttpResponse

    stream = io.StringIO()
    # DEBUG: a routine answered request's "request handled" line is logged at DEBUG.
    logger = Logger(service="leak-test", level="DEBUG", logger_handler=logging.StreamHandler(stream))
    gateway = SlackGateway(Settings(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET), logger)
    command = sr.signed_event(SIGNING_SECRET, sr.form_body(sr.slash_command("/test", response_url="http://x/r")))
    event = sr.signed_event(SIGNING_SECRET, sr.json_body(sr.event_callback(sr.dm_message("hi"))))
    for request in (command, event):
        gateway.handle("POST", request["headers"], request["body"], lambda _request: HttpResponse(200))

    first, second = [json.loads(line) for line in stream.getvalue().splitlines() if '"request handled"' in line]
    assert first["trigger_id"] and "event_id" not in first
    assert second["event_id"] and "trigger_id" not in second
