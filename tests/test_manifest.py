"""The Slack app manifest: the fields a working install needs, and the URLs the command fills in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bolt_app.local import manifest as m

ROOT = Path(__file__).resolve().parents[1]
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
    manifest = json.loads((ROOT / "manifest.json").read_text())
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
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/test", "/stack-status"]
    assert m.load_manifest() == manifest


def test_url_is_filled_into_events_command_and_interactivity(capsys: pytest.CaptureFixture[str]) -> None:
    manifest = render(capsys, "--url", URL)
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["request_url"] == URL
    assert settings["interactivity"]["request_url"] == URL
    assert [c["url"] for c in manifest["features"]["slash_commands"]] == [URL, URL]
    assert settings["socket_mode_enabled"] is False
    assert sorted(set(all_urls(manifest))) == [URL]
    # Everything else is manifest.json unchanged.
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
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/test", "/stack-status"]


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
