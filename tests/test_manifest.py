"""The Slack app manifest: the fields a working install needs, and the URLs the command fills in."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from slack_bolt import App

from bolt_app.chatops import registry_of
from bolt_app.config import Settings
from bolt_app.listeners import register_listeners
from bolt_app.local import manifest as m

ROOT = Path(__file__).resolve().parents[1]
COMMANDS_READING_MENTIONS = frozenset({"/audit"})
URL = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/slack/events"


def all_urls(node: Any) -> list[str]:
    """Every value of a key ending in `url`, anywhere in the manifest."""
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k.endswith("url") and isinstance(v, str)]
        return found + [u for v in node.values() for u in all_urls(v)]
    if isinstance(node, list):
        return [u for v in node for u in all_urls(v)]
    return []


def render(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert m.main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_manifest_json_has_what_the_bot_needs() -> None:
    manifest = json.loads((ROOT / "slack" / "manifest.json").read_text())
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert sorted(scopes) == sorted(["chat:write", "im:history", "im:read", "commands"])
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["bot_events"] == ["message.im"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is False
    # Without the Messages tab, and with it read-only, nobody can DM the bot.
    app_home = manifest["features"]["app_home"]
    assert app_home["messages_tab_enabled"] is True
    assert app_home["messages_tab_read_only_enabled"] is False
    assert manifest["features"]["bot_user"]["display_name"]
    assert "/test" in m.slash_commands(manifest)
    assert m.load_manifest() == manifest


class _RecordingApp(App):
    """A real Bolt App that also notes every slash command a listener module registers."""

    def __init__(self) -> None:
        super().__init__(signing_secret="s", token="xoxb-t", token_verification_enabled=False)
        self.commands: list[str] = []

    def command(self, command: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(command, str):
            self.commands.append(command)
        return super().command(command, *args, **kwargs)


def registered_commands() -> list[str]:
    app = _RecordingApp()
    register_listeners(app, Settings(bot_token="xoxb-t", signing_secret="s"))
    return app.commands


def test_help_says_what_the_manifest_says() -> None:
    # /help lists each command with the registration's description and usage hint (bolt_app/chatops/
    # registry.py); Slack's autocomplete shows the manifest's. Every command is registered through the
    # registry, so /help and the policy know it, and both texts agree.
    app = _RecordingApp()
    register_listeners(app, Settings(bot_token="xoxb-t", signing_secret="s"))
    specs = registry_of(app).commands
    assert sorted(specs) == sorted(app.commands), "a command was registered with app.command, not slash_command"
    for entry in m.load_manifest()["features"]["slash_commands"]:
        spec = specs[entry["command"]]
        assert (spec.description, spec.usage_hint) == (entry["description"], entry.get("usage_hint", "")), entry


def test_the_manifest_declares_exactly_the_commands_the_app_registers() -> None:
    # One truth: a command module without its manifest entry works in the playground but Slack
    # rejects it; a manifest entry without a module gets "Sorry, I don't know" in Slack.
    registered = registered_commands()
    assert len(registered) == len(set(registered)), f"a command is registered twice: {registered}"
    declared = m.slash_commands(m.load_manifest())
    assert sorted(declared) == sorted(registered), (
        f"slack/manifest.json declares {sorted(declared)}, the listeners register {sorted(registered)}: "
        "add the missing manifest entry (features.slash_commands) or listener module"
    )


def test_every_declared_command_says_what_it_does() -> None:
    for entry in m.load_manifest()["features"]["slash_commands"]:
        assert entry["command"].startswith("/") and entry["command"] == entry["command"].lower(), entry
        # Slack shows these in the composer's autocomplete: a description is required.
        assert isinstance(entry.get("description"), str) and entry["description"].strip(), entry
        assert isinstance(entry.get("usage_hint", ""), str), entry
        # Escaping off keeps typed text as typed; /audit turns it on, so that a person picked from the
        # autocomplete arrives as <@U…|name> (an ID), not as a display name (bolt_app/listeners/audit.py).
        assert entry.get("should_escape") is (entry["command"] in COMMANDS_READING_MENTIONS), entry


def test_the_check_catches_a_command_missing_from_either_side(monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = m.load_manifest()
    undeclared = copy.deepcopy(manifest)
    undeclared["features"]["slash_commands"] = [
        c for c in manifest["features"]["slash_commands"] if c["command"] != "/test"
    ]
    monkeypatch.setattr(m, "load_manifest", lambda path=m.MANIFEST_PATH: undeclared)
    with pytest.raises(AssertionError, match="/test"):
        test_the_manifest_declares_exactly_the_commands_the_app_registers()

    unregistered = copy.deepcopy(manifest)
    unregistered["features"]["slash_commands"].append({"command": "/never-registered", "description": "Not a listener"})
    monkeypatch.setattr(m, "load_manifest", lambda path=m.MANIFEST_PATH: unregistered)
    with pytest.raises(AssertionError, match="/never-registered"):
        test_the_manifest_declares_exactly_the_commands_the_app_registers()


def test_url_is_filled_into_events_command_and_interactivity(capsys: pytest.CaptureFixture[str]) -> None:
    manifest = render(capsys, "--url", URL)
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["request_url"] == URL
    assert settings["interactivity"]["request_url"] == URL
    assert {c["url"] for c in manifest["features"]["slash_commands"]} == {URL}
    assert settings["socket_mode_enabled"] is False
    assert sorted(set(all_urls(manifest))) == [URL]
    # Everything else is slack/manifest.json unchanged.
    assert m.for_http(m.load_manifest(), URL) == manifest
    assert manifest["oauth_config"] == m.load_manifest()["oauth_config"]


def test_bare_api_url_gets_the_events_path(capsys: pytest.CaptureFixture[str]) -> None:
    manifest = render(capsys, "--url", "https://abc123defg.execute-api.eu-west-1.amazonaws.com/")
    assert set(all_urls(manifest)) == {URL}


@pytest.mark.parametrize("bad", ["http://abc.example.com/slack/events", "abc.example.com", "https:///slack/events"])
def test_non_https_url_is_refused(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert m.main(["--url", bad]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "https://" in captured.err


def test_url_or_socket_mode_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        m.main([])
    assert exit_info.value.code == 2


def test_socket_mode_variant_has_no_urls(capsys: pytest.CaptureFixture[str]) -> None:
    manifest = render(capsys, "--socket-mode")
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert all_urls(manifest) == []
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["message.im"]
    assert m.slash_commands(manifest) == m.slash_commands(m.load_manifest())


def test_python_dash_m_bolt_app_manifest() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bolt_app", "manifest", "--url", URL],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert set(all_urls(json.loads(out.stdout))) == {URL}
