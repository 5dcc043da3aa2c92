"""Bolt's Lambda adapter, `SlackRequestHandler`, with lazy listeners that self-invoke through
`bolt_app.foundation.aws_clients`, and without paying for boto3 at import.

`slack_bolt.adapter.aws_lambda` imports boto3 at module level for one use: its
`LambdaLazyListenerRunner`, which makes its own `boto3.client("lambda")` (botocore's 60-second
timeouts, no shared session). This adapter replaces that runner with `LambdaSelfInvoker`
(`bolt_app/aws_lambda/lazy_listeners.py`), whose Lambda client comes from `aws_clients` on first use. So Bolt's
module-level `boto3` is never used, and only that one reference is bound to a stand-in while Bolt's
module is imported: `sys.modules` is left as it was, and the first real `import boto3` (or
`import boto3.session`) anywhere runs boto3 once, as usual. boto3 (and botocore, urllib3,
s3transfer) are about a third of the cold import (README, "Performance"): the DM, `/test` and click
paths never load them.

Import this module before anything that imports `slack_bolt.adapter.aws_lambda`.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Mapping
from typing import Any

from slack_bolt import App


class _ImportedOnUse(types.ModuleType):
    """Bolt's `boto3` global: runs the real module (normally, through sys.modules) on first attribute use."""

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self.__name__), attr)


def _import_bolt_adapter() -> types.ModuleType:
    name = "slack_bolt.adapter.aws_lambda"
    if name in sys.modules or "boto3" in sys.modules:
        return importlib.import_module(name)
    stand_in = _ImportedOnUse("boto3")
    sys.modules["boto3"] = stand_in
    try:
        return importlib.import_module(name)
    finally:
        # Only Bolt's module keeps the stand-in; everyone else imports the real boto3.
        if sys.modules.get("boto3") is stand_in:
            del sys.modules["boto3"]


_bolt_adapter = _import_bolt_adapter()

from slack_bolt.adapter.aws_lambda.handler import to_aws_response  # noqa: E402

from bolt_app.aws_lambda.lazy_listeners import LambdaSelfInvoker, checked_bolt_request  # noqa: E402


class SlackRequestHandler(_bolt_adapter.SlackRequestHandler):  # type: ignore[misc, name-defined]
    """Bolt's Lambda adapter; lazy listeners are started by `self_invoker` (a `LambdaSelfInvoker`)."""

    def __init__(self, app: App) -> None:
        super().__init__(app)
        self.self_invoker = LambdaSelfInvoker(self.logger)
        app.listener_runner.lazy_listener_runner = self.self_invoker

    def handle_checked(self, event: dict[str, Any], context: Any, body: Mapping[str, Any]) -> dict[str, Any]:
        """`handle()`'s POST branch for a request the request guard has verified and parsed: Bolt gets
        the guard's parsed body instead of parsing the raw one a second time (for an interaction's
        URL-encoded payload, the parse is most of the guard's per-request cost)."""
        request = checked_bolt_request(body, event["body"], event["headers"], event.get("queryStringParameters"))
        request.context["aws_lambda_function_name"] = context.function_name
        request.context["aws_lambda_invoked_function_arn"] = context.invoked_function_arn
        request.context["lambda_request"] = event
        return to_aws_response(self.app.dispatch(request))


__all__ = ["SlackRequestHandler"]
