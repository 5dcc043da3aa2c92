"""AWS clients for the bot: one boto3 session per container, explicit timeouts, bounded retries.

botocore's defaults (60 s connect and read timeouts; for DynamoDB up to 10 attempts in legacy
mode) can hold a request far past Slack's 3 seconds and past the function's timeout. Every
AWS client the bot makes comes from here instead, so that:

- one `boto3.session.Session` serves every client (a session loads botocore's data loader and
  credential chain once; Powertools would otherwise make one per utility);
- the clients on Slack's request path fail fast (`REQUEST_PATH`), so the fail-open paths run
  inside Slack's window; slow work in lazy listeners gets more room (`SLOW_WORK`).

boto3 is imported on first use: deployments that configure no AWS service never load it.
Endpoints follow boto3's standard configuration (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`),
which the tests point at moto and local fakes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ClientProfile:
    connect_timeout: float
    read_timeout: float
    # botocore's "standard" retry mode: total attempts, the first included.
    max_attempts: int


# Slack waits 3 s for the whole request, which may make two DynamoDB calls (take the record, then
# mark it answered) around the reply: each must fail within about a second, retried once. In-region
# DynamoDB and Secrets Manager answer in milliseconds. botocore's standard mode sleeps up to 1 s
# before retrying a throttled call (25 ms after a timeout), so a throttled call also ends within ~1 s.
REQUEST_PATH = ClientProfile(connect_timeout=0.25, read_timeout=0.5, max_attempts=2)
# Lazy listeners run in their own invocation, bounded by the function's timeout, not by Slack's.
SLOW_WORK = ClientProfile(connect_timeout=1.0, read_timeout=3.0, max_attempts=3)

_lock = threading.Lock()
_session: Any = None
_clients: dict[tuple[str, ClientProfile], Any] = {}


def session() -> Any:
    """The container's boto3 session, made on first use."""
    global _session
    with _lock:
        if _session is None:
            import boto3.session

            _session = boto3.session.Session()
        return _session


def client(service_name: str, profile: ClientProfile = REQUEST_PATH) -> Any:
    """A boto3 client for `service_name`, made once per container and profile (clients are thread-safe)."""
    key = (service_name, profile)
    existing = _clients.get(key)
    if existing is not None:
        return existing
    from botocore.config import Config

    config = Config(
        connect_timeout=profile.connect_timeout,
        read_timeout=profile.read_timeout,
        retries={"mode": "standard", "total_max_attempts": profile.max_attempts},
    )
    boto_session = session()
    with _lock:
        # Session.client is not thread-safe; a lost race only makes the same client twice.
        made = _clients.setdefault(key, boto_session.client(service_name, config=config))
    return made


def error_code(error: BaseException) -> str:
    """botocore's error code (AccessDenied, ThrottlingException, ...), else the error's type name: what
    logs and answers may say of an AWS failure (never its message, which can quote what was sent)."""
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return str(code or type(error).__name__)


def reset() -> None:
    """Forget the session and clients (a restored SnapStart snapshot, tests that change the environment)."""
    global _session
    with _lock:
        _session = None
        _clients.clear()
