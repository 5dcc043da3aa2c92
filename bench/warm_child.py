"""Warm per-event cost: one process, one container's worth of events through `TARGET.handler`.

Run by bench.run as `python -m bench.warm_child --target handler --events N --out FILE`. It serves
its own fake Slack (no simulated latency) on 127.0.0.1, imports the target as Lambda does, then
sends N events of each kind, round-robin so that drift hits every kind alike. Each event is
timed whole, and the time spent inside Slack HTTP calls (Web API and response_url: the fake
Slack's share, server handling plus loopback) is timed apart by wrapping slack_sdk's innermost
HTTP functions, so `own = total - slack` is the bot's own per-event cost.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from slack_sdk.web.base_client import BaseClient
from slack_sdk.webhook.client import WebhookClient

from bench.common import BOT_TOKEN, SIGNING_SECRET, target_env
from bolt_app.local import slack_requests as sr
from bolt_app.local.fake_slack import FakeSlack

KINDS = ("dm", "command", "click")


class _HttpTimer:
    """Accumulates the time spent in slack_sdk's HTTP calls since the last reset."""

    def __init__(self) -> None:
        self.ns = 0
        self.calls = 0

    def wrap(self, owner: type, name: str) -> None:
        original: Callable[..., Any] = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter_ns()
            try:
                return original(*args, **kwargs)
            finally:
                self.ns += time.perf_counter_ns() - start
                self.calls += 1

        setattr(owner, name, timed)


def build_event(kind: str, fake: FakeSlack, picker_blocks: list[dict[str, Any]]) -> dict[str, Any]:
    if kind == "dm":
        body = sr.json_body(sr.event_callback(sr.dm_message("hello from the benchmark")))
    elif kind == "command":
        body = sr.form_body(sr.slash_command("/test", response_url=fake.new_response_url(kind="command")))
    elif kind == "click":
        action = sr.button_click(picker_blocks, picker_blocks[-1]["elements"][0]["action_id"])
        payload = sr.block_actions(action, response_url=fake.new_response_url(kind="click"))
        body = sr.interactive_body(payload)
    else:
        raise ValueError(kind)
    return sr.signed_event(SIGNING_SECRET, body)


def run(target: str, kinds: list[str], events: int, warmup: int) -> dict[str, Any]:
    timer = _HttpTimer()
    timer.wrap(BaseClient, "_perform_urllib_http_request_internal")
    timer.wrap(WebhookClient, "_perform_http_request_internal")
    with FakeSlack(bot_token=BOT_TOKEN, latency=0.0).serve() as fake:
        os.environ.update(target_env(fake.api_url))
        module = importlib.import_module(target)
        from bolt_app.blocks import DINNER_PICKER_BLOCKS  # the blocks a user clicks in

        # Built and signed up front: the loop times the handler alone.
        order = [kind for _ in range(warmup + events) for kind in kinds]
        prepared = [(kind, build_event(kind, fake, DINNER_PICKER_BLOCKS), sr.LambdaContext()) for kind in order]
        fake.reset()
        samples: dict[str, dict[str, list[int]]] = {k: {"total_ns": [], "slack_ns": []} for k in kinds}
        statuses: dict[str, dict[str, int]] = {k: {} for k in kinds}
        for i, (kind, event, context) in enumerate(prepared):
            timer.ns = 0
            start = time.perf_counter_ns()
            response = module.handler(event, context)
            total = time.perf_counter_ns() - start
            status = str(response.get("statusCode"))
            statuses[kind][status] = statuses[kind].get(status, 0) + 1
            if i >= warmup * len(kinds):
                samples[kind]["total_ns"].append(total)
                samples[kind]["slack_ns"].append(timer.ns)
        return {
            "target": target,
            "python": sys.version.split()[0],
            "events_per_kind": events,
            "warmup_per_kind": warmup,
            "samples": samples,
            "statuses": statuses,
            "slack_calls": {
                "chat.postMessage": len(fake.calls_to("chat.postMessage")),
                "auth.test": len(fake.calls_to("auth.test")),
                "response_url": len(fake.response_posts),
            },
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.warm_child")
    parser.add_argument("--target", required=True)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.target == "floor_app":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    result = run(args.target, args.kinds.split(","), args.events, args.warmup)
    with open(args.out, "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
