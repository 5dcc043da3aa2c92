"""Slack Web API faults: retried by slack_sdk's retry handlers while the 3-second window allows,
otherwise the attempt fails with 5xx and Slack's own retry recovers the message."""

from __future__ import annotations

import time

from bolt_app.local import slack_requests as sr
from bolt_app.local.fake_slack import Fault
from bolt_app.slack_web.slack_retries import CALL_TIMEOUT_SECONDS, REQUEST_BUDGET_SECONDS
from tests.conftest import SIGNING_SECRET, dm_event, signed

SLACK_WINDOW_SECONDS = 3.0
# Wall-clock bounds below are design bounds with room for a loaded machine: the budget, plus one
# call's timeout for a call already under way when the budget runs out. The attempt counts
# (`arrivals`) are the exact checks.
WORST_CASE_SECONDS = REQUEST_BUDGET_SECONDS + CALL_TIMEOUT_SECONDS


def _replies(slack) -> list[str]:
    return [c.args["text"] for c in slack.calls_to("chat.postMessage")]


def _timed(invoke, event) -> tuple[dict, float]:
    started = time.monotonic()
    response = invoke(event)
    return response, time.monotonic() - started


def test_rate_limit_with_short_retry_after_is_waited_out(invoke, slack):
    slack.inject(
        "chat.postMessage", Fault(status=429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "1"})
    )

    response, took = _timed(invoke, dm_event(sr.dm_message("after the rate limit")))

    assert response["statusCode"] == 200
    assert _replies(slack) == ["Echo: after the rate limit"]
    assert slack.arrivals.count("chat.postMessage") == 2
    assert 1.0 <= took < WORST_CASE_SECONDS


def test_rate_limit_longer_than_the_window_fails_fast_and_slacks_retry_recovers(invoke, slack):
    body = sr.json_body(sr.event_callback(sr.dm_message("rate limited for a minute")))
    slack.inject(
        "chat.postMessage", Fault(status=429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "60"})
    )

    failed, took = _timed(invoke, sr.signed_event(SIGNING_SECRET, body))
    attempts_before_slacks_retry = slack.arrivals.count("chat.postMessage")
    recovered = invoke(sr.signed_event(SIGNING_SECRET, body, retry_num=1, timestamp=int(time.time()) + 1))

    assert failed["statusCode"] >= 500
    assert attempts_before_slacks_retry == 1  # no pointless wait: 60 s can never fit
    assert took < 1.0 + CALL_TIMEOUT_SECONDS
    assert recovered["statusCode"] == 200
    assert _replies(slack) == ["Echo: rate limited for a minute"]


def test_transient_server_error_is_retried(invoke, slack):
    slack.inject("chat.postMessage", Fault(status=503))

    response = invoke(dm_event(sr.dm_message("after a 503")))

    assert response["statusCode"] == 200
    assert _replies(slack) == ["Echo: after a 503"]
    assert slack.arrivals.count("chat.postMessage") == 2


def test_persistent_server_errors_stay_inside_the_window(invoke, slack):
    slack.inject("chat.postMessage", *[Fault(status=500, delay=0.4)] * 10)

    response, took = _timed(invoke, dm_event(sr.dm_message("slack is down")))

    assert response["statusCode"] >= 500
    assert took < WORST_CASE_SECONDS
    assert 2 <= slack.arrivals.count("chat.postMessage") <= 3  # retried, within max_retry_count=2
    assert _replies(slack) == []


def test_a_slow_slack_times_out_inside_the_window(invoke, slack):
    body = sr.json_body(sr.event_callback(sr.dm_message("slow slack")))
    slack.inject("chat.postMessage", *[Fault(delay=2.5, then_succeed=True)] * 3)

    response, took = _timed(invoke, sr.signed_event(SIGNING_SECRET, body))

    assert response["statusCode"] >= 500
    assert took < WORST_CASE_SECONDS


def test_response_url_faults_are_retried_too(invoke, slack):
    picker = sr.button_click(
        [
            {
                "block_id": "dinner_picker",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "dinner_pick_farmhouse",
                        "value": "Farmhouse",
                        "text": {"type": "plain_text", "text": "Farmhouse"},
                    }
                ],
            }
        ],
        "dinner_pick_farmhouse",
    )
    slack.inject("response_url", Fault(status=500, body="server_error"))
    payload = sr.block_actions(picker, response_url=slack.new_response_url(), user="U0PICKER01")

    response = invoke(signed(sr.interactive_body(payload)))

    assert response["statusCode"] == 200
    assert [p.payload["text"] for p in slack.response_posts] == ["<@U0PICKER01> picked *Farmhouse Thai Cuisine*"]
    assert slack.arrivals.count("response_url") == 2


def test_immediate_retry_in_the_same_second_is_processed_not_refused_as_a_replay(invoke, slack):
    # Slack signs with a whole-second timestamp: its immediate retry after a fast failure can carry
    # the first attempt's exact signature. It must reach exactly-once (and reply), not get 401.
    body = sr.json_body(sr.event_callback(sr.dm_message("same second")))
    now = int(time.time())
    first = sr.signed_event(SIGNING_SECRET, body, timestamp=now)
    retry = sr.signed_event(SIGNING_SECRET, body, timestamp=now, retry_num=1)
    assert retry["headers"]["x-slack-signature"] == first["headers"]["x-slack-signature"]
    slack.inject("chat.postMessage", *[Fault(status=500)] * 3)

    failed = invoke(first)
    recovered = invoke(retry)
    again = invoke(sr.signed_event(SIGNING_SECRET, body, timestamp=now, retry_num=2))

    assert failed["statusCode"] >= 500
    assert recovered["statusCode"] == 200
    assert again["statusCode"] == 200  # answered from the record
    assert _replies(slack) == ["Echo: same second"]


def test_replayed_interaction_is_still_refused(invoke, slack):
    # Slack never retries interactions and slash commands: a repeated signature there is a replay.
    picker = [
        {"block_id": "dinner_picker", "elements": [{"type": "button", "action_id": "dinner_pick_x", "value": "x"}]}
    ]
    event = signed(
        sr.interactive_body(
            sr.block_actions(sr.button_click(picker, "dinner_pick_x"), response_url=slack.new_response_url())
        )
    )

    assert invoke(event)["statusCode"] == 200
    assert invoke(event)["statusCode"] == 401
