"""The picker's first pick wins: later clicks change nothing and are told who picked; an expired
picker explains itself. Within one container (in memory) and across containers (DynamoDB)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from bolt_app.listeners.first_pick import InMemoryFirstPicks, Pick
from bolt_app.local import slack_requests as sr
from bolt_app.local.fake_slack import FakeSlack, Fault
from bolt_app.slack_web.blocks import DINNER_PICKER_BLOCKS, RESTAURANTS
from tests.conftest import lambda_env, signed
from tests.containers import Container

CHANNEL = "C0GENERAL1"
FARMHOUSE, LER_ROS = RESTAURANTS


def _picker(slack: FakeSlack) -> dict[str, Any]:
    """A /test answer in the channel, as Slack shows it: the message the buttons belong to."""
    return slack.add_message(
        CHANNEL, {"user": slack.bot_user_id, "bot_id": slack.bot_id, "text": "picker", "blocks": DINNER_PICKER_BLOCKS}
    )


def _click(
    slack: FakeSlack, picker: dict[str, Any], user: str, restaurant: Any, response_url: str | None = None
) -> dict[str, Any]:
    """A click as Slack sends it: a fresh response_url for this click, the picker in `container`."""
    url = response_url or slack.new_response_url(channel=CHANNEL, message_ts=picker["ts"], user=user)
    payload = sr.block_actions(
        sr.button_click(DINNER_PICKER_BLOCKS, restaurant.action_id),
        response_url=url,
        message=picker,
        user=user,
        channel=CHANNEL,
    )
    return signed(sr.interactive_body(payload))


def _shown(slack: FakeSlack, picker: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in slack.messages(CHANNEL) if m["ts"] == picker["ts"])


def _ephemerals(slack: FakeSlack) -> list[tuple[str, str]]:
    return [(m["ephemeral_to"], m["text"]) for m in slack.messages(CHANNEL) if m.get("ephemeral")]


def test_a_second_click_changes_nothing_and_is_told_who_picked(invoke, slack):
    picker = _picker(slack)

    assert invoke(_click(slack, picker, "U0DWIGHT01", FARMHOUSE))["statusCode"] == 200
    assert invoke(_click(slack, picker, "U0JIMHALP1", LER_ROS))["statusCode"] == 200
    # The same person again, from a stale client: still the first pick.
    assert invoke(_click(slack, picker, "U0DWIGHT01", LER_ROS))["statusCode"] == 200

    assert _shown(slack, picker)["text"] == "<@U0DWIGHT01> picked *Farmhouse Thai Cuisine*"
    replaced = [p for p in slack.response_posts if p.payload.get("replace_original")]
    assert len(replaced) == 1
    refusals = [p.payload for p in slack.response_posts if not p.payload.get("replace_original")]
    assert [(p["response_type"], p["replace_original"]) for p in refusals] == [("ephemeral", False)] * 2
    already = "<@U0DWIGHT01> already picked *Farmhouse Thai Cuisine*; the first pick stands."
    assert _ephemerals(slack) == [("U0JIMHALP1", already), ("U0DWIGHT01", already)]


def test_another_picker_is_a_pick_of_its_own(invoke, slack):
    first, second = _picker(slack), _picker(slack)

    invoke(_click(slack, first, "U0DWIGHT01", FARMHOUSE))
    invoke(_click(slack, second, "U0JIMHALP1", LER_ROS))

    assert _shown(slack, first)["text"] == "<@U0DWIGHT01> picked *Farmhouse Thai Cuisine*"
    assert _shown(slack, second)["text"] == "<@U0JIMHALP1> picked *Ler Ros*"
    assert _ephemerals(slack) == []


def test_a_click_on_an_expired_picker_is_explained_and_counts_for_nothing(invoke, slack):
    picker = _picker(slack)
    expired = slack.new_response_url(channel=CHANNEL, message_ts=picker["ts"], user="U0DWIGHT01")
    slack.expire_response_url(expired)

    response = invoke(_click(slack, picker, "U0DWIGHT01", FARMHOUSE, response_url=expired))

    assert response["statusCode"] == 200
    assert "response_url" in slack.arrivals and slack.response_posts == []  # Slack refused it: 404 expired_url
    [call] = slack.calls_to("chat.postEphemeral")
    assert (call.args["channel"], call.args["user"]) == (CHANNEL, "U0DWIGHT01")
    assert "expired" in call.args["text"] and "/test" in call.args["text"]
    assert _shown(slack, picker)["text"] == "picker"
    # The pick that could not be shown is not held against the next click.
    invoke(_click(slack, picker, "U0JIMHALP1", LER_ROS))
    assert _shown(slack, picker)["text"] == "<@U0JIMHALP1> picked *Ler Ros*"


def test_a_failed_confirmation_releases_the_pick(invoke, slack):
    picker = _picker(slack)
    slack.inject("response_url", *[Fault(status=503, body="service_unavailable")] * 3)

    assert invoke(_click(slack, picker, "U0DWIGHT01", FARMHOUSE))["statusCode"] >= 500
    invoke(_click(slack, picker, "U0DWIGHT01", FARMHOUSE))

    assert _shown(slack, picker)["text"] == "<@U0DWIGHT01> picked *Farmhouse Thai Cuisine*"
    assert _ephemerals(slack) == []


def test_in_memory_claims_are_bounded():
    store = InMemoryFirstPicks(max_items=2)
    for n in range(3):
        assert store.claim(f"p{n}", Pick("U1", "Farmhouse")) is None
    assert store.claim("p2", Pick("U2", "Ler Ros")) == Pick("U1", "Farmhouse")
    assert store.claim("p0", Pick("U2", "Ler Ros")) is None  # the oldest was dropped


# -- across containers: two processes click the same picker at the same moment ----------------


@pytest.mark.parametrize("round_", range(3))
def test_simultaneous_clicks_in_two_containers_one_pick_wins(idempotency_table, aws_endpoint, slack, round_):
    import boto3

    env = lambda_env(slack, IDEMPOTENCY_TABLE=idempotency_table)
    picker = _picker(slack)
    clicks = {
        "U0DWIGHT01": _click(slack, picker, "U0DWIGHT01", FARMHOUSE),
        "U0JIMHALP1": _click(slack, picker, "U0JIMHALP1", LER_ROS),
    }
    with Container(env) as first, Container(env) as second:
        barrier = threading.Barrier(2)
        responses: dict[str, dict[str, Any]] = {}

        def click(container: Container, user: str) -> None:
            barrier.wait()
            responses[user] = container.invoke(clicks[user])

        threads = [
            threading.Thread(target=click, args=(first, "U0DWIGHT01")),
            threading.Thread(target=click, args=(second, "U0JIMHALP1")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert [r["statusCode"] for r in responses.values()] == [200, 200]
    replaced = [p for p in slack.response_posts if p.payload.get("replace_original")]
    assert len(replaced) == 1
    winner = replaced[0].context["user"]
    loser = next(u for u in clicks if u != winner)
    winning_name = FARMHOUSE.name if winner == "U0DWIGHT01" else LER_ROS.name
    assert _shown(slack, picker)["text"] == f"<@{winner}> picked *{winning_name}*"
    assert _ephemerals(slack) == [(loser, f"<@{winner}> already picked *{winning_name}*; the first pick stands.")]
    # One claim in the shared table, keyed on the picker message, with a TTL.
    items = boto3.client("dynamodb", endpoint_url=aws_endpoint).scan(TableName=idempotency_table)["Items"]
    [claim] = [i for i in items if i["id"]["S"].startswith("first_pick#")]
    assert claim["id"]["S"] == f"first_pick#{CHANNEL}#{picker['ts']}"
    assert claim["user_id"]["S"] == winner
    assert int(claim["expiration"]["N"]) > time.time() + 24 * 3600


def test_an_unreachable_table_lets_the_pick_through_unguarded(fresh_container, aws_endpoint, slack):
    container = fresh_container(IDEMPOTENCY_TABLE="no-such-table")
    picker = _picker(slack)

    response = container.handler(_click(slack, picker, "U0DWIGHT01", FARMHOUSE), sr.LambdaContext())

    assert response["statusCode"] == 200
    assert _shown(slack, picker)["text"] == "<@U0DWIGHT01> picked *Farmhouse Thai Cuisine*"
