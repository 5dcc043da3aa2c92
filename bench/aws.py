"""The deployed configuration's AWS side for the benchmark: moto's server, counting calls by operation.

The cold child processes reach it through `AWS_ENDPOINT_URL`, as the tests do. Calls are counted at
the server (a WSGI middleware in front of moto's application, in this process), never by patching
the child: what is counted is what went over the wire. Secrets Manager and DynamoDB both speak AWS's
JSON protocol, whose `X-Amz-Target` header names the operation (`secretsmanager.GetSecretValue`,
`DynamoDB_20120810.PutItem`).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

AWS_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    # No instance metadata lookup for credentials or region: there is no EC2 here.
    "AWS_EC2_METADATA_DISABLED": "true",
}
_SERVICES = {"secretsmanager": "secretsmanager", "DynamoDB_20120810": "dynamodb"}


def operation_of(environ: dict[str, Any]) -> str | None:
    """`service.Operation` of a JSON-protocol request, None for anything else (moto's own API)."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    prefix, _, operation = target.partition(".")
    if not operation:
        return None
    return f"{_SERVICES.get(prefix, prefix)}.{operation}"


class CountingMoto:
    """moto's server on 127.0.0.1 with the bench's secret and table, recording each AWS call's operation."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._lock = threading.Lock()
        self.endpoint = ""
        self.secret_arn = ""
        # moto keeps its state per process, shared by every server in it: names unique to this one.
        suffix = uuid.uuid4().hex[:8]
        self.secret_name, self.table_name = f"bench/slack-bot-{suffix}", f"bench-idempotency-{suffix}"
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def _count(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        def counted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            operation = operation_of(environ)
            if operation:
                with self._lock:
                    self.calls.append(operation)
            return app(environ, start_response)

        return counted

    def __enter__(self) -> CountingMoto:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        class QuietHandler(MotoRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:  # one line per call would drown the report
                pass

        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server("127.0.0.1", 0, self._count(app), True, request_handler=QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        assert self._thread is not None
        self._thread.join()

    def provision(self, bot_token: str, signing_secret: str) -> None:
        """The stack's secret and its idempotency table (template.yaml's schema); these calls are not counted."""
        import boto3

        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        secrets = session.client("secretsmanager", endpoint_url=self.endpoint)
        secret = {"SLACK_BOT_TOKEN": bot_token, "SLACK_SIGNING_SECRET": signing_secret}
        self.secret_arn = secrets.create_secret(Name=self.secret_name, SecretString=json.dumps(secret))["ARN"]
        dynamodb = session.client("dynamodb", endpoint_url=self.endpoint)
        dynamodb.create_table(
            TableName=self.table_name,
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName=self.table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
        )
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    def env(self) -> dict[str, str]:
        """What template.yaml gives the function, pointed at this server; no tokens in the environment."""
        return {
            **AWS_ENV,
            "AWS_ENDPOINT_URL": self.endpoint,
            "SLACK_SECRET_ARN": self.secret_arn,
            "IDEMPOTENCY_TABLE": self.table_name,
        }


def by_operation(calls: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call in calls:
        counts[call] = counts.get(call, 0) + 1
    return dict(sorted(counts.items()))
