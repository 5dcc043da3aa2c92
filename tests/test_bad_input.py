"""Bad input gets a clear answer and loses nothing; the handler never raises to the runtime."""

from __future__ import annotations

import base64
import json
import logging
import os
import time

import pytest

from bolt_app.local import slack_requests as sr
from bolt_app.slack_web.blocks import MAX_MESSAGE_CHARS
from tests.conftest import INVOKE_IN_CONTAINER_LOG, dm_event, signed


def _nothing_sent(slack) -> bool:
    return slack.calls == [] and slack.response_posts == []


# -- 401 ------------------------------------------------------------------------------------------


def test_replayed_event_is_answered_from_its_record_not_processed_again(invoke, slack):
    # An event's signature may legitimately repeat (a retry in the same second, see
    # test_slack_faults): events are de-duplicated by event_id, never refused as replays.
    event = dm_event(sr.dm_message("say it once"))

    assert invoke(event)["statusCode"] == 200
    assert invoke(dict(event))["statusCode"] == 200
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_replayed_slash_command_is_rejected(invoke, slack):
    event = signed(sr.form_body(sr.slash_command("/test", response_url=slack.new_response_url())))

    assert invoke(event)["statusCode"] == 200
    assert invoke(event)["statusCode"] == 401


def test_future_timestamp_is_rejected(invoke, slack):
    event = dm_event(sr.dm_message("from the future"), timestamp=int(time.time()) + 6 * 60)

    assert invoke(event)["statusCode"] == 401
    assert _nothing_sent(slack)


@pytest.mark.parametrize(
    "headers",
    [
        {"x-slack-request-timestamp": "not-a-number", "x-slack-signature": "v0=abc"},
        {"x-slack-request-timestamp": "１２３", "x-slack-signature": "v0=abc"},
        {"x-slack-request-timestamp": str(int(time.time())), "x-slack-signature": "v0=ü"},
        {"x-slack-signature": "v0=abc"},
    ],
    ids=["text-timestamp", "fullwidth-digits", "non-ascii-signature", "no-timestamp"],
)
def test_malformed_signature_headers_get_401_not_a_crash(invoke, slack, headers):
    body, content_type = sr.json_body(sr.event_callback(sr.dm_message("x")))
    response = invoke(sr.http_api_event(body, {"content-type": content_type, **headers}))

    assert response["statusCode"] == 401
    assert _nothing_sent(slack)


@pytest.mark.parametrize(
    ("timestamp", "retry_num", "status"),
    [("9" * 309, None, 401), ("1" * 5000, None, 401), (None, "²", 400)],
    ids=["309-digit-timestamp", "5000-digit-timestamp", "superscript-retry-num"],
)
def test_absurd_signature_and_retry_headers_are_rejected_at_warning(
    invoke, slack, caplog, timestamp, retry_num, status
):
    # Unsigned nonsense (and a signed event with a retry number int() refuses) is the sender's fault:
    # a counted rejection at WARNING, never a 500 with an ERROR traceback anyone could cause at will.
    event = dm_event(sr.dm_message("absurd headers"))
    if timestamp is not None:
        event["headers"]["x-slack-request-timestamp"] = timestamp
    if retry_num is not None:
        event["headers"]["x-slack-retry-num"] = retry_num

    response = invoke(event)

    assert response["statusCode"] == status
    assert _nothing_sent(slack)
    if os.environ.get(INVOKE_IN_CONTAINER_LOG):
        return  # run by test_json_logs in a container process: its printed lines are checked there
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    [rejected] = [r for r in caplog.records if r.getMessage() == "request rejected"]
    assert rejected.levelno == logging.WARNING and rejected.status == status


def test_rejections_do_not_echo_the_signature(invoke, slack):
    event = sr.signed_event("wrong-secret", sr.json_body(sr.event_callback(sr.dm_message("x"))))
    response = invoke(event)

    assert response["statusCode"] == 401
    assert event["headers"]["x-slack-signature"] not in json.dumps(response)


# -- 400 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body_and_type",
    [
        ("{not json", "application/json"),
        ("[1, 2, 3]", "application/json"),
        ('{"type": "event_callback", "event_id": "Ev1"}', "application/json"),
        ('{"type": "event_callback", "event": {"type": "message"}}', "application/json"),
        ('{"type": "url_verification"}', "application/json"),
        sr.form_body({"user_id": "U1", "text": "no command, no payload"}),
        sr.form_body({"payload": "{not json"}),
        sr.form_body({"payload": "[]"}),
        sr.form_body({"payload": '{"no": "type"}'}),
        sr.form_body({"command": "test-without-slash"}),
        ("plain text body", "text/plain"),
    ],
    ids=[
        "invalid-json",
        "json-array",
        "event-missing",
        "event-id-missing",
        "challenge-missing",
        "form-without-payload",
        "payload-not-json",
        "payload-not-object",
        "payload-without-type",
        "command-without-slash",
        "plain-text",
    ],
)
def test_signed_but_malformed_bodies_get_400(invoke, slack, body_and_type):
    response = invoke(signed(body_and_type))

    assert response["statusCode"] == 400
    assert response["body"]  # a reason, for whoever reads the logs or the curl output
    assert _nothing_sent(slack)


def test_invalid_base64_body_gets_400(invoke, slack):
    event = dm_event(sr.dm_message("x"), base64_encoded=True)
    event["body"] = "!!! not base64 !!!"

    assert invoke(event)["statusCode"] == 400


def test_base64_of_non_utf8_gets_400(invoke, slack):
    event = dm_event(sr.dm_message("x"), base64_encoded=True)
    event["body"] = base64.b64encode(b"\xff\xfe\x00").decode()

    assert invoke(event)["statusCode"] == 400


def test_missing_is_base64_encoded_means_plain(invoke, slack):
    event = dm_event(sr.dm_message("no flag"))
    del event["isBase64Encoded"]

    assert invoke(event)["statusCode"] == 200
    assert [c.args["text"] for c in slack.calls_to("chat.postMessage")] == ["Echo: no flag"]


def test_load_balancer_event_on_the_api_gateway_handler_gets_a_clear_400(invoke, slack):
    response = invoke(dm_event(sr.dm_message("wrong door"), shape="alb"))

    assert response["statusCode"] == 400
    assert "asgi_handler" in response["body"]


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"body": None, "headers": None},
        {"requestContext": None},
        [],
        "not even a dict",
        {"requestContext": "x", "body": "{}"},
        {"requestContext": {"http": "POST"}, "headers": {}, "body": "{}"},
        {"requestContext": {"http": {"method": "POST"}}, "headers": ["x-slack-signature"], "body": "{}"},
        {"requestContext": {"http": {"method": "POST"}}, "headers": {}, "body": {"type": "event_callback"}},
        {"requestContext": {"http": {"method": "POST"}}, "headers": {}, "body": 42, "isBase64Encoded": True},
    ],
)
def test_events_that_are_not_http_requests_never_raise(invoke, slack, event):
    response = invoke(event)

    assert response["statusCode"] in (400, 405)


# -- 405 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("shape", ["http_api", "rest_api"])
def test_methods_other_than_post_get_405(invoke, slack, method, shape):
    response = invoke(dm_event(sr.dm_message("x"), method=method, shape=shape))

    assert response["statusCode"] == 405
    assert response["headers"]["Allow"] == "POST"


# -- 200, nothing done ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "app_rate_limited", "team_id": "T1", "minute_rate_limited": 1, "api_app_id": "A1"},
        {"type": "some_future_type"},
    ],
)
def test_unknown_body_types_get_200_and_nothing_done(invoke, slack, payload):
    response = invoke(signed(sr.json_body(payload)))

    assert response["statusCode"] == 200
    assert _nothing_sent(slack)


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "shortcut", "callback_id": "nobody_handles_this", "trigger_id": "1.2.3"},
        {
            "type": "message_action",
            "callback_id": "nobody_handles_this",
            "trigger_id": "1.2.3",
            "channel": {"id": "C1"},
            "message": {"ts": "1.2"},
        },
        {
            "type": "view_submission",
            "view": {"id": "V1", "type": "modal", "callback_id": "nobody_handles_this", "state": {"values": {}}},
        },
        {"type": "view_closed", "view": {"id": "V1", "type": "modal", "callback_id": "nobody_handles_this"}},
        {"type": "block_suggestion", "action_id": "nobody_handles_this", "block_id": "b", "value": "x"},
    ],
    ids=lambda p: p["type"],
)
def test_unknown_interaction_types_get_200(invoke, slack, payload):
    payload = {**payload, "user": {"id": "U1"}, "team": {"id": sr.TEAM_ID}, "token": "t", "api_app_id": sr.API_APP_ID}
    response = invoke(signed(sr.interactive_body(payload)))

    assert response["statusCode"] == 200
    assert _nothing_sent(slack)


def test_a_payload_bolt_cannot_read_gets_400_not_a_crash(invoke, slack):
    # Bolt indexes view["type"] while matching listeners: a view without one makes it raise.
    payload = {
        "type": "view_submission",
        "view": {"id": "V1", "callback_id": "x"},
        "user": {"id": "U1"},
        "team": {"id": sr.TEAM_ID},
        "token": "t",
        "api_app_id": sr.API_APP_ID,
    }
    response = invoke(signed(sr.interactive_body(payload)))

    assert response["statusCode"] == 400
    assert _nothing_sent(slack)


def test_unknown_slash_command_gets_a_polite_ephemeral_answer(invoke, slack):
    response = invoke(signed(sr.form_body(sr.slash_command("/nobody", response_url=slack.new_response_url()))))

    assert response["statusCode"] == 200
    # A plain-text answer to a slash command is shown to its author only.
    # Not in the policy: refused before any listener, the catch-all included (deny by default).
    assert response["body"] == "Sorry, you can't do that: `/nobody` is not in the bot's policy, so nobody may run it."
    assert _nothing_sent(slack)


# -- limits -----------------------------------------------------------------------------------------


def test_an_echo_past_slacks_limit_is_cut_to_fit_and_says_so(invoke, slack):
    text = "x" * 45_000
    invoke(dm_event(sr.dm_message(text + " <https://example.com>", files=[sr.file_metadata("big.txt")])))

    [call] = slack.calls_to("chat.postMessage")
    reply = call.args["text"]
    assert len(reply) <= MAX_MESSAGE_CHARS
    assert reply.startswith("Echo: xxx")
    assert "cut to fit" in reply
    assert reply.endswith("Received 1 file: big.txt\nReceived 1 link: <https://example.com>")


def test_an_echo_within_the_limit_is_not_cut(invoke, slack):
    text = "y" * (MAX_MESSAGE_CHARS - len("Echo: "))
    invoke(dm_event(sr.dm_message(text)))

    [call] = slack.calls_to("chat.postMessage")
    assert call.args["text"] == "Echo: " + text
