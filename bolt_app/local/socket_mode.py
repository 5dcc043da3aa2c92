"""Socket Mode with the same exactly-once delivery as HTTP: Slack redelivers an event it got no
acknowledgement for (`retry_attempt` > 0, same `event_id`), so events run under a record too.

Connecting is supervised here rather than by slack_sdk: its client raises out of the first
`connect()` when Slack cannot be reached (a long traceback) and logs four or five lines per failed
attempt. Here each failed attempt is one line and the next one follows after a growing pause; a
refusal that no retry can fix (a wrong app token) stops with one line.
"""

from __future__ import annotations

import logging
import sys
import threading
from time import time

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import run_bolt_app, send_response
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bolt_app.request_path.exactly_once import ExactlyOnce, InMemoryExactlyOnce
from bolt_app.request_path.request_guard import HttpResponse
from bolt_app.slack_web.slack_retries import request_budget

# Pauses between connection attempts, in seconds; the last one repeats.
RECONNECT_DELAYS = (1, 2, 4, 8, 15, 30)
CONNECT_TIMEOUT_SECONDS = 10


class SocketModeRefused(Exception):
    """Slack answered apps.connections.open with an error no retry fixes (invalid_auth, not_allowed_token_type, ...)."""


class _QuietWhileConnecting(logging.Filter):
    """Drops slack_sdk's own lines about a connection attempt (or the final close) while it runs: the
    supervisor says what matters in one line."""

    def __init__(self) -> None:
        super().__init__()
        self.quiet = False

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.quiet


_LOGGER = logging.getLogger("bolt_app.socket_mode")
_QUIET = _QuietWhileConnecting()
_LOGGER.addFilter(_QUIET)


class ExactlyOnceSocketModeHandler(SocketModeHandler):
    def __init__(self, app: App, app_token: str, exactly_once: ExactlyOnce | None = None) -> None:
        # One logger for the Socket Mode client and the Web API client that asks for its WebSocket URL
        # (apps.connections.open, at the app's SLACK_API_URL), so one filter quiets both during an attempt.
        # No retry handlers: a failed attempt is retried by `start` after a pause, not at once.
        connector = WebClient(
            base_url=app.client.base_url, timeout=CONNECT_TIMEOUT_SECONDS, logger=_LOGGER, retry_handlers=[]
        )
        # auto_reconnect off: `start` reconnects a closed or stale connection itself (one line, with backoff).
        # Slack's own "disconnect" message (a planned refresh) is still handled by slack_sdk at once.
        super().__init__(app, app_token, logger=_LOGGER, web_client=connector, auto_reconnect_enabled=False)
        self.exactly_once = exactly_once or InMemoryExactlyOnce()
        self._last_error: Exception | None = None
        self.client.on_error_listeners.append(self._remember_error)
        self._stopped = threading.Event()

    def start(self) -> None:  # type: ignore[override]
        """Connects, and reconnects whenever the connection is lost, until `close()` or Ctrl+C."""
        failures = 0
        connected_before = False
        while not self._stopped.is_set():
            if self.client.is_connected():
                self._stopped.wait(1)
                continue
            reason = self._connect_once()
            if self.client.is_connected():
                print("Reconnected to Slack" if connected_before else "Connected to Slack", flush=True)
                connected_before, failures = True, 0
                continue
            delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
            failures += 1
            print(f"Cannot reach Slack ({reason}); retrying in {delay} s", file=sys.stderr, flush=True)
            self._stopped.wait(delay)

    def close(self) -> None:
        self._stopped.set()
        _QUIET.quiet = True  # stopping is not news
        super().close()

    def _connect_once(self) -> str:
        """One attempt: a fresh WebSocket URL (Slack's are single-use), then the WebSocket. Why it failed, if it did."""
        self._last_error = None
        _QUIET.quiet = True
        try:
            # Not forced: if slack_sdk has just reconnected by itself (Slack's "disconnect" message), keep that.
            self.client.connect_to_new_endpoint()
        except SlackApiError as error:
            code = error.response.get("error")
            if error.response.status_code < 500 and code != "ratelimited":
                raise SocketModeRefused(
                    f"Slack refused the Socket Mode connection ({code}): SLACK_APP_TOKEN must be the app-level "
                    "token (xapp-...) of this app, with the connections:write scope"
                ) from None
            return f"Slack error: {code}"
        except Exception as error:  # unreachable: DNS, refused, timeout, TLS
            return _reason(error)
        finally:
            _QUIET.quiet = False
        return _reason(self._last_error) if self._last_error else "the WebSocket handshake failed"

    def _remember_error(self, error: Exception) -> None:
        self._last_error = error

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
            outcome = self.exactly_once.run(event_id, dispatch)
        if bolt_responses:
            send_response(client, req, bolt_responses[0], started)
        elif outcome.status == "in_progress":
            # Another attempt is still running it. No acknowledgement: should that attempt fail, Slack's
            # next redelivery (it redelivers what is not acknowledged) is processed; an acknowledgement
            # here would end the redeliveries, and the event would be lost.
            _LOGGER.warning("redelivery not acknowledged: the event is still in progress", extra={"event_id": event_id})
        else:  # a redelivery of an event already handled: acknowledge, do nothing
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))


def _reason(error: BaseException) -> str:
    """A short reason without URLs (a Socket Mode URL carries a connection ticket): 'Connection refused'."""
    reason = getattr(error, "reason", None)  # urllib's URLError wraps the socket error
    if isinstance(reason, BaseException):
        error = reason
    elif isinstance(reason, str) and reason:
        return reason
    return getattr(error, "strerror", None) or type(error).__name__
