"""Bolt's Lambda adapter, `SlackRequestHandler`, without paying for boto3 at import.

`slack_bolt.adapter.aws_lambda` imports boto3 at module level for its lazy-listener runner,
which re-invokes the function through the Lambda API. This app has no lazy listeners, yet the
import of boto3 (and botocore, urllib3, s3transfer) is about a third of the whole cold import
(see README, "Performance"). So boto3 is bound here to a stand-in module that runs the real
one on its first attribute access — by Powertools when DynamoDB or Secrets Manager
are configured, or by Bolt if a lazy listener is ever added — and never otherwise.

Import this module before anything that imports `slack_bolt.adapter.aws_lambda`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any


class _DeferredModule(types.ModuleType):
    """Stands in sys.modules for a module not yet run. It carries the real module's spec, so that
    an `import name` statement takes it as is (importlib's LazyLoader does not survive that: the
    statement reads `__spec__`, which makes it load); any other attribute runs the real module."""

    def __getattr__(self, attr: str) -> Any:
        return getattr(_load(self), attr)


def _load(placeholder: _DeferredModule) -> types.ModuleType:
    name = placeholder.__spec__.name
    if sys.modules.get(name) is placeholder:
        del sys.modules[name]
    module = importlib.import_module(name)
    # Whoever kept a reference to the placeholder (Bolt's `boto3` global) now reads the real attributes.
    placeholder.__dict__.update(module.__dict__)
    return module


def defer_import(name: str) -> None:
    """Bind `name` in sys.modules to a stand-in that runs the real module on first attribute use."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None:
        # Not installed: leave the failure to whoever really imports it, with its usual error.
        return
    placeholder = _DeferredModule(name)
    placeholder.__spec__ = spec
    sys.modules[name] = placeholder


defer_import("boto3")

from slack_bolt.adapter.aws_lambda import SlackRequestHandler  # noqa: E402

__all__ = ["SlackRequestHandler", "defer_import"]
