"""`python -m bolt_app` and the configuration it reads."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bolt_app.config import DEFAULT_SLACK_API_URL, ConfigError, Settings
from bolt_app.local import slack_requests as sr
from bolt_app.local.fake_slack import Fault
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, TEST_ADMIN, lambda_env
from tests.containers import Container, LocalBot, local_bot
from tests.socket_mode_server import SocketModeServer

ROOT = Path(__file__).resolve().parent.parent


HTTP_CREDENTIALS = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}


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


# One readable line per record: `12:00:01 INFO    message key=value`.
LOCAL_LINE = re.compile(r"\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR) +\S.*")


def test_the_playground_terminal_has_one_readable_line_per_request_and_web_api_call():
    """Locally no JSON, no CloudWatch EMF document, no Lambda context: on Lambda all of it stays JSON
    (tests/test_json_logs.py)."""
    bot = LocalBot("--port", "0", env=_env())
    try:
        url = re.search(r"http://127\.0\.0\.1:\d+", bot.read_until("Slack playground")).group(0)
        with urllib.request.urlopen(url + "/", timeout=10) as page:
            token = re.search(r'name="playground-token" content="([^"]+)"', page.read().decode()).group(1)
        for channel, text in (("D0PLAYDM01", "hello"), ("C0GENERAL1", "/test")):
            request = urllib.request.Request(
                url + "/playground/messages",
                data=json.dumps({"channel": channel, "text": text}).encode(),
                headers={"content-type": "application/json", "x-playground-token": token},
            )
            with urllib.request.urlopen(request, timeout=20) as answer:
                assert json.loads(answer.read())["status"] == 200
        bot.read_until()
        while "request command /test" not in bot.output[-1]:
            bot.read_until()
    finally:
        output = bot.stop()
    lines = output.splitlines()[1:]
    assert lines and all(LOCAL_LINE.fullmatch(line) for line in lines), output
    messages = [LOCAL_LINE.fullmatch(line).group(0).split(None, 2)[2] for line in lines]
    assert any(m.startswith("Web API chat.postMessage: ok") for m in messages), output
    assert any(m.startswith("request event message.im: HTTP 200 in ") for m in messages), output
    assert any(m.startswith("request command /test: HTTP 200 in ") for m in messages), output
    for noise in ("{", "_aws", "CloudWatchMetrics", "function_memory_size", "function_arn", "cold_start"):
        assert noise not in output


@pytest.mark.parametrize("credentials", [{}, HTTP_CREDENTIALS], ids=["playground", "http"])
def test_a_taken_port_is_one_clear_line(credentials):
    # HTTP mode used to print uvicorn's start-up lines and its bind error, and exit 3.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bolt_app", "--port", str(port)],
            cwd=ROOT,
            env=_env(**credentials),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stdout == ""
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


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_a_port_that_is_no_port_is_one_line(port):
    # 99999 used to end in an OverflowError traceback from socket.bind.
    result = subprocess.run(
        [sys.executable, "-m", "bolt_app", "--port", port],
        cwd=ROOT,
        env=_env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: argument --port: ") and "is not a port number" in line
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("credentials", [{}, HTTP_CREDENTIALS], ids=["playground", "http"])
def test_ctrl_c_stops_a_local_server_quietly(credentials, slack):
    bot = LocalBot("--port", "0", env=_env(SLACK_API_URL=slack.api_url, **credentials))
    first_line = bot.read_until()
    assert "http://127.0.0.1:" in first_line
    output = bot.interrupt()

    assert bot.process.returncode == 0
    assert "Traceback" not in output and "KeyboardInterrupt" not in output
    assert output.startswith(first_line)


# -- Socket Mode -------------------------------------------------------------------------------


def test_socket_mode_needs_no_signing_secret_but_http_and_lambda_do():
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xapp-1-test"}
    assert Settings.from_env(env, socket_mode=True).signing_secret == ""
    # An app token in the environment relaxes nothing for whatever serves HTTP (an empty signing
    # secret would accept requests anyone can sign).
    with pytest.raises(ConfigError, match=r"^SLACK_SIGNING_SECRET is not set$"):
        Settings.from_env(env)


def _socket_mode_env(slack, **overrides: str) -> dict[str, str]:
    return _env(
        **{
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_APP_TOKEN": slack.app_token,
            "SLACK_API_URL": slack.api_url,
            **overrides,
        }
    )


def test_socket_mode_starts_without_a_signing_secret(slack):
    # Socket Mode requests arrive over Slack's WebSocket, unsigned: the secret is never used there.
    bot = LocalBot(env=_socket_mode_env(slack))
    try:
        assert "Socket Mode" in bot.read_until()
        _wait_for(lambda: bool(slack.calls_to("apps.connections.open")))
    finally:
        output = bot.interrupt()
    assert "SLACK_SIGNING_SECRET" not in output
    assert slack.calls_to("apps.connections.open")[0].token == slack.app_token


@pytest.mark.parametrize("unreachable", ["web_api", "websocket"])
def test_socket_mode_with_slack_unreachable_is_one_line_per_attempt_and_keeps_retrying(slack, monkeypatch, unreachable):
    # Used to be a 97-line traceback and exit 1. The Socket Mode client first asks the Web API
    # (apps.connections.open at SLACK_API_URL) for a WebSocket URL, then connects to that URL:
    # either step can fail. Both answer "connection refused" here: closed ports on this machine.
    closed_port = _free_port()
    if unreachable == "web_api":
        env = _socket_mode_env(slack, SLACK_API_URL=f"http://127.0.0.1:{closed_port}/api/")
    else:
        monkeypatch.setattr(slack, "socket_mode_url", f"ws://127.0.0.1:{closed_port}/link/?ticket=1")
        env = _socket_mode_env(slack)
    bot = LocalBot(env=env)
    try:
        bot.read_until("Connecting to Slack over Socket Mode")
        first = bot.read_until()
        second = bot.read_until()
    finally:
        output = bot.interrupt()

    assert first == "Cannot reach Slack (Connection refused); retrying in 1 s\n"
    assert second == "Cannot reach Slack (Connection refused); retrying in 2 s\n"
    # Nothing else: no slack_sdk lines about the attempt, no traceback, a quiet Ctrl+C.
    assert all(line.startswith(("Connecting", "Cannot reach Slack")) for line in output.splitlines()), output
    assert bot.process.returncode == 0
    if unreachable == "websocket":
        # A fresh WebSocket URL for every attempt: Slack's URLs are single-use tickets.
        assert len(slack.calls_to("apps.connections.open")) >= 2


def test_socket_mode_answers_events_and_reconnects_when_slack_drops_the_connection(slack, monkeypatch):
    # Slack's side of the WebSocket (tests/socket_mode_server.py); FakeSlack hands out its URL.
    server = SocketModeServer()
    monkeypatch.setattr(slack, "socket_mode_url", server.url)
    bot = LocalBot(env=_socket_mode_env(slack))
    try:
        bot.read_until("Connected to Slack")
        payload = sr.event_callback(sr.dm_message("over the socket"))
        server.send(
            {
                "envelope_id": "env-1",
                "type": "events_api",
                "payload": payload,
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        assert server.received.get(timeout=20) == {"envelope_id": "env-1"}  # acknowledged
        _wait_for(lambda: bool(slack.calls_to("chat.postMessage")))
        # Slack closes connections now and then; the bot opens a new one (with a fresh URL from the Web API).
        server.drop()
        bot.read_until("Reconnected to Slack")
    finally:
        output = bot.interrupt()
        server.close()

    assert [c.args["text"] for c in slack.calls_to("chat.postMessage")] == ["Echo: over the socket"]
    assert server.connections == 2 and len(slack.calls_to("apps.connections.open")) == 2
    assert bot.process.returncode == 0 and "Traceback" not in output


def test_socket_mode_with_a_token_slack_refuses_is_one_line(slack):
    # The bot token where the app-level token belongs: Slack answers not_allowed_token_type, which no retry fixes.
    result = subprocess.run(
        [sys.executable, "-m", "bolt_app"],
        cwd=ROOT,
        env=_socket_mode_env(slack, SLACK_APP_TOKEN=BOT_TOKEN),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: Slack refused the Socket Mode connection (not_allowed_token_type)")
    assert BOT_TOKEN not in result.stdout + result.stderr


# -- a failed reply, in every log format -------------------------------------------------------


def _signed_dm(text: str) -> tuple[str, dict[str, str]]:
    body, content_type = sr.json_body(sr.event_callback(sr.dm_message(text)))
    return body, sr.signed_headers(SIGNING_SECRET, body, content_type)


def test_a_failed_reply_in_http_mode_logs_the_error_type_and_slacks_code(slack):
    port = _free_port()
    env = _env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=slack.api_url)
    slack.inject("chat.postMessage", Fault(status=200, body={"ok": False, "error": "invalid_auth"}))
    bot = LocalBot("--port", str(port), env=env)
    try:
        bot.read_until("Serving Slack requests")
        body, headers = _signed_dm("this reply fails")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/slack/events", data=body.encode(), headers=headers, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            # invalid_auth (after the token re-read found nothing newer) is permanent: no retry can fix it.
            assert answer.status == 200
        line = bot.read_until()
        while "listener failed" not in line:
            line = bot.read_until()
    finally:
        bot.stop()
    # The terminal's layout (bolt_app/local/console_logs.py): time, level, message.
    expected = r"\d\d:\d\d:\d\d ERROR +listener failed: SlackApiError \(Slack error: invalid_auth\)"
    assert re.fullmatch(expected, line.strip()), line


def test_a_failed_reply_on_lambda_logs_the_error_type_and_slacks_code(slack):
    # Bolt's logger is a standard one: on Lambda its lines reach the runtime's text log as their message only.
    slack.inject("chat.postMessage", Fault(status=200, body={"ok": False, "error": "invalid_auth"}))
    container = Container(lambda_env(slack))
    with container:
        body = sr.json_body(sr.event_callback(sr.dm_message("this reply fails")))
        response = container.invoke(sr.signed_event(SIGNING_SECRET, body))
    output = container.close()

    assert response["statusCode"] == 200  # permanent: answered, not retried
    assert "listener failed: SlackApiError (Slack error: invalid_auth)" in output


def test_http_mode_lists_a_stand_in_fleet_for_instances(slack):
    # A local run never acts on an AWS account by surprise: /instances gets the stand-in fleet (LOCAL_EC2=aws: not).
    port = _free_port()
    env = {k: v for k, v in _env().items() if not k.startswith(("AWS_", "CHATOPS_", "LOCAL_EC2"))}
    env.update(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=slack.api_url)
    env.update(CHATOPS_ADMINS="U0HUMAN001")
    with local_bot("--port", str(port), env=env):
        body, content_type = sr.form_body(sr.slash_command("/instances", response_url=slack.new_response_url()))
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
        _wait_for(lambda: bool(slack.response_posts))
        listing = json.dumps(slack.response_posts[-1].payload["blocks"])
        assert "web-1" in listing and "db-1" in listing and "batch-1" in listing
        assert "payroll" not in listing  # untagged


def test_the_local_server_runs_a_lazy_command_whose_text_says_payload(slack, monkeypatch):
    """The local HTTP server's app (the guarded ASGI app uvicorn serves, called here as uvicorn calls it)
    runs lazy listeners with Bolt's thread runner, on Bolt's copy of the request: the copy must keep the
    guard's parse, or a command whose text contains "payload" reaches the lazy run as an interaction
    without one ('NoneType' object has no attribute 'get'), and /stack-status never reports."""
    import asyncio

    from aws_lambda_powertools import Logger

    from bolt_app import create_app
    from bolt_app.aws_lambda.asgi import EVENTS_PATH, GuardedAsgiApp
    from bolt_app.request_path.gateway import SlackGateway

    monkeypatch.delenv("STACK_NAME", raising=False)
    # The asker is an admin: /stack-status is for admins in the shipped policy.
    settings = Settings(
        bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=slack.api_url, chatops_admins=(TEST_ADMIN,)
    )
    asgi_app = GuardedAsgiApp(create_app(settings), SlackGateway(settings, Logger(service="slack-bot")))
    fields = sr.slash_command("/stack-status", "payloads-api", response_url=slack.new_response_url())
    body, content_type = sr.form_body(fields)
    headers = sr.signed_headers(SIGNING_SECRET, body, content_type)
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body.encode(), "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": EVENTS_PATH,
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    # A loop of its own, not asyncio.run(): that leaves the main thread with no current loop, which
    # Mangum (the ALB handler's adapter, in later tests) asks for.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(asgi_app(scope, receive, send))
    finally:
        loop.close()

    assert sent[0]["status"] == 200
    _wait_for(lambda: len(slack.response_posts) == 1, timeout=10)
    [post] = slack.response_posts
    assert post.payload["text"].startswith("This bot is not deployed on AWS")
