"""Alarms, deploys and the digest in the alerts channel (bolt_app/notifications/, docs/alerts.md).

Events in the shapes AWS sends (bolt_app/local/aws_events.py) go through handler.handler; the fake Slack
answers as Slack does (threads, chat.update, not_in_channel, and, where a test asks, its per-channel rate
limit with 429 and Retry-After)."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bolt_app.local import aws_events
from bolt_app.local import slack_requests as sr
from bolt_app.local.fake_slack import FakeSlack
from bolt_app.slack_web.slack_text import WORD_JOINER

ALERTS = "C0ALERTS01"
T0 = datetime(2026, 12, 1, 21, 0, 0, tzinfo=UTC)


@pytest.fixture
def bot(fresh_container, slack: FakeSlack) -> Any:
    """A fresh container with the alerts channel set (in-memory stores)."""
    return fresh_container(ALERTS_CHANNEL=ALERTS)


def _name() -> str:
    return f"slack-bot-errors-{uuid.uuid4().hex[:6]}"


def _top(slack: FakeSlack, channel: str = ALERTS) -> list[dict[str, Any]]:
    return [m for m in slack.messages(channel) if not m.get("thread_ts")]


def _replies(slack: FakeSlack, ts: str, channel: str = ALERTS) -> list[dict[str, Any]]:
    return [m for m in slack.messages(channel) if m.get("thread_ts") == ts]


def _state_line(message: dict[str, Any]) -> str:
    [block] = [b for b in message["blocks"] if b.get("block_id") == "alarm_state"]
    return block["text"]["text"]


def _total(value: Any) -> float:
    return sum(value) if isinstance(value, list) else value


def _invoke(module: Any, event: dict[str, Any]) -> Any:
    return module.handler(event, sr.LambdaContext())


def test_an_alarm_opens_a_thread_and_its_recovery_replies_and_updates_the_card(bot, slack):
    name = _name()
    _invoke(bot, aws_events.alarm_event(name, "ALARM", T0))
    _invoke(bot, aws_events.alarm_event(name, "OK", T0 + timedelta(minutes=5), old_state="ALARM"))

    [card] = _top(slack)
    assert f"*{name}* is *OK* since 2026-12-01 21:05:00 UTC" in _state_line(card)
    [reply] = _replies(slack, card["ts"])
    assert reply["text"].startswith(":large_green_circle: *OK* at 2026-12-01 21:05:00 UTC")
    # The card: reason, metric, threshold, region, a console link, and the two buttons.
    flat = json.dumps(card["blocks"], ensure_ascii=False)
    assert "AWS/Lambda Errors (sum over 300 s) [FunctionName=slack-bot]" in flat
    assert "≥ 1 for 1 period" in flat and "US East (N. Virginia)" in flat
    assert f"https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/{name}" in flat
    [actions] = [b for b in card["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == ["alarm_acknowledge", "alarm_stack_status"]
    # The first post was the ALARM card; then the reply; the card was redrawn with chat.update.
    [first, second] = slack.calls_to("chat.postMessage")
    assert ":red_circle:" in first.args["text"] and second.args["thread_ts"] == card["ts"]
    assert [c.args["ts"] for c in slack.calls_to("chat.update")] == [card["ts"]]


def test_an_alarm_after_recovery_starts_a_new_thread(bot, slack):
    name = _name()
    _invoke(bot, aws_events.alarm_event(name, "ALARM", T0))
    _invoke(bot, aws_events.alarm_event(name, "OK", T0 + timedelta(minutes=5), old_state="ALARM"))
    _invoke(bot, aws_events.alarm_event(name, "ALARM", T0 + timedelta(minutes=9)))
    _invoke(bot, aws_events.alarm_event(name, "INSUFFICIENT_DATA", T0 + timedelta(minutes=12), old_state="ALARM"))

    first, second = _top(slack)
    assert "*OK*" in _state_line(first) and "*INSUFFICIENT_DATA*" in _state_line(second)
    assert len(_replies(slack, first["ts"])) == 1 and len(_replies(slack, second["ts"])) == 1


def test_an_older_change_delivered_late_is_added_but_never_overwrites_the_card(bot, slack):
    name = _name()
    _invoke(bot, aws_events.alarm_event(name, "ALARM", T0))
    _invoke(bot, aws_events.alarm_event(name, "OK", T0 + timedelta(minutes=10), old_state="ALARM"))
    # Happened between the two, delivered last.
    _invoke(bot, aws_events.alarm_event(name, "INSUFFICIENT_DATA", T0 + timedelta(minutes=4), old_state="ALARM"))

    [card] = _top(slack)
    assert "*OK* since 2026-12-01 21:10:00 UTC" in _state_line(card)
    ok, late = _replies(slack, card["ts"])
    assert "Arrived late" not in ok["text"]
    assert "*INSUFFICIENT_DATA* at 2026-12-01 21:04:00 UTC" in late["text"] and "Arrived late" in late["text"]
    assert len(slack.calls_to("chat.update")) == 1  # only the newer change redrew it


def test_a_recovery_delivered_before_its_alarm(bot, slack):
    name = _name()
    _invoke(bot, aws_events.alarm_event(name, "OK", T0 + timedelta(minutes=5), old_state="ALARM"))
    _invoke(bot, aws_events.alarm_event(name, "ALARM", T0))

    [card] = _top(slack)  # the late ALARM is older than the OK shown: no new thread, no overwrite
    assert "*OK*" in _state_line(card)
    [late] = _replies(slack, card["ts"])
    assert "*ALARM*" in late["text"] and "Arrived late" in late["text"]


def test_a_redelivered_notification_is_posted_once(bot, slack):
    name = _name()
    event = aws_events.alarm_event(name, "ALARM", T0)
    recovery = aws_events.alarm_event(name, "OK", T0 + timedelta(minutes=1), old_state="ALARM")
    for delivered in (event, event, recovery, recovery, event):
        _invoke(bot, delivered)

    assert len(slack.calls_to("chat.postMessage")) == 2
    [card] = _top(slack)
    assert len(_replies(slack, card["ts"])) == 1 and "*OK*" in _state_line(card)


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        (None, "Deploy finished <!channel> see <https://evil.example/login|https://docs.aws.amazon.com>"),
        ("Hand-published", '{"hello": "not an alarm", "AlarmName": 3}'),
        ("@here look", "@channel please check &amp; <@U0BOSS0001> @everyone"),
        (None, ""),
    ],
)
def test_any_other_message_is_posted_plainly_and_can_never_ping_or_disguise_a_link(bot, slack, subject, message):
    response = _invoke(bot, aws_events.sns_event(message, subject))

    assert response == {"notifications": 1}
    [posted] = _top(slack)
    text = posted["text"] + json.dumps(posted["blocks"], ensure_ascii=False)
    for live in ("<!channel>", "<!here>", "<https://evil", "<@U0BOSS0001>", "@channel", "@here", "@everyone"):
        assert live not in text, live
    if "<!channel>" in message:
        assert "&lt;!channel&gt;" in posted["text"]
        assert "&lt;https://evil.example/login|https://docs.aws.amazon.com&gt;" in posted["text"]
    if "@channel" in message:
        assert f"@{WORD_JOINER}channel" in posted["text"] and "&amp;amp;" in posted["text"]
    if subject:
        assert posted["text"].startswith(":envelope: *")


def test_a_channel_the_bot_is_not_in_is_logged_once_with_the_fix_and_raised_for_lambdas_retries(
    fresh_container, slack, capsys
):
    channel = f"C0NOBOT{uuid.uuid4().hex[:4].upper()}"
    bot = fresh_container(ALERTS_CHANNEL=channel)
    slack.channels_without_bot.add(channel)
    capsys.readouterr()

    from bolt_app.notifications.posting import NotificationUndeliverable

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    posting_logger = logging.getLogger("bolt_app.notifications.posting")
    posting_logger.addHandler(handler)
    try:
        for _ in range(2):
            with pytest.raises(NotificationUndeliverable, match="not_in_channel"):
                _invoke(bot, aws_events.alarm_event(_name(), "ALARM", T0))
    finally:
        posting_logger.removeHandler(handler)
    refused = [r.getMessage() for r in records if "alerts channel refused" in r.getMessage()]
    fix = f"invite the bot to the channel: /invite @<bot> in <#{channel}>"
    assert refused == [f"alerts channel refused: not_in_channel ({fix})"]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    metrics = [line for line in lines if "_aws" in line]
    # Flushed by @metrics.log_metrics even though the invocation raised: the alarm counts every refusal.
    assert sum(_total(m.get("AlertsUndeliverable", 0)) for m in metrics) == 2
    # Released for the retry: once the bot is invited, Lambda's retry posts it.
    slack.channels_without_bot.clear()
    assert _invoke(bot, aws_events.alarm_event(_name(), "ALARM", T0)) == {"notifications": 1}


def test_without_an_alerts_channel_nothing_is_posted(fresh_container, slack):
    bot = fresh_container()
    assert _invoke(bot, aws_events.alarm_event(_name(), "ALARM", T0))["notifications"] == 0
    assert slack.calls == []


# -- deploys -----------------------------------------------------------------------------------------


def test_a_deploy_of_this_stack_starts_a_thread_and_ends_in_it_with_its_duration(fresh_container, slack):
    stack = f"slack-bot-{uuid.uuid4().hex[:6]}"
    bot = fresh_container(ALERTS_CHANNEL=ALERTS, STACK_NAME=stack)
    start = aws_events.stack_status_event(stack, "UPDATE_IN_PROGRESS", T0, reason="User Initiated")
    _invoke(bot, start)
    _invoke(
        bot, aws_events.stack_status_event(stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", T0 + timedelta(seconds=95))
    )
    end = aws_events.stack_status_event(stack, "UPDATE_COMPLETE", T0 + timedelta(seconds=102))
    _invoke(bot, end)
    _invoke(bot, end)  # EventBridge delivers at least once
    _invoke(bot, start)

    [card] = _top(slack)
    [reply] = _replies(slack, card["ts"])
    assert reply["text"] == f":white_check_mark: *{stack}*: `UPDATE_COMPLETE` in 1 min 42 s"
    # The first message now says how it ended.
    assert card["text"] == reply["text"] and card["blocks"][0]["block_id"] == "deploy_state"
    assert slack.calls_to("chat.postMessage")[0].args["text"].startswith(f":rocket: Deploying *{stack}*…")
    assert len(slack.calls_to("chat.postMessage")) == 2


def test_a_failed_deploy_says_why_in_its_thread(fresh_container, slack):
    stack = f"slack-bot-{uuid.uuid4().hex[:6]}"
    bot = fresh_container(ALERTS_CHANNEL=ALERTS, STACK_NAME=stack)
    why = "The following resource(s) failed to update: [SlackBotFunction]. <!channel>"
    for status, seconds, reason in [
        ("UPDATE_IN_PROGRESS", 0, "User Initiated"),
        ("UPDATE_ROLLBACK_IN_PROGRESS", 40, why),
        ("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", 70, ""),
        ("UPDATE_ROLLBACK_COMPLETE", 75, ""),
    ]:
        _invoke(bot, aws_events.stack_status_event(stack, status, T0 + timedelta(seconds=seconds), reason=reason))

    [card] = _top(slack)
    rollback, end = _replies(slack, card["ts"])
    assert (
        "`UPDATE_ROLLBACK_IN_PROGRESS`" in rollback["text"]
        and "failed to update: [SlackBotFunction]" in rollback["text"]
    )
    assert "<!channel>" not in rollback["text"] and "&lt;!channel&gt;" in rollback["text"]
    assert end["text"].startswith(f":x: *{stack}*: `UPDATE_ROLLBACK_COMPLETE` in 1 min 15 s")
    assert card["text"].startswith(":x:")


def test_status_changes_of_other_stacks_are_ignored(fresh_container, slack):
    bot = fresh_container(ALERTS_CHANNEL=ALERTS, STACK_NAME="slack-bot")
    response = _invoke(bot, aws_events.stack_status_event("someone-elses-stack", "UPDATE_IN_PROGRESS", T0))

    assert response == {"notifications": 1}  # handled (and recorded as such): nothing to post
    assert slack.calls == []


# -- the digest ----------------------------------------------------------------------------------


def test_the_digest_posts_the_stack_status_card_once_per_scheduled_run(fresh_container, slack):
    bot = fresh_container(ALERTS_CHANNEL=ALERTS)
    run = aws_events.digest_event(T0)
    _invoke(bot, run)
    _invoke(bot, run)  # Scheduler's retry of the same run
    _invoke(bot, aws_events.digest_event(T0 + timedelta(days=1)))

    first, second = _top(slack)
    # Outside AWS there is no stack: the card /stack-status shows then.
    assert first["blocks"][0]["block_id"] == "stack_not_deployed"
    assert second["text"] == first["text"]


def test_the_digest_reports_the_deployed_stack(fresh_container, slack, aws_endpoint):
    import boto3

    stack = f"slack-bot-{uuid.uuid4().hex[:6]}"
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    boto3.client("cloudformation", endpoint_url=aws_endpoint).create_stack(
        StackName=stack, TemplateBody=json.dumps(template)
    )
    bot = fresh_container(ALERTS_CHANNEL=ALERTS, STACK_NAME=stack)
    _invoke(bot, aws_events.digest_event(T0))

    [card] = _top(slack)
    assert card["text"].startswith(f"Stack `{stack}`: CREATE_COMPLETE")
    assert card["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": f"Stack {stack}"}}


def test_slacks_requests_never_load_the_notification_code(slack):
    """handler.handler's HTTP path keeps its imports (and cold start): bolt_app.notifications and Powertools'
    event source data classes are loaded by the first notification only."""
    import subprocess
    import sys
    import textwrap

    from tests.conftest import ROOT_DIR, dm_event, lambda_env

    code = textwrap.dedent("""
        import json, sys
        import handler
        from bolt_app.local import slack_requests as sr
        dm, alarm = json.loads(sys.stdin.read())
        assert handler.handler(dm, sr.LambdaContext())["statusCode"] == 200
        loaded = [m for m in sys.modules if m.startswith("bolt_app.notifications") or ".data_classes" in m]
        assert not loaded, loaded
        assert handler.handler(alarm, sr.LambdaContext()) == {"notifications": 1}
        assert "bolt_app.notifications.entry" in sys.modules
        print("OK")
    """)
    events = [dm_event(sr.dm_message("hello")), aws_events.alarm_event(_name(), "ALARM", T0)]
    result = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(events),
        cwd=ROOT_DIR,
        env=lambda_env(slack, ALERTS_CHANNEL=ALERTS),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "OK" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("kind", ["alarm", "ok", "message", "deploy-start", "deploy-end", "deploy-failed", "digest"])
def test_python_m_bolt_app_event_prints_events_the_handler_takes(fresh_container, slack, kind):
    import subprocess
    import sys

    from tests.conftest import ROOT_DIR

    printed = subprocess.run(
        [sys.executable, "-m", "bolt_app", "event", kind, "--name", "slack-bot" if "deploy" in kind else _name()],
        cwd=ROOT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    bot = fresh_container(ALERTS_CHANNEL=ALERTS, STACK_NAME="slack-bot")

    assert _invoke(bot, json.loads(printed)) == {"notifications": 1}
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_a_card_deleted_in_slack_does_not_block_its_alarm(bot, slack):
    name = _name()
    _invoke(bot, aws_events.alarm_event(name, "ALARM", T0))
    [card] = _top(slack)
    slack._replace(ALERTS, card["ts"], None)  # someone deleted the card

    # The change is still posted (in the old thread); the redraw finds no card and retires the thread.
    assert _invoke(bot, aws_events.alarm_event(name, "OK", T0 + timedelta(minutes=2))) == {"notifications": 1}
    assert _invoke(bot, aws_events.alarm_event(name, "ALARM", T0 + timedelta(minutes=4))) == {"notifications": 1}

    [new_card] = _top(slack)
    assert new_card["ts"] != card["ts"] and "*ALARM*" in _state_line(new_card)


def test_a_failed_notification_releases_its_dynamodb_record_for_lambdas_retry(
    fresh_container, slack, idempotency_table
):
    channel = f"C0DDBNOT{uuid.uuid4().hex[:3].upper()}"
    bot = fresh_container(ALERTS_CHANNEL=channel, IDEMPOTENCY_TABLE=idempotency_table)
    slack.channels_without_bot.add(channel)
    event = aws_events.alarm_event(_name(), "ALARM", T0)

    from bolt_app.notifications.posting import NotificationUndeliverable

    with pytest.raises(NotificationUndeliverable):
        _invoke(bot, event)
    slack.channels_without_bot.clear()  # the bot was invited before Lambda's retry
    assert _invoke(bot, event) == {"notifications": 1}
    assert _invoke(bot, event) == {"notifications": 0}  # and a redelivery after it is a duplicate
    assert len(_top(slack, channel)) == 1


def test_the_fake_slack_rate_limits_posts_per_channel_only_when_asked(slack):
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    from tests.conftest import BOT_TOKEN

    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url, retry_handlers=[])
    for _ in range(3):  # off by default: existing tests are unchanged
        client.chat_postMessage(channel=ALERTS, text="free")
    slack.rate_limit("chat.postMessage", per_channel_interval=1.0)

    client.chat_postMessage(channel=ALERTS, text="first")
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel=ALERTS, text="too soon")
    assert refused.value.response.status_code == 429
    assert refused.value.response["error"] == "ratelimited"
    assert refused.value.response.headers["Retry-After"] == "1"  # whole seconds, as Slack sends
    client.chat_postMessage(channel="C0OTHER001", text="another channel has its own limit")
    client.chat_update(channel=ALERTS, ts=_top(slack)[0]["ts"], text="updates are not limited here")
    assert [c.args["text"] for c in slack.rate_limited] == ["too soon"]
    assert "too soon" not in [m["text"] for m in slack.messages(ALERTS)]
    slack.reset()
    client.chat_postMessage(channel=ALERTS, text="reset lifts it")
    client.chat_postMessage(channel=ALERTS, text="reset lifts it")


@pytest.mark.parametrize(
    "event",
    [
        {"Records": [{"EventSource": "aws:sns"}]},  # no Sns in the record
        {"Records": [{"EventSource": "aws:sns", "Sns": "text"}]},
        {"Records": [{"EventSource": "aws:sns", "Sns": {}}, {"EventSource": "aws:sqs"}]},
        {"source": "aws.cloudformation", "detail-type": "CloudFormation Drift Detection Status Change", "id": "1"},
        {"source": "aws.cloudformation", "detail-type": "CloudFormation Stack Status Change", "detail": []},
    ],
)
def test_malformed_aws_events_are_ignored_without_a_crash(bot, slack, event):
    response = _invoke(bot, event)

    assert response["notifications"] == 0
    assert slack.calls_to("chat.postMessage") == []


def test_an_sns_message_without_a_message_id_is_still_posted_once(bot, slack):
    event = aws_events.sns_event("published by a script that builds its own events")
    del event["Records"][0]["Sns"]["MessageId"]
    other = aws_events.sns_event("another one")
    del other["Records"][0]["Sns"]["MessageId"]
    for delivered in (event, event, other):
        _invoke(bot, delivered)

    assert [m["text"] for m in _top(slack)] == [
        ":envelope: *Notification*\npublished by a script that builds its own events",
        ":envelope: *Notification*\nanother one",
    ]
