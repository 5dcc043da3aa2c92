"""The bot's AWS clients: one session, short timeouts, bounded standard-mode retries, standard endpoints."""

from __future__ import annotations

import pytest

from bolt_app.foundation import aws_clients


@pytest.fixture(autouse=True)
def fresh_clients():
    aws_clients.reset()
    yield
    aws_clients.reset()


def test_clients_share_one_session_and_are_made_once(aws_endpoint):
    dynamodb = aws_clients.client("dynamodb")
    secrets = aws_clients.client("secretsmanager")

    assert aws_clients.client("dynamodb") is dynamodb
    assert aws_clients.client("dynamodb", aws_clients.SLOW_WORK) is not dynamodb
    assert dynamodb._endpoint.host == secrets._endpoint.host == aws_endpoint  # AWS_ENDPOINT_URL is honoured
    assert aws_clients.session() is aws_clients.session()


def test_request_path_clients_fail_fast(aws_endpoint):
    config = aws_clients.client("dynamodb").meta.config

    assert config.connect_timeout == aws_clients.REQUEST_PATH.connect_timeout
    assert config.read_timeout == aws_clients.REQUEST_PATH.read_timeout
    assert config.retries == {"mode": "standard", "total_max_attempts": aws_clients.REQUEST_PATH.max_attempts}
    # Within Slack's 3 s even when every attempt times out on reading.
    profile = aws_clients.REQUEST_PATH
    assert profile.max_attempts * (profile.connect_timeout + profile.read_timeout) <= 3.0


def test_a_real_call_goes_through(aws_endpoint):
    tables = aws_clients.client("dynamodb").list_tables()

    assert "TableNames" in tables
