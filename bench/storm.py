"""The alarm storm against Slack's rate limit: 30 state changes of 10 alarms, delivered at once to 4 Lambda
containers (processes) in the deployed configuration (records in DynamoDB, moto), posting into one channel
of the fake Slack, which enforces chat.postMessage's per-channel limit (429 + Retry-After).

Slack allows about one post per second per channel: 30 posts (10 cards, 20 thread replies) need at least
29 intervals. The figure is the storm's time from the first delivery to the last answer, against that
minimum (issue 17: within about twice). `--quick` compresses time (0.25 s per post) to keep the run short.
"""

from __future__ import annotations

import json
import queue
import random
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.aws import CountingMoto
from bench.common import BOT_TOKEN, SIGNING_SECRET, target_env
from bolt_app.local import aws_events
from bolt_app.local.fake_slack import FakeSlack

REPO = Path(__file__).resolve().parents[1]
CHILD = Path(__file__).with_name("notify_child.py")
CHANNEL = "C0BENCHALR"
ALARMS, CHANGES_PER_ALARM, CONTAINERS = 10, 3, 4


class _Container:
    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(CHILD)], cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self._read("READY")

    def _read(self, prefix: str) -> str:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(prefix):
                return line
        raise RuntimeError("the storm's container exited early")

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(event) + "\n")
        self.process.stdin.flush()
        return json.loads(self._read("RESPONSE ")[len("RESPONSE ") :])

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def storm_events(seed: int = 17) -> list[dict[str, Any]]:
    t0 = datetime.now(UTC).replace(microsecond=0)
    steps = [("OK", "ALARM"), ("ALARM", "INSUFFICIENT_DATA"), ("INSUFFICIENT_DATA", "OK")][:CHANGES_PER_ALARM]
    events = [
        aws_events.alarm_event(f"bench-storm-{n}", state, t0 + timedelta(minutes=i), old_state=old)
        for n in range(ALARMS)
        for i, (old, state) in enumerate(steps)
    ]
    random.Random(seed).shuffle(events)
    return events


def storm_once(interval: float) -> dict[str, Any]:
    with FakeSlack(bot_token=BOT_TOKEN).serve() as fake, CountingMoto() as aws:
        aws.provision(BOT_TOKEN, SIGNING_SECRET)
        fake.rate_limit("chat.postMessage", per_channel_interval=interval)
        env = {
            k: v for k, v in target_env(fake.api_url).items() if k not in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
        }
        env.update(aws.env(), ALERTS_CHANNEL=CHANNEL, PYTHONPATH=str(REPO))
        containers = [_Container(env) for _ in range(CONTAINERS)]
        pending: queue.Queue[dict[str, Any]] = queue.Queue()
        events = storm_events()
        for event in events:
            pending.put(event)
        retries = [0]

        def work(container: _Container) -> None:
            while True:
                try:
                    event = pending.get_nowait()
                except queue.Empty:
                    return
                if "errorType" in container.invoke(event):
                    retries[0] += 1  # Lambda would retry it a minute later; here at once
                    pending.put(event)

        started = time.perf_counter()
        threads = [threading.Thread(target=work, args=(c,)) for c in containers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        took = time.perf_counter() - started
        for container in containers:
            container.close()
        posts = [c for c in fake.calls_to("chat.postMessage") if c.answer and c.answer.get("ok")]
        cards = [m for m in fake.messages(CHANNEL) if not m.get("thread_ts")]
        latest = sum(1 for m in cards if " is *OK* since" in json.dumps(m.get("blocks")))
        minimum = (len(posts) - 1) * interval
        return {
            "interval_s": interval,
            "changes": len(events),
            "containers": CONTAINERS,
            "posts": len(posts),
            "cards": len(cards),
            "cards_showing_latest": latest,
            "rate_limited_429s": len(fake.rate_limited),
            "chat_updates": len(fake.calls_to("chat.update")),
            "retries": retries[0],
            "storm_s": round(took, 2),
            "minimum_s": round(minimum, 2),
            "ratio_to_minimum": round(took / minimum, 2) if minimum else None,
        }


def storm(quick: bool, log: Any) -> dict[str, Any]:
    log("  alarm storm…")
    return storm_once(0.25 if quick else 1.0)


if __name__ == "__main__":
    print(json.dumps(storm("--quick" in sys.argv, lambda m: print(m, file=sys.stderr)), indent=2))
