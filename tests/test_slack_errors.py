"""Permanent and transient Slack failures are told apart: only transient ones ask Slack to retry (5xx);
permanent ones answer 2xx, are logged at ERROR with Slack's error code, and counted."""

from __future__ import annotations

import json
import logging
from urllib.error import URLError

import pytest

from bolt_app.local import slack_requests as sr
from bolt_app.local.fake_slack import Fault
from tests.conftest import SIGNING_SECRET, signed


def _metrics(output: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    for line in output.splitlines():
        if line.startswith('{"_aws"'):
            document = json.loads(line)
            for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                value = document[metric["Name"]]
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + (
                    sum(value) if isinstance(value, list) else value
                )
    return totals


def _failure_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("listener failed")]


@pytest.mark.parametrize("code", ["channel_not_found", "not_in_channel", "msg_too_long", "invalid_auth", "is_archived"])
def test_permanent_slack_error_answers_200_once_and_is_logged_and_counted(invoke, slack, capsys, caplog, code):
    body = sr.json_body(sr.event_callback(sr.dm_message("cannot be posted")))
    slack.inject("chat.postMessage", Fault(status=200, body={"ok": False, "error": code}))
    capsys.readouterr()

    response = invoke(sr.signed_event(SIGNING_SECRET, body))
    retry = invoke(sr.signed_event(SIGNING_SECRET, body, retry_num=1))

    assert response["statusCode"] == 200  # Slack does not retry: no retry can fix it
    assert retry["statusCode"] == 200  # and a retry anyway (Slack's own reasons) is a duplicate
    assert slack.arrivals.count("chat.postMessage") == 1
    [record] = _failure_records(caplog)
    assert record.levelno == logging.ERROR and record.slack_error == code and record.retry is False
    metrics = _metrics(capsys.readouterr().out)
    assert metrics.get("SlackApiErrors") == 1 and metrics.get("SlackPermanentErrors") == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=200, body={"ok": False, "error": "internal_error"}),
        Fault(status=200, body={"ok": False, "error": "fatal_error"}),
        Fault(status=200, body={"ok": False, "error": "service_unavailable"}),
        Fault(status=200, body={"ok": False, "error": "ratelimited"}),
        Fault(status=429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "30"}),
    ],
    ids=["internal_error", "fatal_error", "service_unavailable", "ratelimited", "http_429"],
)
def test_transient_slack_error_answers_5xx_so_that_slack_retries(invoke, slack, capsys, caplog, fault):
    body = sr.json_body(sr.event_callback(sr.dm_message("try again later")))
    slack.inject("chat.postMessage", fault)
    capsys.readouterr()

    response = invoke(sr.signed_event(SIGNING_SECRET, body))
    retry = invoke(sr.signed_event(SIGNING_SECRET, body, retry_num=1))

    assert response["statusCode"] >= 500
    assert retry["statusCode"] == 200
    assert [c.args["text"] for c in slack.calls_to("chat.postMessage")] == ["Echo: try again later"]
    [record] = _failure_records(caplog)
    assert record.levelno == logging.ERROR and record.retry is True
    metrics = _metrics(capsys.readouterr().out)
    assert metrics.get("SlackApiErrors") == 1 and "SlackPermanentErrors" not in metrics


def test_expired_response_url_is_not_retried(invoke, slack):
    picker = [
        {
            "block_id": "dinner_picker",
            "elements": [{"type": "button", "action_id": "dinner_pick_x", "value": "Ler Ros"}],
        }
    ]
    expired = slack.base_url + "/response/R-expired"  # the fake answers 404 expired_url, as Slack does
    click = signed(
        sr.interactive_body(sr.block_actions(sr.button_click(picker, "dinner_pick_x"), response_url=expired))
    )

    response = invoke(click)

    assert 200 <= response["statusCode"] < 300
    assert slack.arrivals.count("response_url") == 1  # no retry of a 404


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (URLError("[Errno 111] Connection refused"), "(could not reach Slack: URLError)"),
        (TimeoutError("timed out"), "(could not reach Slack: TimeoutError)"),
    ],
    ids=["connection_refused", "timeout"],
)
def test_a_call_that_never_reached_slack_is_not_called_a_slack_error(caplog, error, line):
    from bolt_app.app import handle_listener_error

    logger = logging.getLogger("tests.listener")
    with caplog.at_level(logging.ERROR, logger="tests.listener"):
        response = handle_listener_error(error, logger)

    assert response is None  # transient: Bolt keeps its 500, and Slack retries
    [record] = _failure_records(caplog)
    assert record.getMessage() == f"listener failed: {type(error).__name__} {line}"
    assert "Slack error" not in record.getMessage()
