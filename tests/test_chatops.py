"""The command policy and the audit trail, through `handler.handler` with requests signed as Slack signs
them: refusals (a guest, a command the policy does not name, a click on a declared button), `/help` by
role, every refusal in the audit log group (moto server, CloudWatch Logs), `/audit` read back in its lazy
run (the fake Lambda Invoke endpoint), a failed audit write that still refuses, DMs that never meet the
policy."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bolt_app.chatops import policy_action, registry_of
from bolt_app.foundation import aws_clients
from bolt_app.local import slack_requests as sr
from bolt_app.local.fake_aws import FakeLambda
from bolt_app.local.fake_slack import FakeSlack, Fault
from bolt_app.slack_web.blocks import DINNER_PICKER_BLOCKS
from tests.conftest import TEST_ADMIN, body_json, dm_event, signed

ADMIN, OPERATOR, GUEST = "U0ADMIN001", "U0OPER0001", "U0GUEST001"
OPS_CHANNEL = "C0OPSROOM1"
TEST_POLICY = f"""
[roles]
admins = ["{ADMIN}"]
operators = ["{OPERATOR}"]

[commands."/help"]
allow = ["everyone"]

[commands."/test"]
allow = ["everyone"]

[commands."/stack-status"]
allow = ["operators", "admins"]

[commands."/audit"]
allow = ["admins"]

# A button of a command that acts: listing is for operators, acting for admins only, in one channel.
[commands."/widgets"]
allow = ["operators", "admins"]
act = ["admins"]
channels = ["{OPS_CHANNEL}"]
"""
WIDGET_ACTION = "widgets_frobnicate"


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(TEST_POLICY)
    return path


@pytest.fixture(scope="session")
def fake_lambda_server() -> Iterator[FakeLambda]:
    with FakeLambda().serve() as fake:
        yield fake


@pytest.fixture
def lambda_api(
    monkeypatch: pytest.MonkeyPatch, fake_lambda_server: FakeLambda, aws_endpoint: str
) -> Iterator[FakeLambda]:
    fake_lambda_server.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", fake_lambda_server.base_url)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "slack-bolt-bot")
    monkeypatch.delenv("STACK_NAME", raising=False)
    aws_clients.reset()
    yield fake_lambda_server
    aws_clients.reset()


@pytest.fixture
def audit_group(aws_endpoint: str) -> str:
    """A fresh audit log group in moto, as template.yaml makes it."""
    import boto3

    name = f"/slack-bolt-bot/audit-{uuid.uuid4().hex[:8]}"
    boto3.client("logs").create_log_group(logGroupName=name)
    return name


def audit_events(group: str) -> list[dict[str, Any]]:
    """Every record in the group, read back the way an operator would (not through the bot's code)."""
    import boto3

    logs = boto3.client("logs")
    return [json.loads(e["message"]) for e in logs.filter_log_events(logGroupName=group)["events"]]


@pytest.fixture
def bot(fresh_container: Any, policy_file: Path, lambda_api: FakeLambda, audit_group: str) -> Any:
    """A fresh container with the test policy and the audit trail in moto's CloudWatch Logs."""
    return fresh_container(CHATOPS_POLICY_FILE=str(policy_file), AUDIT_LOG_GROUP=audit_group)


def command(slack: FakeSlack, name: str, text: str = "", *, user: str, channel: str = "C0GENERAL1") -> dict[str, Any]:
    fields = sr.slash_command(name, text, response_url=slack.new_response_url(), user=user, channel=channel)
    return signed(sr.form_body(fields))


def run(module: Any, event: dict[str, Any]) -> dict[str, Any]:
    return module.handler(event, sr.LambdaContext())


def deliver(module: Any, invocation_payload: dict[str, Any]) -> dict[str, Any]:
    return module.handler(json.loads(json.dumps(invocation_payload)), sr.LambdaContext())


# -- refusals ---------------------------------------------------------------------------------------


def test_a_guest_is_refused_at_once_privately_with_what_and_why(bot, slack, lambda_api, audit_group, capsys):
    capsys.readouterr()
    response = run(bot, command(slack, "/stack-status", user=GUEST))

    assert response["statusCode"] == 200
    # A plain-text answer to a slash command: shown to the person who typed it only.
    assert response["body"] == "Sorry, you can't do that: `/stack-status` is for operators and admins."
    # Nothing of the command ran: no lazy self-invocation (so no CloudFormation, no CloudWatch), no post.
    assert lambda_api.invocations == []
    assert slack.calls == [] and slack.response_posts == []
    [record] = audit_events(audit_group)
    assert record["decision"] == "refused" and record["user"] == GUEST and record["command"] == "/stack-status"
    assert record["channel"] == "C0GENERAL1" and record["action"] == "run"
    assert record["result"] == "`/stack-status` is for operators and admins."
    assert set(record) >= {"time", "user", "channel", "command", "action", "target", "decision", "approver", "result"}
    assert '"CommandsDenied":[1.0]' in capsys.readouterr().out


def test_an_operator_may_run_what_the_policy_gives_operators(bot, slack, lambda_api, audit_group):
    response = run(bot, command(slack, "/stack-status", user=OPERATOR))

    assert response["statusCode"] == 200
    assert body_json(response)["text"].startswith("Checking")
    assert len(lambda_api.invocations) == 1
    assert audit_events(audit_group) == []  # nothing refused


def test_a_command_the_policy_does_not_name_is_refused_even_to_admins(
    fresh_container, tmp_path, slack, lambda_api, audit_group
):
    # /stack-status has a listener (it is registered, in the manifest) but no entry in this policy.
    path = tmp_path / "no-stack-status.toml"
    path.write_text(TEST_POLICY.replace('[commands."/stack-status"]\nallow = ["operators", "admins"]\n', ""))
    module = fresh_container(CHATOPS_POLICY_FILE=str(path), AUDIT_LOG_GROUP=audit_group)

    response = run(module, command(slack, "/stack-status", user=ADMIN))

    assert (
        response["body"]
        == "Sorry, you can't do that: `/stack-status` is not in the bot's policy, so nobody may run it."
    )
    assert lambda_api.invocations == [] and slack.calls == [] and slack.response_posts == []
    [record] = audit_events(audit_group)
    assert (record["user"], record["command"], record["decision"]) == (ADMIN, "/stack-status", "refused")


def test_the_shipped_policy_gives_admins_only_what_it_names(fresh_container, slack, lambda_api, audit_group):
    # The shipped policy.toml, ChatOpsAdmins naming the suite's user: /stack-status runs for them,
    # not for anyone else; /test and /help run for everyone.
    module = fresh_container(AUDIT_LOG_GROUP=audit_group)
    assert body_json(run(module, command(slack, "/stack-status", user=TEST_ADMIN)))["text"].startswith("Checking")
    refused = run(module, command(slack, "/stack-status", user=GUEST))
    assert refused["body"] == "Sorry, you can't do that: `/stack-status` is for admins."
    assert body_json(run(module, command(slack, "/test", user=GUEST)))["response_type"] == "in_channel"
    assert len(lambda_api.invocations) == 1
    assert [r["user"] for r in audit_events(audit_group)] == [GUEST]


# -- clicks on a declared button --------------------------------------------------------------------


@pytest.fixture
def widget_clicks(bot: Any) -> list[dict[str, Any]]:
    """A button declared as `/widgets` `act` on the container's app (as /instances declares Start/Stop);
    its listener records each click it is allowed to see."""
    app = bot.bot.lambda_adapter.app
    seen: list[dict[str, Any]] = []

    def frobnicate(ack: Any, body: dict[str, Any]) -> None:
        ack()
        seen.append(body)

    policy_action(app, WIDGET_ACTION, command="/widgets", verb="act")(frobnicate)
    # Before the catch-all (registered last by register_listeners), as a listener module's would be.
    app._listeners.insert(0, app._listeners.pop())
    return seen


def widget_click(slack: FakeSlack, *, user: str, channel: str = OPS_CHANNEL) -> dict[str, Any]:
    action = {"type": "button", "action_id": WIDGET_ACTION, "block_id": "widgets", "value": "widget-7"}
    return signed(
        sr.interactive_body(sr.block_actions(action, response_url=slack.new_response_url(), user=user, channel=channel))
    )


def test_a_click_without_the_verb_is_refused_by_an_ephemeral_message_in_the_same_request(
    bot, slack, widget_clicks, audit_group, capsys
):
    capsys.readouterr()
    # Operators may list widgets (allow) but not act on them.
    response = run(bot, widget_click(slack, user=OPERATOR))

    assert response["statusCode"] == 200
    assert widget_clicks == []  # the listener never ran
    [call] = slack.calls_to("chat.postEphemeral")
    assert call.args["user"] == OPERATOR and call.args["channel"] == OPS_CHANNEL
    assert call.args["text"] == "Sorry, you can't do that: `/widgets` (act) is for admins."
    assert slack.response_posts == []
    [record] = audit_events(audit_group)
    assert (record["user"], record["command"], record["action"], record["target"]) == (
        OPERATOR,
        "/widgets",
        "act",
        "widget-7",
    )
    assert record["decision"] == "refused" and record["channel"] == OPS_CHANNEL
    assert '"CommandsDenied":[1.0]' in capsys.readouterr().out


def test_a_click_by_someone_granted_the_verb_reaches_the_listener(bot, slack, widget_clicks, audit_group):
    assert run(bot, widget_click(slack, user=ADMIN))["statusCode"] == 200

    [body] = widget_clicks
    assert body["user"]["id"] == ADMIN
    assert slack.calls_to("chat.postEphemeral") == [] and audit_events(audit_group) == []


def test_a_click_outside_the_commands_channels_is_refused(bot, slack, widget_clicks):
    run(bot, widget_click(slack, user=ADMIN, channel="C0GENERAL1"))

    assert widget_clicks == []
    [call] = slack.calls_to("chat.postEphemeral")
    assert call.args["text"] == f"Sorry, you can't do that: `/widgets` (act) can only be used in <#{OPS_CHANNEL}>."


def test_when_the_bot_cannot_post_there_the_refusal_goes_to_the_clicks_response_url(bot, slack, widget_clicks):
    # chat.postEphemeral needs the bot in the channel; a click's response_url reaches the clicker anyway.
    slack.inject("chat.postEphemeral", Fault(status=200, body={"ok": False, "error": "channel_not_found"}))
    run(bot, widget_click(slack, user=GUEST))

    assert widget_clicks == []
    [post] = slack.response_posts
    assert post.payload["response_type"] == "ephemeral" and post.payload["replace_original"] is False
    assert post.payload["text"] == "Sorry, you can't do that: `/widgets` (act) is for admins."


def test_the_dinner_picker_stays_open_to_everyone(bot, slack, audit_group):
    click = sr.block_actions(
        sr.button_click(DINNER_PICKER_BLOCKS, "dinner_pick_farmhouse"),
        response_url=slack.new_response_url(),
        user=GUEST,
    )
    assert run(bot, signed(sr.interactive_body(click)))["statusCode"] == 200

    [post] = slack.response_posts
    assert post.payload["replace_original"] is True  # the pick happened
    assert slack.calls_to("chat.postEphemeral") == [] and audit_events(audit_group) == []


def test_a_dm_never_meets_the_policy(bot, slack, audit_group):
    assert run(bot, dm_event(sr.dm_message("hello", user=GUEST)))["statusCode"] == 200

    [call] = slack.calls_to("chat.postMessage")
    assert call.args["text"].startswith("Echo: hello")
    assert audit_events(audit_group) == []


# -- /help ------------------------------------------------------------------------------------------


def help_lines(response: dict[str, Any]) -> list[str]:
    answer = body_json(response)
    assert answer.get("response_type", "ephemeral") == "ephemeral"
    return re.findall(r"`(/[a-z-]+)", answer["text"])


def test_help_lists_what_each_person_may_run(bot, slack):
    assert help_lines(run(bot, command(slack, "/help", user=GUEST))) == ["/help", "/test"]
    assert help_lines(run(bot, command(slack, "/help", user=OPERATOR))) == ["/help", "/stack-status", "/test"]
    admin_help = run(bot, command(slack, "/help", user=ADMIN))
    assert help_lines(admin_help) == ["/audit", "/help", "/stack-status", "/test"]
    # With the registration's usage hints and descriptions.
    assert "`/audit [@person]`: Show the audit trail" in body_json(admin_help)["text"]


# -- the audit trail, read back ---------------------------------------------------------------------


def test_audit_shows_the_newest_records_to_an_admin_only(bot, slack, lambda_api, audit_group):
    for user in (GUEST, OPERATOR, GUEST):
        run(bot, command(slack, "/audit", user=user))  # refused: audit is for admins
    assert len(audit_events(audit_group)) == 3 and lambda_api.invocations == []

    ack = run(bot, command(slack, "/audit", user=ADMIN))
    assert ack["body"] == "Reading the audit trail…"
    [invocation] = lambda_api.invocations
    assert deliver(bot, invocation.payload)["statusCode"] == 200

    [post] = slack.response_posts
    assert post.payload["response_type"] == "ephemeral"
    text = json.dumps(post.payload["blocks"])
    assert text.count("*refused*") == 3 and f"<@{OPERATOR}>" in text and f"<@{GUEST}>" in text


def test_audit_of_one_person(bot, slack, lambda_api, audit_group):
    run(bot, command(slack, "/stack-status", user=GUEST))
    run(bot, command(slack, "/audit", user=OPERATOR))
    # As Slack sends a person picked from the autocomplete with escaping on (the manifest's /audit).
    ack = run(bot, command(slack, "/audit", f"<@{OPERATOR}|oscar>", user=ADMIN))
    assert ack["body"] == f"Reading the audit trail of <@{OPERATOR}>…"
    deliver(bot, lambda_api.invocations[0].payload)

    [post] = slack.response_posts
    text = json.dumps(post.payload["blocks"])
    assert "/audit" in text and f"<@{OPERATOR}>" in text
    assert "/stack-status" not in text and f"<@{GUEST}>" not in text


def test_audit_with_a_name_it_cannot_resolve_says_how(bot, slack, lambda_api):
    # "@oscar" as typed, not picked from the list: a display name, which names nobody reliably.
    response = run(bot, command(slack, "/audit", "@oscar", user=ADMIN))

    assert response["body"].startswith("I can't tell who that is.")
    # Bolt starts the lazy run whatever the ack said; it reads nothing and posts nothing.
    for invocation in lambda_api.invocations:
        deliver(bot, invocation.payload)
    assert slack.response_posts == []


@pytest.fixture
def audit_log() -> Iterator[list[logging.LogRecord]]:
    """The audit module's own log records (its logger sends them to the function's log, not to the test's)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.INFO)
    logger = logging.getLogger("bolt_app.chatops.audit")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_a_failed_audit_write_still_refuses_and_is_logged_with_the_record_and_counted(
    fresh_container, policy_file, slack, lambda_api, audit_log, capsys
):
    # The group does not exist (or the role may not write to it): the refusal stands, the record is not lost.
    module = fresh_container(CHATOPS_POLICY_FILE=str(policy_file), AUDIT_LOG_GROUP="/no/such/group")
    capsys.readouterr()

    response = run(module, command(slack, "/stack-status", user=GUEST))

    assert response["body"] == "Sorry, you can't do that: `/stack-status` is for operators and admins."
    assert lambda_api.invocations == []
    [error] = [r for r in audit_log if r.levelno == logging.ERROR]
    message = error.getMessage()
    assert message.startswith("audit record not written (ResourceNotFoundException): ")
    assert json.loads(message.split(": ", 1)[1])["user"] == GUEST  # the record itself, in the ERROR line
    metrics = capsys.readouterr().out
    assert '"AuditWriteFailures":[1.0]' in metrics and '"CommandsDenied":[1.0]' in metrics


def test_locally_each_record_is_a_json_log_line_marked_audit(fresh_container, policy_file, slack, audit_log):
    module = fresh_container(CHATOPS_POLICY_FILE=str(policy_file))

    run(module, command(slack, "/stack-status", user=GUEST))

    [record] = [r for r in audit_log if getattr(r, "audit", False) is True]
    assert (record.user, record.command, record.decision) == (GUEST, "/stack-status", "refused")
    assert registry_of(module.bot.lambda_adapter.app).audit.recent(20)[0]["user"] == GUEST


# -- Slack user groups as role members ---------------------------------------------------------------

ON_CALL = "U0ONCALL01"


@pytest.fixture
def group_bot(fresh_container: Any, tmp_path: Path, lambda_api: FakeLambda, audit_group: str) -> Any:
    path = tmp_path / "groups.toml"
    path.write_text(TEST_POLICY.replace(f'operators = ["{OPERATOR}"]', f'operators = ["{OPERATOR}", "@oncall"]'))
    return fresh_container(CHATOPS_POLICY_FILE=str(path), AUDIT_LOG_GROUP=audit_group)


def test_a_role_may_name_a_slack_user_group_read_once_and_cached(group_bot, slack, lambda_api):
    slack.usergroups.update(oncall=[ON_CALL], other=[GUEST])

    assert body_json(run(group_bot, command(slack, "/stack-status", user=ON_CALL)))["text"].startswith("Checking")
    assert run(group_bot, command(slack, "/stack-status", user=GUEST))["body"] == (
        "Sorry, you can't do that: `/stack-status` is for operators and admins."
    )
    assert help_lines(run(group_bot, command(slack, "/help", user=ON_CALL))) == ["/help", "/stack-status", "/test"]

    [call] = slack.calls_to("usergroups.list")  # one read for the three checks
    assert call.args["include_users"] in ("true", "1", True)
    assert len(lambda_api.invocations) == 1
    # Members listed by ID need no read at all.
    assert run(group_bot, command(slack, "/stack-status", user=ADMIN))["statusCode"] == 200
    assert len(slack.calls_to("usergroups.list")) == 1


def test_when_groups_cannot_be_read_their_members_are_refused(group_bot, slack, lambda_api, audit_group):
    slack.usergroups["oncall"] = [ON_CALL]
    slack.inject("usergroups.list", Fault(status=200, body={"ok": False, "error": "missing_scope"}))

    response = run(group_bot, command(slack, "/stack-status", user=ON_CALL))

    assert response["body"] == "Sorry, you can't do that: `/stack-status` is for operators and admins."
    assert lambda_api.invocations == []
    # Members listed by ID are not affected, and a later read (after the retry delay) would let them in.
    assert run(group_bot, command(slack, "/stack-status", user=OPERATOR))["statusCode"] == 200
    assert [r["user"] for r in audit_events(audit_group)] == [ON_CALL]


def test_group_membership_is_read_again_after_its_ttl(slack):
    from slack_sdk import WebClient

    from bolt_app.chatops.usergroups import RETRY_SECONDS, TTL_SECONDS, UserGroups
    from tests.conftest import BOT_TOKEN

    now = [1000.0]
    groups = UserGroups(lambda: WebClient(base_url=slack.api_url, token=BOT_TOKEN), clock=lambda: now[0])
    slack.usergroups["oncall"] = [ON_CALL]
    assert groups.members("oncall") == {ON_CALL}
    slack.usergroups["oncall"] = [GUEST]  # changed in Slack
    now[0] += TTL_SECONDS - 1
    assert groups.members("oncall") == {ON_CALL}  # still the cached answer
    now[0] += 2
    assert groups.members("oncall") == {GUEST}
    assert len(slack.calls_to("usergroups.list")) == 2
    # A failed read keeps the last answer and tries again after RETRY_SECONDS, not at every check.
    slack.inject("usergroups.list", Fault(status=200, body={"ok": False, "error": "ratelimited"}))
    now[0] += TTL_SECONDS + 1
    assert groups.members("oncall") == {GUEST}
    assert groups.members("oncall") == {GUEST}
    assert len([a for a in slack.arrivals if a == "usergroups.list"]) == 3
    now[0] += RETRY_SECONDS + 1
    assert groups.members("oncall") == {GUEST} and len(slack.calls_to("usergroups.list")) == 3
