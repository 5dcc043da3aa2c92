"""The alarm card's buttons through handler.handler: Acknowledge (first wins, in one container and across
two), and Stack status as a reply in the alarm's thread, both through the command policy."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bolt_app.local import aws_events
from bolt_app.local import slack_requests as sr
from bolt_app.local.fake_aws import FakeLambda
from bolt_app.local.fake_slack import FakeSlack
from bolt_app.slack_web.blocks import ALARM_ACKNOWLEDGE_ACTION, ALARM_STACK_STATUS_ACTION
from tests.conftest import lambda_env, signed
from tests.containers import Container

ALERTS = "C0ALERTS02"
T0 = datetime(2026, 12, 1, 21, 0, 0, tzinfo=UTC)
ADMIN = "U0ADMIN001"


def _card(slack: FakeSlack) -> dict[str, Any]:
    [card] = [m for m in slack.messages(ALERTS) if not m.get("thread_ts") and not m.get("ephemeral")]
    return card


def _click(slack: FakeSlack, card: dict[str, Any], user: str, action_id: str) -> dict[str, Any]:
    url = slack.new_response_url(channel=ALERTS, message_ts=card["ts"], user=user)
    payload = sr.block_actions(
        sr.button_click(card["blocks"], action_id), response_url=url, message=card, user=user, channel=ALERTS
    )
    return signed(sr.interactive_body(payload))


def _ephemerals(slack: FakeSlack) -> list[tuple[str, str]]:
    return [(m["ephemeral_to"], m["text"]) for m in slack.messages(ALERTS) if m.get("ephemeral")]


def test_the_first_acknowledgement_wins_and_the_card_says_who(fresh_container, slack):
    bot = fresh_container(ALERTS_CHANNEL=ALERTS)
    name = f"ack-{uuid.uuid4().hex[:6]}"
    bot.handler(aws_events.alarm_event(name, "ALARM", T0), sr.LambdaContext())
    card = _card(slack)

    assert (
        bot.handler(_click(slack, card, "U0DWIGHT01", ALARM_ACKNOWLEDGE_ACTION), sr.LambdaContext())["statusCode"]
        == 200
    )
    assert (
        bot.handler(_click(slack, card, "U0JIMHALP1", ALARM_ACKNOWLEDGE_ACTION), sr.LambdaContext())["statusCode"]
        == 200
    )

    acknowledged = _card(slack)
    assert ":eyes: Acknowledged by <@U0DWIGHT01>" in json.dumps(acknowledged["blocks"])
    assert ALARM_ACKNOWLEDGE_ACTION not in json.dumps(acknowledged["blocks"])  # no second Acknowledge button
    assert _ephemerals(slack) == [("U0JIMHALP1", "<@U0DWIGHT01> already acknowledged this alarm.")]
    # A later state change redraws the card from the record: the acknowledgement stays on it.
    bot.handler(aws_events.alarm_event(name, "OK", T0 + timedelta(minutes=3), old_state="ALARM"), sr.LambdaContext())
    assert "*OK*" in _card(slack)["blocks"][0]["text"]["text"]
    assert "Acknowledged by <@U0DWIGHT01>" in json.dumps(_card(slack)["blocks"])


@pytest.mark.parametrize("round_", range(2))
def test_simultaneous_acknowledgements_in_two_containers_one_wins(idempotency_table, slack, round_):
    env = lambda_env(slack, IDEMPOTENCY_TABLE=idempotency_table, ALERTS_CHANNEL=ALERTS)
    with Container(env) as first, Container(env) as second:
        assert first.invoke(aws_events.alarm_event(f"ack-{uuid.uuid4().hex[:6]}", "ALARM", T0)) == {"notifications": 1}
        card = _card(slack)
        clicks = {
            "U0DWIGHT01": _click(slack, card, "U0DWIGHT01", ALARM_ACKNOWLEDGE_ACTION),
            "U0JIMHALP1": _click(slack, card, "U0JIMHALP1", ALARM_ACKNOWLEDGE_ACTION),
        }
        barrier = threading.Barrier(2)
        responses: list[dict[str, Any]] = []

        def click(container: Container, user: str) -> None:
            barrier.wait()
            responses.append(container.invoke(clicks[user]))

        threads = [
            threading.Thread(target=click, args=(first, "U0DWIGHT01")),
            threading.Thread(target=click, args=(second, "U0JIMHALP1")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert [r["statusCode"] for r in responses] == [200, 200]
    [(loser, told)] = _ephemerals(slack)
    winner = next(u for u in clicks if u != loser)
    assert told == f"<@{winner}> already acknowledged this alarm."
    assert f"Acknowledged by <@{winner}>" in json.dumps(_card(slack)["blocks"])


# -- Stack status: the /stack-status card in the thread, for those the policy lets run /stack-status -----


@pytest.fixture
def lambda_api(monkeypatch, aws_endpoint: str) -> Iterator[FakeLambda]:
    from bolt_app.foundation import aws_clients

    with FakeLambda().serve() as fake:
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", fake.base_url)
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "slack-bot")
        aws_clients.reset()
        yield fake
        aws_clients.reset()


def test_stack_status_is_refused_to_whom_the_policy_does_not_name(fresh_container, slack, lambda_api):
    bot = fresh_container(ALERTS_CHANNEL=ALERTS)  # the shipped policy: /stack-status is for admins, none named
    bot.handler(aws_events.alarm_event(f"st-{uuid.uuid4().hex[:6]}", "ALARM", T0), sr.LambdaContext())
    card = _card(slack)

    assert (
        bot.handler(_click(slack, card, "U0GUEST001", ALARM_STACK_STATUS_ACTION), sr.LambdaContext())["statusCode"]
        == 200
    )

    assert lambda_api.invocations == []  # no lazy work
    [(user, text)] = _ephemerals(slack)
    assert user == "U0GUEST001" and text.startswith("Sorry, you can't do that")


def test_stack_status_is_posted_in_the_alarms_thread(fresh_container, slack, lambda_api, monkeypatch):
    monkeypatch.delenv("STACK_NAME", raising=False)
    bot = fresh_container(ALERTS_CHANNEL=ALERTS, CHATOPS_ADMINS=ADMIN)
    bot.handler(aws_events.alarm_event(f"st-{uuid.uuid4().hex[:6]}", "ALARM", T0), sr.LambdaContext())
    card = _card(slack)

    assert bot.handler(_click(slack, card, ADMIN, ALARM_STACK_STATUS_ACTION), sr.LambdaContext())["statusCode"] == 200
    [invocation] = lambda_api.invocations
    bot.handler(json.loads(json.dumps(invocation.payload)), sr.LambdaContext())

    [reply] = [m for m in slack.messages(ALERTS) if m.get("thread_ts") == card["ts"]]
    assert reply["blocks"][0]["block_id"] == "stack_not_deployed"


def test_an_acknowledgement_whose_card_cannot_be_redrawn_is_still_on_record(fresh_container, slack):
    from bolt_app.chatops import registry_of
    from bolt_app.local.fake_slack import Fault

    bot = fresh_container(ALERTS_CHANNEL=ALERTS)
    name = f"ack-{uuid.uuid4().hex[:6]}"
    bot.handler(aws_events.alarm_event(name, "ALARM", T0), sr.LambdaContext())
    card = _card(slack)
    # The acknowledgement is won; the card's chat.update then fails (the bot was removed from the channel).
    slack.inject("chat.update", Fault(status=200, body={"ok": False, "error": "not_in_channel"}))
    response = bot.handler(_click(slack, card, "U0DWIGHT01", ALARM_ACKNOWLEDGE_ACTION), sr.LambdaContext())
    assert response["statusCode"] == 200
    audit = registry_of(bot.bot.lambda_adapter.app).audit
    records = [(r["user"], r["action"], r["result"]) for r in audit.recent() if r["command"] == "alarms"]
    assert records == [("U0DWIGHT01", "acknowledge", "acknowledged")]
    assert ALARM_ACKNOWLEDGE_ACTION in json.dumps(_card(slack)["blocks"])  # not redrawn
    # A later click on the stale card is told who acknowledged, and redraws the card from the record.
    bot.handler(_click(slack, card, "U0JIMHALP1", ALARM_ACKNOWLEDGE_ACTION), sr.LambdaContext())
    assert _ephemerals(slack) == [("U0JIMHALP1", "<@U0DWIGHT01> already acknowledged this alarm.")]
    assert ":eyes: Acknowledged by <@U0DWIGHT01>" in json.dumps(_card(slack)["blocks"])
    assert sorted((r["result"], r["decision"]) for r in audit.recent() if r["command"] == "alarms") == [
        ("acknowledged", "executed"),
        ("already acknowledged by U0DWIGHT01", "refused"),
    ]
