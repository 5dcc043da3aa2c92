"""policy.toml: the shipped file is valid and denies by default; a broken one stops the start-up with one
line naming the file and the problem (Lambda: each request a 500; `python -m bolt_app`: exit 2), never a
silent allow."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from slack_bolt import App

from bolt_app.chatops import Policy, PolicyError, policy_action, registry_of
from bolt_app.chatops.policy import VERBS
from bolt_app.config import DEFAULT_POLICY_FILE, Settings
from bolt_app.listeners import register_listeners
from tests.conftest import BOT_TOKEN, ROOT_DIR, SIGNING_SECRET

SHIPPED = ROOT_DIR / "policy.toml"


def test_the_shipped_policy_parses_and_is_the_default() -> None:
    assert Path(DEFAULT_POLICY_FILE) == SHIPPED
    policy = Policy.load(SHIPPED)
    assert set(policy.commands) >= {"/help", "/test", "/stack-status", "/instances", "/audit"}


def test_the_shipped_policy_gives_everyone_help_and_test_and_everything_else_to_admins() -> None:
    policy = Policy.load(SHIPPED, extra_admins=["U0ADMIN001"])
    assert policy.commands_for("U0GUEST001") == [c for c in policy.commands if c in ("/help", "/test", "alarms")]
    for command, rule in policy.commands.items():
        for verb, principals in rule.grants.items():
            expected = ("everyone",) if command in ("/help", "/test", "alarms") else ("admins",)
            assert principals == expected, (command, verb)
    assert policy.decide("U0ADMIN001", "/instances", "act").allowed
    assert policy.decide("U0ADMIN001", "/instances", "approve").allowed
    assert not policy.decide("U0ADMIN001", "/reboot-world").allowed  # admins only get what the policy names


def test_chatops_admins_adds_to_admins_and_nobody_is_an_admin_without_it() -> None:
    assert Policy.load(SHIPPED).roles["admins"] == frozenset()
    settings = Settings.from_env(
        {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "CHATOPS_ADMINS": "U0A1, W0B2,"}
    )
    assert settings.chatops_admins == ("U0A1", "W0B2")
    policy = Policy.load(settings.policy_file, settings.chatops_admins)
    assert policy.roles["admins"] == {"U0A1", "W0B2"}
    assert policy.decide("W0B2", "/stack-status").allowed and not policy.decide("U0OTHER1", "/stack-status").allowed


def test_every_registered_command_has_an_entry_in_the_shipped_policy() -> None:
    # Not a rule of the policy (a command without an entry is refused, safely), but of the shipped bot:
    # a command of its own that nobody may run would be a bug.
    app = App(signing_secret="s", token="xoxb-t", token_verification_enabled=False)
    register_listeners(app, Settings(bot_token="xoxb-t", signing_secret="s"))
    assert set(registry_of(app).commands) <= set(Policy.load(SHIPPED).commands)


BASE = """
[roles]
admins = ["U0ADMIN001"]
operators = ["U0OPER0001"]

[commands."/help"]
allow = ["everyone"]
"""


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[commands."/x"\nallow = []', "not valid TOML: "),
        ('[commands."/x"]\nalow = ["admins"]', "unknown key 'alow' in [commands.\"/x\"]; did you mean 'allow'?"),
        ('[commands."/x"]\nallow = ["oprators"]', "[commands.\"/x\"] allow names an unknown role 'oprators'"),
        ('[commands."/x"]\napprove = ["approvers"]', "names an unknown role 'approvers'"),
        ('[command."/x"]\nallow = ["admins"]', "unknown key 'command' at the top level; did you mean 'commands'?"),
        ('[commands."/x"]\nallow = "admins"', '[commands."/x"] allow must be a list of strings'),
        ('[commands."/x"]\nallow = ["admins"]\nchannels = ["general"]', "'general' is not a Slack channel ID"),
        ('[commands."/X Y"]\nallow = ["admins"]', "not a command name"),
    ],
)
def test_a_broken_policy_is_one_line_naming_the_file_and_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(BASE + text + "\n")
    with pytest.raises(PolicyError) as raised:
        Policy.load(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and problem in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("roles", "problem"),
    [
        ('oncall = ["@On Call"]', "'@On Call' is not a Slack user group handle"),
        ('oncall = ["ana"]', "'ana' is not a Slack user ID"),
        ('everyone = ["U0A1"]', "'everyone' is not a usable role name"),
    ],
)
def test_roles_hold_user_ids(roles: str, problem: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(problem)):
        Policy.parse(f"[roles]\n{roles}\n", "policy.toml")


def test_a_bad_chatops_admins_value_is_named() -> None:
    with pytest.raises(PolicyError, match=r"CHATOPS_ADMINS: 'ana@example\.com' is not a Slack user ID"):
        Policy.load(SHIPPED, extra_admins=["ana@example.com"])


def test_a_missing_policy_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"nowhere\.toml: cannot be read \(FileNotFoundError\)$"):
        Policy.load(tmp_path / "nowhere.toml")


def test_decisions_name_what_and_why() -> None:
    policy = Policy.parse(
        BASE + '[commands."/instances"]\nallow = ["operators", "admins"]\nact = ["admins", "U0OPER0002"]\n'
        'channels = ["C0OPS00001"]\n'
    )
    assert policy.decide("U0GUEST001", "/instances", channel_id="C0OPS00001").reason == (
        "`/instances` is for operators and admins."
    )
    assert policy.decide("U0OPER0001", "/instances", "act", "C0OPS00001").reason == (
        "`/instances` (act) is for admins and <@U0OPER0002>."
    )
    assert policy.decide("U0OPER0002", "/instances", "act", "C0OPS00001").allowed
    assert policy.decide("U0OPER0001", "/instances", "approve", "C0OPS00001").reason == (
        "`/instances` (approve) is not granted to anyone in the bot's policy."
    )
    assert policy.decide("U0ADMIN001", "/instances", channel_id="C0ELSEWHERE").reason == (
        "`/instances` can only be used in <#C0OPS00001>."
    )
    assert policy.decide(None, "/help").allowed  # everyone, even without a user
    assert not policy.decide(None, "/instances", channel_id="C0OPS00001").allowed


def test_a_declared_button_needs_a_known_verb() -> None:
    app = App(signing_secret="s", token="xoxb-t", token_verification_enabled=False)
    with pytest.raises(ValueError, match="verb 'start' is not one of"):
        policy_action(app, "x_start", command="/x", verb="start")
    assert set(VERBS) == {"allow", "act", "approve"}


def test_every_button_listener_is_declared_to_the_policy() -> None:
    # A button that acts must be declared with policy_action (or, like the picker, open_action): the
    # middleware only knows what is declared. Every app.action a listener module registers is checked.
    constraints: list[object] = []

    class RecordingApp(App):
        def action(self, constraints_: object, *args: object, **kwargs: object):  # type: ignore[override]
            constraints.append(constraints_)
            return super().action(constraints_, *args, **kwargs)

    app = RecordingApp(signing_secret="s", token="xoxb-t", token_verification_enabled=False)
    register_listeners(app, Settings(bot_token="xoxb-t", signing_secret="s"))
    registry = registry_of(app)
    # The catch-all (fallbacks.py, registered last) acknowledges clicks nothing handles, and acts on none.
    catch_all = constraints.pop()
    assert getattr(catch_all, "pattern", None) == ".*"
    undeclared = [c for c in constraints if not registry.declares_action(c)]  # type: ignore[arg-type]
    assert constraints and not undeclared, f"declare these with policy_action or open_action: {undeclared}"


# -- start-up --------------------------------------------------------------------------------------


def _env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHATOPS_", "AUDIT_"))}
    env.update(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL="http://127.0.0.1:9/api/")
    env.update(overrides)
    return env


def test_on_lambda_a_broken_policy_is_one_error_line_and_each_request_a_500(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(BASE + '[commands."/stack-status"]\nallow = ["oprators"]\n')
    code = (
        "import json, handler; from bolt_app.local import slack_requests as sr;"
        "body = sr.form_body(sr.slash_command('/stack-status', response_url='https://hooks.slack.com/x'));"
        f"r = handler.handler(sr.signed_event({SIGNING_SECRET!r}, body), sr.LambdaContext()); print(json.dumps(r))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT_DIR,
        env=_env(CHATOPS_POLICY_FILE=str(path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    # One line at start-up, and one more each time a request tries the configuration again.
    errors = [line["message"] for line in lines if line.get("level") == "ERROR"]
    assert errors and set(errors) == {
        f"configuration error: {path}: [commands.\"/stack-status\"] allow names an unknown role 'oprators' "
        '(roles: admins, operators; or a user ID, or "everyone")'
    }
    assert lines[-1]["statusCode"] == 500


def test_python_dash_m_bolt_app_stops_with_one_line_on_a_broken_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(BASE + '[commands."/stack-status"]\nalow = ["admins"]\n')
    result = subprocess.run(
        [sys.executable, "-m", "bolt_app", "--port", "0"],
        cwd=ROOT_DIR,
        env=_env(CHATOPS_POLICY_FILE=str(path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {path}: unknown key 'alow' in [commands.\"/stack-status\"]; did you mean 'allow'?"
    )
    assert "Traceback" not in result.stdout + result.stderr


def test_the_playground_stops_with_one_line_on_a_broken_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(BASE + '[commands."/stack-status"]\nallow = ["oprators"]\n')
    env = {k: v for k, v in _env(CHATOPS_POLICY_FILE=str(path)).items() if not k.startswith("SLACK_")}
    result = subprocess.run(
        [sys.executable, "-m", "bolt_app", "--port", "0"],
        cwd=ROOT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"error: {path}: [commands.\"/stack-status\"] allow names an unknown role 'oprators'"
    )
    assert "Traceback" not in result.stdout + result.stderr


def test_a_click_meets_the_rule_of_the_listener_bolt_runs_the_first_registered_that_matches() -> None:
    # Bolt runs the first registered listener whose matcher matches; the policy must judge the click by that
    # listener's declaration. A button pattern that acts, registered before an open exact id it also covers:
    # an exact-ids-first lookup took the open rule while Bolt ran the acting listener.
    from bolt_app.chatops import open_action

    app = App(signing_secret=SIGNING_SECRET, token=BOT_TOKEN, token_verification_enabled=False)
    policy_action(app, re.compile("^rollout_"), command="/rollout", verb="act")(lambda ack: ack())
    open_action(app, "rollout_preview")(lambda ack: ack())
    rule = registry_of(app).rule_for_action("rollout_preview")
    assert rule is not None and (rule.command, rule.verb) == ("/rollout", "act")
    click = _click_request("rollout_preview")
    first = next(listener for listener in app._listeners if listener.matches(req=click, resp=None))
    assert first is app._listeners[0]  # the acting one: the one the policy judged it by


def _click_request(action_id: str):  # a BoltRequest for a click, as Bolt's matchers read it
    from slack_bolt import BoltRequest

    payload = {"type": "block_actions", "actions": [{"action_id": action_id, "block_id": "b"}], "user": {"id": "U1"}}
    return BoltRequest(body="payload=" + json.dumps(payload), mode="http")
