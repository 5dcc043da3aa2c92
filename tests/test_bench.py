"""The benchmark, run in a tiny configuration: the shape of its JSON and the Slack calls of each cold path.

No timing is asserted (the benchmark reports, it does not judge); the call counts are behaviour:
the bot's cold path makes exactly one Slack call, the reply, where Bolt's defaults make two.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import artifact
from bench.aws import operation_of
from bench.run import parse_importtime

REPO = Path(__file__).resolve().parents[1]
# What issue 6 says may never be on the `handler.handler` path.
NEVER_ON_THE_LAMBDA_PATH = {"mangum", "starlette", "uvicorn", "aws_xray_sdk", "slack_sdk.socket_mode", "bolt_app.local"}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    tiny = ["--cold-runs", "1", "--importtime-runs", "1", "--events", "20", "--warm-runs", "1", "--warmup", "2"]
    tiny += ["--storm-interval", "0.1"]
    subprocess.run(
        [sys.executable, "-m", "bench", *tiny, "--no-artifact", "--json", str(out)],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return json.loads(out.read_text())


def test_cold_path_slack_calls(results):
    cold = results["cold"]
    assert cold["handler"]["slack_call_methods"] == ["chat.postMessage"]
    # Bolt's default: auth.test at App() to verify the token, then the reply.
    assert cold["floor_app"]["slack_call_methods"] == ["auth.test", "chat.postMessage"]
    for label in ("handler", "floor_app"):
        assert cold[label]["statuses"] == [200]
        assert cold[label]["slack_calls_consistent"]


def test_stack_status_ack_cold_path_answers_and_self_invokes_once(results):
    lazy = results["cold"]["handler /stack-status"]
    assert lazy["statuses"] == [200]
    # The ack is the HTTP answer (no Slack call); the work is one Lambda Invoke, run elsewhere.
    assert lazy["slack_call_methods"] == ["lambda:Invoke"]
    assert lazy["slack_calls_consistent"]
    # This path, and only this one, pays for boto3: the Lambda client.
    assert "boto3" in lazy["watched_loaded"]


def test_instances_ack_cold_path_answers_and_self_invokes_once(results):
    # Beside /stack-status's: the policy's check, the ack ("Looking up instances…"), one Lambda Invoke.
    lazy = results["cold"]["handler /instances"]
    assert lazy["statuses"] == [200]
    assert lazy["slack_call_methods"] == ["lambda:Invoke"]
    assert lazy["slack_calls_consistent"]
    assert "instances_ack_wall" in results["cold"]["ratio"]


def test_deployed_cold_paths_make_the_minimum_aws_calls(results):
    """Counted at moto's server: the secret once per container, and for a DM one idempotency record
    written and completed; /test is answered in-band with no record (slash commands have no event_id)."""
    cold = results["cold"]
    dm, command = cold["deployed_dm"], cold["deployed_test"]
    assert dm["aws_calls"] == {"dynamodb.PutItem": 1, "dynamodb.UpdateItem": 1, "secretsmanager.GetSecretValue": 1}
    assert dm["slack_call_methods"] == ["chat.postMessage"]
    assert command["aws_calls"] == {"secretsmanager.GetSecretValue": 1}
    assert command["slack_call_methods"] == []
    for row in (dm, command):
        assert row["statuses"] == [200]
        assert row["aws_calls_consistent"] and row["slack_calls_consistent"]
    # The floor and the plain bot configure no AWS service.
    assert cold["floor_app"]["aws_calls"] == {} and cold["handler"]["aws_calls"] == {}
    assert cold["ratio"]["deployed_wall"] is not None


def test_the_notification_cold_path_posts_one_card_exactly_once(results):
    """An SNS alarm on a cold deployed container: the secret, the exactly-once record (written, completed) and
    the alarm's thread record (read, claimed, its card's ts set, read again before any redraw); one post."""
    notify = results["cold"]["handler SNS alarm"]
    assert notify["slack_call_methods"] == ["chat.postMessage"]
    assert notify["aws_calls"] == {
        "dynamodb.GetItem": 2,
        "dynamodb.PutItem": 2,
        "dynamodb.UpdateItem": 2,
        "secretsmanager.GetSecretValue": 1,
    }
    assert notify["slack_calls_consistent"] and notify["aws_calls_consistent"]
    assert results["cold"]["ratio"]["notification_wall"] is not None


def test_the_storm_lands_every_change_once_with_each_card_at_its_latest_state(results):
    storm = results["storm"]
    assert (storm["changes"], storm["posts"], storm["cards"], storm["cards_showing_latest"]) == (30, 30, 10, 10)
    assert storm["retries"] == 0 and storm["rate_limited_429s"] > 0
    assert storm["minimum_s"] == round(29 * storm["interval_s"], 2) and storm["storm_s"] > 0


def test_restored_row_primes_without_network_calls(results):
    """Two DMs after the SnapStart hooks: every AWS and Slack call is theirs (and init's secret read),
    so the hooks made none; both answered."""
    restored = results["cold"]["restored_dm"]
    assert restored["statuses"] == [200]
    assert restored["aws_calls"] == {
        "dynamodb.PutItem": 2,
        "dynamodb.UpdateItem": 2,
        "secretsmanager.GetSecretValue": 1,
    }
    assert restored["slack_call_methods"] == ["chat.postMessage", "chat.postMessage"]
    assert restored["first_event_ms"] > 0 and restored["warm_event_ms"] > 0
    assert restored["before_snapshot_ms"] > 0


def test_aws_operations_are_read_from_the_json_protocol_target():
    assert operation_of({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem"}) == "dynamodb.PutItem"
    assert operation_of({"HTTP_X_AMZ_TARGET": "secretsmanager.GetSecretValue"}) == "secretsmanager.GetSecretValue"
    assert operation_of({"PATH_INFO": "/moto-api/reset"}) is None


def test_cold_path_imports_nothing_that_lambda_must_not(results):
    assert not NEVER_ON_THE_LAMBDA_PATH & set(results["cold"]["handler"]["watched_loaded"])
    # boto3 stays a stand-in (bolt_app/aws_lambda/adapter.py) without Secrets Manager or DynamoDB configured,
    # while the floor, on Bolt's adapter as it is, loads it.
    assert not {"boto3", "urllib3"} & set(results["cold"]["handler"]["watched_loaded"])
    assert "boto3" in results["cold"]["floor_app"]["watched_loaded"]


def test_results_have_every_figure_with_its_floor_and_ratio(results):
    cold = results["cold"]
    for label in ("handler", "floor_app"):
        for key in ("wall_ms", "import_ms", "first_event_ms", "peak_rss_mb", "slack_calls", "importtime"):
            assert key in cold[label]
        assert cold[label]["importtime"]["by_package"]
    assert cold["deployed_dm"]["importtime"]["by_package"]
    # The child's own peak RSS (VmHWM), not the benchmark parent's carried over by fork and exec.
    assert cold["handler"]["peak_rss_mb"] < 80
    assert set(cold["ratio"]) >= {"wall", "peak_rss", "import"}

    warm = results["warm"]
    assert set(warm["handler"]) == {"dm", "command", "click"}
    assert set(warm["floor_app"]) == {"dm"}
    for figures in [*warm["handler"].values(), warm["floor_app"]["dm"]]:
        assert set(figures) == {"p50_ms", "p99_ms", "own_p50_ms", "own_p99_ms", "slack_p50_ms", "slack_p99_ms"}
    assert set(warm["ratio"]) == {"dm", "command", "click"}
    # Every warm event was answered, and each DM and click made its one call.
    handled = 20 + 2
    assert warm["checks"]["handler"]["statuses"] == {kind: {"200": handled} for kind in ("dm", "command", "click")}
    calls = {"chat.postMessage": handled, "auth.test": 0, "response_url": handled}
    assert warm["checks"]["handler"]["slack_calls"] == calls


def test_parse_importtime_reads_depth_and_times():
    stderr = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       120 |        120 |     slack_sdk.errors\n"
        "import time:      2246 |      25425 | handler\n"
    )
    assert parse_importtime(stderr) == [("slack_sdk.errors", 120, 120, 2), ("handler", 2246, 25425, 0)]


def test_artifact_measures_a_directory(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("x = 1\n" * 100)
    (package / "native.cpython-313-aarch64-linux-gnu.so").write_bytes(b"\0" * 10)
    measured = artifact.measure_dir(tmp_path)
    assert measured["modules"] == 2
    assert measured["unzipped_bytes"] == 600 + 10
    assert measured["zipped_bytes"] > 0
