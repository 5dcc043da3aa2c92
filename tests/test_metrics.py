"""Powertools Metrics: one EMF document per invocation, with the counts the README documents."""

from __future__ import annotations

import json
import time
from collections import Counter

from bolt_app.local import slack_requests as sr
from bolt_app.local.fake_slack import Fault
from tests.conftest import SIGNING_SECRET, lambda_env
from tests.containers import Container


def test_each_outcome_is_counted(slack):
    dm = sr.json_body(
        sr.event_callback(
            sr.dm_message(
                "<https://a.example> and <https://b.example>",
                files=[sr.file_metadata("x.png"), sr.file_metadata("y.png")],
            )
        )
    )
    picker = [
        {
            "block_id": "dinner_picker",
            "elements": [{"type": "button", "action_id": "dinner_pick_farmhouse", "value": "Farmhouse"}],
        }
    ]
    events = [
        sr.signed_event(SIGNING_SECRET, dm),
        sr.signed_event(SIGNING_SECRET, dm, retry_num=1, timestamp=int(time.time()) + 1),  # duplicate
        sr.signed_event(SIGNING_SECRET, sr.form_body(sr.slash_command("/test", response_url=slack.new_response_url()))),
        sr.signed_event(
            SIGNING_SECRET,
            sr.interactive_body(
                sr.block_actions(
                    sr.button_click(picker, "dinner_pick_farmhouse"), response_url=slack.new_response_url()
                )
            ),
        ),
        sr.signed_event("forged", dm),
        sr.signed_event(SIGNING_SECRET, sr.json_body(sr.event_callback(sr.dm_message("fails")))),
    ]
    container = Container(lambda_env(slack, POWERTOOLS_METRICS_NAMESPACE="TestBot"))
    with container:
        for n, event in enumerate(events):
            if n == len(events) - 1:
                slack.inject("chat.postMessage", *[Fault(status=500)] * 3)
            container.invoke(event)
    documents = [json.loads(line) for line in container.close().splitlines() if line.startswith('{"_aws"')]

    totals: Counter[str] = Counter()
    for document in documents:
        [directive] = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "TestBot"
        for metric in directive["Metrics"]:
            totals[metric["Name"]] += int(
                sum(document[metric["Name"]])
                if isinstance(document[metric["Name"]], list)
                else document[metric["Name"]]
            )
    assert totals == {
        "RepliesSent": 1,
        "FilesAcknowledged": 2,
        "LinksAcknowledged": 2,
        "DuplicatesSkipped": 1,
        "CommandsHandled": 1,
        "DinnerPicks": 1,
        "RequestsRejected": 1,
        "SlackApiErrors": 1,
    }


def test_every_metric_carries_the_service_dimension_the_alarms_select(slack):
    """template.yaml's SlackApiErrors alarm selects namespace SlackBot and service = the stack name,
    which the template passes as POWERTOOLS_SERVICE_NAME: Powertools must emit exactly that."""
    container = Container(
        lambda_env(slack, POWERTOOLS_SERVICE_NAME="my-slack-stack", POWERTOOLS_METRICS_NAMESPACE="SlackBot")
    )
    with container:
        container.invoke(sr.signed_event(SIGNING_SECRET, sr.json_body(sr.event_callback(sr.dm_message("ok")))))
        slack.inject("chat.postMessage", *[Fault(status=500)] * 3)
        container.invoke(sr.signed_event(SIGNING_SECRET, sr.json_body(sr.event_callback(sr.dm_message("fails")))))
    documents = [json.loads(line) for line in container.close().splitlines() if line.startswith('{"_aws"')]

    names = set()
    for document in documents:
        [directive] = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "SlackBot"
        assert directive["Dimensions"] == [["service"]]
        assert document["service"] == "my-slack-stack"
        names |= {metric["Name"] for metric in directive["Metrics"]}
    assert {"RepliesSent", "SlackApiErrors"} <= names


def test_app_rate_limited_is_a_warning_and_counted(slack):
    """Slack's app_rate_limited event (it dropped a minute of the workspace's events) is answered 200, as
    there is nothing to retry, but logged at WARNING with its own reason and counted (AppRateLimited,
    which template.yaml's AppRateLimitedAlarm watches): never an INFO "ignored_type"."""
    # As Slack sends it (https://docs.slack.dev/reference/events/app_rate_limited/): no inner event.
    body = json.dumps(
        {
            "token": "legacy-verification-token",
            "type": "app_rate_limited",
            "team_id": "T0FAKE0001",
            "minute_rate_limited": 1518467820,
            "api_app_id": "A0FAKEAPP1",
        }
    )
    container = Container(lambda_env(slack, POWERTOOLS_SERVICE_NAME="my-slack-stack"))
    with container:
        response = container.invoke(sr.signed_event(SIGNING_SECRET, (body, "application/json")))
    printed = [json.loads(line) for line in container.close().splitlines() if line.startswith("{")]

    assert response["statusCode"] == 200
    [line] = [p for p in printed if p.get("reason") == "app_rate_limited"]
    assert line["level"] == "WARNING"
    assert line["minute_rate_limited"] == 1518467820 and line["team_id"] == "T0FAKE0001"
    counted = [
        document["AppRateLimited"]
        for document in printed
        if "_aws" in document
        for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        if metric["Name"] == "AppRateLimited"
    ]
    assert counted in ([1], [1.0], [[1.0]])
    assert not [p for p in printed if p.get("reason") == "ignored_type"]
