"""Slack's delivery loop against several containers (separate processes) sharing one DynamoDB table:
whatever the order of slow, failing, crashed and retried attempts, exactly one reply.

Slack's schedule (Events API docs, "Graceful retries"): a delivery that gets no 2xx within 3 s, or a
non-2xx, is retried three times — at once, after about 1 minute, after about 5 minutes — with
X-Slack-Retry-Num 1..3, and the loop stops at the first 2xx. The loop below plays it time-compressed:
Slack's 3-second timeout becomes 1 s (so that a first attempt within its own 2.5-second budget is
still "slow" to Slack), the minute 2 s, the five minutes 4 s, and the function's timeout (which
bounds an in-progress record) 5 s.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest

from bolt_app.local import slack_requests as sr
from bolt_app.local.fake_slack import Fault
from tests.conftest import SIGNING_SECRET, lambda_env
from tests.containers import Container

SLACK_TIMEOUT_SECONDS = 1.0
# Before the first delivery, then before retries 1, 2 and 3 (after the previous one failed or timed out).
RETRY_GAPS_SECONDS = (0.0, 0.0, 2.0, 4.0)
FUNCTION_TIMEOUT_MS = 5000


@dataclass
class Attempt:
    retry_num: int | None
    container: int
    status: int | None = None  # None: Slack stopped waiting (timeout) or the container died
    done: threading.Event = field(default_factory=threading.Event)


class SlackDeliveryLoop:
    """Delivers one event as Slack does, each attempt to a container that is not busy (as Lambda routes)."""

    def __init__(self, containers: list[Container]) -> None:
        self.containers = containers
        self.busy: set[int] = set()
        self.attempts: list[Attempt] = []
        self._lock = threading.Lock()

    def deliver(self, body: tuple[str, str], before_retry: dict[int, callable] | None = None) -> list[Attempt]:
        for retry_num, gap in zip((None, 1, 2, 3), RETRY_GAPS_SECONDS, strict=True):
            time.sleep(gap)
            if before_retry and retry_num in before_retry:
                before_retry[retry_num]()
            attempt = self._send(sr.signed_event(SIGNING_SECRET, body, retry_num=retry_num))
            attempt.done.wait(SLACK_TIMEOUT_SECONDS)
            if attempt.status is not None and 200 <= attempt.status < 300:
                break
        return self.attempts

    def _send(self, event: dict) -> Attempt:
        index = self._free_container()
        attempt = Attempt(retry_num=event["headers"].get("x-slack-retry-num"), container=index)
        self.attempts.append(attempt)

        def run() -> None:
            try:
                attempt.status = self.containers[index].invoke(event)["statusCode"]
            except (AssertionError, OSError):  # the container died (crash scenario)
                pass
            finally:
                with self._lock:
                    self.busy.discard(index)
                attempt.done.set()

        threading.Thread(target=run, daemon=True).start()
        return attempt

    def _free_container(self) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with self._lock:
                for index, container in enumerate(self.containers):
                    if index not in self.busy and container.process.poll() is None:
                        self.busy.add(index)
                        return index
            time.sleep(0.02)
        raise AssertionError("no free container")

    def wait_idle(self) -> None:
        for attempt in self.attempts:
            assert attempt.done.wait(30)


@pytest.fixture
def containers(slack, idempotency_table):
    env = lambda_env(slack, IDEMPOTENCY_TABLE=idempotency_table, TEST_LAMBDA_REMAINING_MS=str(FUNCTION_TIMEOUT_MS))
    started = [Container(env) for _ in range(3)]
    yield started
    for container in started:
        container.close()


def _dm(text: str) -> tuple[str, str]:
    return sr.json_body(sr.event_callback(sr.dm_message(text)))


def _replies(slack) -> list[str]:
    return [c.args["text"] for c in slack.calls_to("chat.postMessage")]


def _statuses(attempts: list[Attempt]) -> list[int | None]:
    return [a.status for a in attempts]


def test_first_attempt_slow_then_failing_while_the_retry_waits_for_it(containers, slack):
    # The first attempt's reply fails slowly (~1.4 s: longer than Slack waits); Slack's immediate
    # retry finds it in progress, waits, sees it released, and replies itself.
    slack.inject("chat.postMessage", Fault(status=500, delay=1.2), Fault(status=500), Fault(status=500))
    loop = SlackDeliveryLoop(containers)

    attempts = loop.deliver(_dm("slow then failing"))
    loop.wait_idle()

    assert _replies(slack) == ["Echo: slow then failing"]
    assert attempts[0].status == 500
    assert any(a.status == 200 for a in attempts[1:])


def test_first_attempt_crashes_mid_reply_and_a_later_retry_replies(containers, slack):
    # The first container dies while its reply is in flight: its record stays "in progress" until
    # the function's timeout. Retries meanwhile answer 503 (a 200 would end Slack's retries and
    # lose the message); a later one finds the record expired and replies.
    slack.inject("chat.postMessage", Fault(delay=30))
    loop = SlackDeliveryLoop(containers)

    def crash_first_container() -> None:
        deadline = time.monotonic() + 10
        while "chat.postMessage" not in slack.arrivals and time.monotonic() < deadline:
            time.sleep(0.01)
        crashed = containers[loop.attempts[0].container].process
        crashed.kill()
        crashed.wait()

    attempts = loop.deliver(_dm("crashed first attempt"), before_retry={1: crash_first_container})
    loop.wait_idle()
    outputs = "".join(c.close() for c in containers)

    assert _replies(slack) == ["Echo: crashed first attempt"]
    assert attempts[0].status is None
    assert attempts[1].status == 503
    assert attempts[-1].status == 200
    assert '"RetriesDeferred"' in outputs


def test_first_attempt_slow_but_succeeding_then_retries_get_200(containers, slack):
    slack.inject("chat.postMessage", Fault(delay=1.2, then_succeed=True))
    loop = SlackDeliveryLoop(containers)

    attempts = loop.deliver(_dm("slow but fine"))
    loop.wait_idle()

    assert _replies(slack) == ["Echo: slow but fine"]
    assert attempts[0].status == 200  # answered, though after Slack stopped waiting
    assert attempts[-1].status == 200 and len(attempts) >= 2


def test_every_attempt_fails_until_slacks_last_retry(containers, slack):
    # Each attempt exhausts the Web API client's retries (3 calls), three attempts in a row.
    slack.inject("chat.postMessage", *[Fault(status=503)] * 9)
    loop = SlackDeliveryLoop(containers)

    attempts = loop.deliver(_dm("fourth time lucky"))
    loop.wait_idle()

    assert _statuses(attempts) == [500, 500, 500, 200]
    assert _replies(slack) == ["Echo: fourth time lucky"]


def test_last_retry_waits_for_the_running_attempt(containers, slack, idempotency_table):
    # Slack's timing differs: the last retry (3) arrives while an earlier attempt still runs. It
    # waits for that attempt's outcome within its budget instead of answering at once.
    body = _dm("last retry waits")
    slack.inject("chat.postMessage", Fault(delay=1.0, then_succeed=True))
    first: dict = {}
    thread = threading.Thread(
        target=lambda: first.setdefault("r", containers[0].invoke(sr.signed_event(SIGNING_SECRET, body)))
    )
    thread.start()
    deadline = time.monotonic() + 10
    while "chat.postMessage" not in slack.arrivals and time.monotonic() < deadline:
        time.sleep(0.01)

    last = containers[1].invoke(sr.signed_event(SIGNING_SECRET, body, retry_num=3))
    thread.join(10)
    output = containers[1].close()

    assert first["r"]["statusCode"] == 200
    assert last["statusCode"] == 200  # the running attempt answered: a duplicate, not a 503
    assert _replies(slack) == ["Echo: last retry waits"]
    # It waited for the running attempt (not a wall-clock bound, which a loaded CI machine would flake):
    # RetriesAwaited is counted only when the store waited and then found the attempt answered.
    assert '"RetriesAwaited"' in output and '"DuplicatesSkipped"' in output
