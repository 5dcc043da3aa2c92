"""Socket Mode with the same exactly-once delivery as HTTP: Slack redelivers an event it got no
acknowledgement for (`retry_attempt` > 0, same `event_id`), so events run under a record too."""

from __future__ import annotations

from time import time

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import run_bolt_app, send_response
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bolt_app.exactly_once import ExactlyOnce, InMemoryExactlyOnce
from bolt_app.request_guard import HttpResponse
from bolt_app.slack_retries import request_budget


class ExactlyOnceSocketModeHandler(SocketModeHandler):
    def __init__(self, app: App, app_token: str, exactly_once: ExactlyOnce | None = None) -> None:
        super().__init__(app, app_token)
        self.exactly_once = exactly_once or InMemoryExactlyOnce()

    def handle(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        event_id = req.payload.get("event_id") if req.type == "events_api" and isinstance(req.payload, dict) else None
        if not isinstance(event_id, str):
            super().handle(client, req)  # type: ignore[arg-type]
            return
        started = time()
        bolt_responses: list[BoltResponse] = []

        def dispatch() -> HttpResponse:
            bolt_responses.append(run_bolt_app(self.app, req))
            return HttpResponse(bolt_responses[0].status)

        with request_budget():
            self.exactly_once.run(event_id, dispatch)
        if bolt_responses:
            send_response(client, req, bolt_responses[0], started)
        else:  # a redelivery of an event already handled or in progress: acknowledge, do nothing
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
