"""bolt_app.aws_lambda: Bolt's Lambda adapter, with boto3 deferred until something really uses it.

Each check runs in a fresh interpreter: the test process has imported boto3 long before.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(code: str) -> None:
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, check=True, timeout=120)


def test_importing_the_adapter_does_not_run_boto3():
    _run("""
        import sys
        from bolt_app.aws_lambda import SlackRequestHandler
        import slack_bolt.adapter.aws_lambda as bolt_adapter
        assert SlackRequestHandler is bolt_adapter.SlackRequestHandler
        assert "boto3.session" not in sys.modules and "botocore.session" not in sys.modules
    """)


def test_boto3_works_as_usual_once_used():
    _run("""
        import sys
        import bolt_app.aws_lambda
        from slack_bolt.adapter.aws_lambda import lazy_listener_runner
        import boto3
        import boto3.session
        from boto3.dynamodb.types import TypeDeserializer
        assert callable(boto3.client) and boto3.session.Session and TypeDeserializer
        assert type(sys.modules["boto3"]).__name__ == "module"
        # Bolt's own reference (taken while boto3 was deferred) reaches the real module too.
        assert lazy_listener_runner.boto3.client is sys.modules["boto3"].client
    """)
