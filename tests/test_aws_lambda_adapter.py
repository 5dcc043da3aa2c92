"""bolt_app.aws_lambda.adapter: Bolt's Lambda adapter with our lazy-listener runner, and boto3 not loaded at import.

Each check runs in a fresh interpreter: the test process has imported boto3 long before.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(code: str) -> None:
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, check=True, timeout=120)


def test_importing_the_adapter_does_not_run_boto3():
    _run("""
        import sys
        from bolt_app.aws_lambda.adapter import SlackRequestHandler
        import slack_bolt.adapter.aws_lambda as bolt_adapter
        assert issubclass(SlackRequestHandler, bolt_adapter.SlackRequestHandler)
        # (Powertools imports the bare `botocore` package, not its session or clients.)
        assert not {"boto3", "boto3.session", "botocore.session", "botocore.client"} & set(sys.modules)
    """)


def test_the_adapter_installs_the_self_invoker_as_lazy_listener_runner():
    _run("""
        import sys
        from slack_bolt import App
        from bolt_app.aws_lambda.adapter import SlackRequestHandler
        from bolt_app.aws_lambda.lazy_listeners import LambdaSelfInvoker
        app = App(signing_secret="x", token="xoxb-x", token_verification_enabled=False)
        adapter = SlackRequestHandler(app)
        assert isinstance(app.listener_runner.lazy_listener_runner, LambdaSelfInvoker)
        assert app.listener_runner.lazy_listener_runner is adapter.self_invoker
        assert "boto3" not in sys.modules
    """)


# Every way the first use of boto3 can come after the adapter's import (issue 12, section 8).
FIRST_USES = {
    "import boto3.session": "import boto3.session",
    "import boto3": "import boto3",
    "from boto3.session import Session": "from boto3.session import Session",
    "aws_clients.session()": "from bolt_app.foundation import aws_clients; aws_clients.session()",
    "Bolt's own reference": (
        "from slack_bolt.adapter.aws_lambda import lazy_listener_runner; lazy_listener_runner.boto3.client"
    ),
    "Powertools": "from aws_lambda_powertools.utilities import parameters",
}


@pytest.mark.parametrize("first_use", FIRST_USES.values(), ids=list(FIRST_USES))
def test_boto3_is_one_module_whatever_the_first_use(first_use):
    _run(f"""
        import sys
        import bolt_app.aws_lambda.adapter
        {first_use}
        import boto3
        import boto3.session
        from boto3.dynamodb.types import TypeDeserializer
        from slack_bolt.adapter.aws_lambda import lazy_listener_runner
        assert type(sys.modules["boto3"]).__name__ == "module"
        assert sys.modules["boto3"] is boto3 and sys.modules["boto3.session"] is boto3.session
        # One Session class: boto3's submodule ran once.
        assert boto3.session.Session is boto3.Session
        assert TypeDeserializer and callable(boto3.client)
        # Bolt's own reference (taken while its module was imported) reaches the real module's attributes.
        assert lazy_listener_runner.boto3.client is boto3.client
    """)
