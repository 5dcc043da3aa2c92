"""Warm per-event cost: one process, one container's worth of events through `TARGET.handler`.

Run by bench.run as `python -m bench.warm_child --target handler --target floor_app:dm --events N --out F`. It serves
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


def run(targets: dict[str, list[str]], events: int, warmup: int) -> dict[str, Any]:
    """Every target in this one process, their events interleaved one by one: on a noisy machine a slow
    spell then hits the bot and the floor alike, where separate processes would each catch their own."""
    timer = _HttpTimer()
    timer.wrap(BaseClient, "_perform_urllib_http_request_internal")
    timer.wrap(WebhookClient, "_perform_http_request_internal")
    with FakeSlack(bot_token=BOT_TOKEN, latency=0.0).serve() as fake:
        os.environ.update(target_env(fake.api_url))
        modules = {target: importlib.import_module(target) for target in targets}
        from bolt_app.slack_web.blocks import DINNER_PICKER_BLOCKS  # the blocks a user clicks in

        pairs = [(target, kind) for target, kinds in targets.items() for kind in kinds]
        # Built and signed up front: the loop times the handler alone.
        order = [pair for _ in range(warmup + events) for pair in pairs]
        prepared = [(t, k, build_event(k, fake, DINNER_PICKER_BLOCKS), sr.LambdaContext()) for t, k in order]
        fake.reset()
        samples = {t: {k: {"total_ns": [], "slack_ns": []} for k in kinds} for t, kinds in targets.items()}
        statuses: dict[str, dict[str, dict[str, int]]] = {t: {k: {} for k in kinds} for t, kinds in targets.items()}
        calls = {t: dict.fromkeys(("chat.postMessage", "auth.test", "response_url"), 0) for t in targets}
        for i, (target, kind, event, context) in enumerate(prepared):
            before = _call_counts(fake)
            timer.ns = 0
            start = time.perf_counter_ns()
            response = modules[target].handler(event, context)
            total = time.perf_counter_ns() - start
            status = str(response.get("statusCode"))
            statuses[target][kind][status] = statuses[target][kind].get(status, 0) + 1
            for name, n in _call_counts(fake).items():
                calls[target][name] += n - before[name]
            if i >= warmup * len(pairs):
                samples[target][kind]["total_ns"].append(total)
                samples[target][kind]["slack_ns"].append(timer.ns)
        return {
            "python": sys.version.split()[0],
            "events_per_kind": events,
            "warmup_per_kind": warmup,
            "samples": samples,
            "statuses": statuses,
            "slack_calls": calls,
        }


def _call_counts(fake: FakeSlack) -> dict[str, int]:
    return {
        "chat.postMessage": len(fake.calls_to("chat.postMessage")),
        "auth.test": len(fake.calls_to("auth.test")),
        "response_url": len(fake.response_posts),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.warm_child")
    parser.add_argument("--target", action="append", required=True, help="MODULE:KIND,KIND (repeatable)")
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    # floor_app is a top-level module in this directory, as in the cold child.
    sys.path.insert(1, os.path.dirname(os.path.abspath(__file__)))
    targets = {t.split(":")[0]: (t.split(":")[1] if ":" in t else ",".join(KINDS)).split(",") for t in args.target}
    result = run(targets, args.events, args.warmup)
    with open(args.out, "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
