"""Socket Mode redeliveries get exactly one reply (in-memory exactly-once store)."""

from __future__ import annotations

import logging

from slack_sdk.socket_mode.request import SocketModeRequest

from bolt_app import Settings, create_app
from bolt_app.local import slack_requests as sr
from bolt_app.local.socket_mode import ExactlyOnceSocketModeHandler
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, TEST_ADMIN


class RecordingSocketClient:
    """Stands in for the WebSocket connection only: records the acknowledgements sent back."""

    def __init__(self) -> None:
        self.acks: list[str] = []
        self.logger = logging.getLogger("socket-mode-test")

    def send_socket_mode_response(self, response) -> None:
        self.acks.append(response.envelope_id)


def _envelope(payload: dict, envelope_id: str, retry_attempt: int) -> SocketModeRequest:
    return SocketModeRequest(
        type="events_api",
        envelope_id=envelope_id,
        payload=payload,
        accepts_response_payload=False,
        retry_attempt=retry_attempt,
        retry_reason="timeout",
    )


def test_socket_mode_redelivery_is_acknowledged_without_a_second_reply(slack):
    settings = Settings(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=slack.api_url)
    handler = ExactlyOnceSocketModeHandler(create_app(settings), "xapp-test")
    client = RecordingSocketClient()
    payload = sr.event_callback(sr.dm_message("over the socket"))

    handler.handle(client, _envelope(payload, "env-1", 0))
    handler.handle(client, _envelope(payload, "env-2", 1))
    handler.handle(client, _envelope(sr.event_callback(sr.dm_message("another one")), "env-3", 0))

    assert client.acks == ["env-1", "env-2", "env-3"]
    assert [c.args["text"] for c in slack.calls_to("chat.postMessage")] == [
        "Echo: over the socket",
        "Echo: another one",
    ]


class PayloadRecordingSocketClient(RecordingSocketClient):
    def __init__(self) -> None:
        super().__init__()
        self.responses: list = []

    def send_socket_mode_response(self, response) -> None:
        super().send_socket_mode_response(response)
        self.responses.append(response)


def test_socket_mode_runs_lazy_listeners_in_process(slack, monkeypatch):
    import time

    monkeypatch.delenv("STACK_NAME", raising=False)
    # The suite's user is an admin, as everywhere else (tests/conftest.py): /stack-status is theirs to run.
    settings = Settings(
        bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=slack.api_url, chatops_admins=(TEST_ADMIN,)
    )
    handler = ExactlyOnceSocketModeHandler(create_app(settings), "xapp-test")
    client = PayloadRecordingSocketClient()
    command = sr.slash_command("/stack-status", response_url=slack.new_response_url())
    request = SocketModeRequest(
        type="slash_commands", envelope_id="env-cmd", payload=command, accepts_response_payload=True
    )

    handler.handle(client, request)

    # The ack goes back over the socket; the lazy listener (Bolt's thread runner) then posts the result.
    [ack] = client.responses
    assert ack.payload["text"] == "Checking where this bot is deployed…"
    deadline = time.monotonic() + 10
    while not slack.response_posts and time.monotonic() < deadline:
        time.sleep(0.02)
    [post] = slack.response_posts
    assert "not deployed on AWS" in post.payload["text"]


def test_socket_mode_with_a_table_keeps_an_in_progress_redelivery_unacknowledged(
    slack, idempotency_table, aws_endpoint
):
    """With IDEMPOTENCY_TABLE and no Lambda context: the in-progress record still expires (a crashed
    attempt does not block its event for an hour), and a redelivery that finds it running is not
    acknowledged (Slack redelivers it; an ack would lose the event should the running attempt fail)."""
    import threading
    import time

    import boto3

    from bolt_app.foundation import aws_clients
    from bolt_app.local.fake_slack import Fault
    from bolt_app.request_path.exactly_once import DEFAULT_IN_PROGRESS_SECONDS, exactly_once_store

    aws_clients.reset()
    try:
        settings = Settings(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=slack.api_url)
        handler = ExactlyOnceSocketModeHandler(create_app(settings), "xapp-test", exactly_once_store(idempotency_table))
        client = RecordingSocketClient()
        payload = sr.event_callback(sr.dm_message("slow over the socket"))
        slack.inject("chat.postMessage", Fault(delay=1.0, then_succeed=True))
        first = threading.Thread(target=handler.handle, args=(client, _envelope(payload, "env-1", 0)))
        first.start()
        try:
            deadline = time.monotonic() + 10
            while "chat.postMessage" not in slack.arrivals and time.monotonic() < deadline:
                time.sleep(0.01)
            [record] = boto3.client("dynamodb").scan(TableName=idempotency_table)["Items"]
            handler.handle(client, _envelope(payload, "env-2", 1))
        finally:
            first.join(timeout=10)
    finally:
        aws_clients.reset()

    assert record["status"]["S"] == "INPROGRESS"
    expires_in = int(record["in_progress_expiration"]["N"]) / 1000 - time.time()
    assert 0 < expires_in <= DEFAULT_IN_PROGRESS_SECONDS
    assert client.acks == ["env-1"]  # env-2, which found it in progress, is left for Slack to redeliver
    assert [c.args["text"] for c in slack.calls_to("chat.postMessage")] == ["Echo: slow over the socket"]
