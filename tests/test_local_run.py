"""`python -m bolt_app` and the configuration it reads."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bolt_app.config import DEFAULT_SLACK_API_URL, ConfigError, Settings
from bolt_app.local import slack_requests as sr
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.containers import local_bot

ROOT = Path(__file__).resolve().parent.parent


def _env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(overrides)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.parametrize("missing", ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"])
def test_missing_setting_is_one_line_naming_it(missing):
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    env.pop(missing)
    with pytest.raises(ConfigError, match=f"^{missing} is not set$"):
        Settings.from_env(env)


def test_settings_defaults_and_repr_hides_secrets():
    settings = Settings.from_env({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET})
    assert settings.api_url == DEFAULT_SLACK_API_URL
    assert settings.app_token is None
    assert BOT_TOKEN not in repr(settings) and SIGNING_SECRET not in repr(settings)
    custom = Settings.from_env(
        {**{"SLACK_BOT_TOKEN": "x", "SLACK_SIGNING_SECRET": "y"}, "SLACK_API_URL": "http://h/api"}
    )
    assert custom.api_url == "http://h/api/"


def test_http_mode_serves_slack_events(slack):
    port = _free_port()
    env = _env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=slack.api_url)
    with local_bot("--port", str(port), env=env) as (_, first_line):
        assert f"http://127.0.0.1:{port}/slack/events" in first_line
        body, content_type = sr.json_body(sr.event_callback(sr.dm_message("over local HTTP")))
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/slack/events",
            data=body.encode(),
            headers=sr.signed_headers(SIGNING_SECRET, body, content_type),
            method="POST",
        )

        def answered() -> bool:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    return response.status == 200
            except OSError:
                return False

        _wait_for(answered)
        assert [c.args["text"] for c in slack.calls_to("chat.postMessage")] == ["Echo: over local HTTP"]


def test_socket_mode_is_chosen_when_an_app_token_is_set(slack):
    # The Socket Mode client's first step is apps.connections.open with the app-level token,
    # at SLACK_API_URL: seeing that call at the fake Slack proves the mode and the base URL.
    env = _env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url,
        SLACK_APP_TOKEN="xapp-1-test-app-token",
    )
    with local_bot(env=env) as (_, first_line):
        assert "Socket Mode" in first_line
        _wait_for(lambda: bool(slack.calls_to("apps.connections.open")))
        assert slack.calls_to("apps.connections.open")[0].token == "xapp-1-test-app-token"


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({"SLACK_SIGNING_SECRET": SIGNING_SECRET}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": BOT_TOKEN}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_APP_TOKEN": "xapp-1-test-app-token"}, "SLACK_BOT_TOKEN"),
    ],
)
def test_half_set_credentials_stop_start_up_with_one_line(given, missing):
    # With no credentials at all `python -m bolt_app` starts the playground (tests/test_playground.py).
    # Some set means a real Slack was meant: report what is missing rather than fall back silently.
    result = subprocess.run(
        [sys.executable, "-m", "bolt_app", "--port", "0"],
        cwd=ROOT,
        env=_env(**given),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {missing} is not set"
    assert "Traceback" not in result.stdout + result.stderr


def test_lambda_handler_without_configuration_answers_500_not_a_crash():
    code = (
        "import json, handler; from bolt_app.local import slack_requests as sr;"
        "r = handler.handler(sr.http_api_event('{}', {}), sr.LambdaContext()); print(json.dumps(r))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert '"statusCode": 500' in result.stdout
    assert "SLACK_BOT_TOKEN is not set" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


# -- python -m bolt_app: the playground is the default without credentials -------------------------


def test_no_credentials_starts_the_playground_and_prints_its_url():
    with local_bot("--port", "0", env=_env()) as (_, first_line):
        url = re.search(r"http://127\.0\.0\.1:\d+", first_line)
        assert url, "no URL printed"
        with urllib.request.urlopen(url.group(0) + "/", timeout=10) as page:
            assert "Slack playground" in page.read().decode()
        # The fake Web API is served on the same port, where SLACK_API_URL points the bot.
        with urllib.request.urlopen(url.group(0) + "/slack/api/auth.test", data=b"", timeout=10) as answer:
            assert json.loads(answer.read()) == {"ok": False, "error": "not_authed"}


def test_a_taken_port_is_one_clear_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bolt_app", "--port", str(port)],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port} (Address already in use); pick another port with --port"
    ]
    assert "Traceback" not in result.stdout + result.stderr


def test_the_lambda_handler_never_imports_the_playground():
    code = "import sys, handler; print(sorted(m for m in sys.modules if 'playground' in m or m == 'starlette'))"
    env = _env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
