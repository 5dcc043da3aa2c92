"""Every line the Lambda function prints is one JSON object: the bot's own, Bolt's, slack_sdk's and
the EMF metrics, across the bad-input and fuzz suites run against one cold container process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BOT_TOKEN, INVOKE_IN_CONTAINER_LOG, SIGNING_SECRET, lambda_env
from tests.containers import Container

ROOT = Path(__file__).resolve().parent.parent
# tests/lambda_container.py's own protocol lines on stdout; everything else is the function's.
PROTOCOL = ("READY", "RESPONSE ")


def _not_json(output: str) -> list[str]:
    bad = []
    for line in output.splitlines():
        if line.startswith(PROTOCOL):
            continue
        try:
            parsed = json.loads(line)
        except ValueError:
            bad.append(line)
            continue
        if not isinstance(parsed, dict):
            bad.append(line)
    return bad


def test_bad_input_and_fuzz_suites_print_only_json_lines(tmp_path: Path) -> None:
    log = tmp_path / "container-output.txt"
    env = {
        **os.environ,
        INVOKE_IN_CONTAINER_LOG: str(log),
        # As if the Lambda runtime's root handler printed every record of every logger as plain text:
        # any library line that escapes the Powertools formatter shows up as a non-JSON line.
        "TEST_ROOT_LOG_LEVEL": "DEBUG",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
    }
    suites = ["tests/test_bad_input.py", "tests/test_fuzz.py"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *suites, "-q", "-x", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-5000:]
    output = log.read_text()

    records = [json.loads(line) for line in output.splitlines() if not line.startswith(PROTOCOL) and line]
    assert _not_json(output) == []
    # The capture really saw the libraries and the failure paths, through the same formatter.
    messages = [r.get("message", "") for r in records]
    assert "request handled" in messages and "request rejected" in messages
    assert any(str(m).startswith("Unhandled request") for m in messages)  # Bolt's own warning
    assert any(str(m).startswith("Sending a request") for m in messages)  # slack_sdk's DEBUG line
    assert any("_aws" in r for r in records)  # the EMF metrics
    assert BOT_TOKEN not in output and SIGNING_SECRET not in output


@pytest.mark.parametrize("root_level", ["", "WARNING", "INFO"], ids=["no-root-handler", "root-warning", "root-info"])
def test_bolt_and_slack_sdk_lines_carry_the_correlation_keys(slack, root_level: str) -> None:
    """The listener-failure path (Bolt's error handler, on Bolt's logger) as JSON with the event's keys,
    whether the runtime has a root handler (Lambda's, at its level) or none (Python's last resort on stderr)."""
    from bolt_app.local import slack_requests as sr
    from bolt_app.local.fake_slack import Fault

    env = lambda_env(slack, TEST_ROOT_LOG_LEVEL=root_level) if root_level else lambda_env(slack)
    env.pop("POWERTOOLS_LOG_LEVEL", None)
    container = Container(env)
    body = sr.json_body(sr.event_callback(sr.dm_message("refused"), event_id="Ev0JSONLOGS1"))
    with container:
        slack.inject("chat.postMessage", Fault(status=200, body={"ok": False, "error": "channel_not_found"}))
        container.invoke(sr.signed_event(SIGNING_SECRET, body))
    output = container.close()

    assert _not_json(output) == []
    records = [json.loads(line) for line in output.splitlines() if not line.startswith(PROTOCOL)]
    # Bolt hands the Slack error to the app's error handler, which logs it on Bolt's logger.
    [failed] = [r for r in records if r.get("level") == "ERROR" and r.get("message") != "request handled"]
    assert failed["level"] == "ERROR"
    assert failed["event_id"] == "Ev0JSONLOGS1"
    assert failed["function_request_id"]
    assert "refused" not in output  # message text is not logged at INFO


def test_aws_calls_at_debug_stay_json_and_never_print_the_secret(slack, aws_endpoint) -> None:
    """With Secrets Manager and the root logger at DEBUG (Lambda's runtime sets it from the function's
    log level), botocore would print every response body, the secret's included; it is held at WARNING."""
    import uuid

    import boto3

    from bolt_app.local import slack_requests as sr

    arn = boto3.client("secretsmanager", endpoint_url=aws_endpoint).create_secret(
        Name=f"slack-bot-{uuid.uuid4().hex[:8]}",
        SecretString=json.dumps({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}),
    )["ARN"]
    env = lambda_env(slack, SLACK_SECRET_ARN=arn, POWERTOOLS_LOG_LEVEL="DEBUG", TEST_ROOT_LOG_LEVEL="DEBUG")
    del env["SLACK_BOT_TOKEN"], env["SLACK_SIGNING_SECRET"]
    container = Container(env)
    with container:
        body = sr.json_body(sr.event_callback(sr.dm_message("via the secret")))
        assert container.invoke(sr.signed_event(SIGNING_SECRET, body))["statusCode"] == 200
    output = container.close()

    assert _not_json(output) == []
    assert '"level":"DEBUG"' in output
    assert BOT_TOKEN not in output and SIGNING_SECRET not in output
