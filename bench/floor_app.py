"""The floor: the smallest Bolt app on the same Lambda adapter, one echo listener and Bolt's defaults.

It is what `handler` is compared with. Bolt's defaults include the `auth.test` call that App()
makes at init to verify its token, so its cold path makes two Slack calls: that one and the reply.
Imported by the benchmark's child processes as a top-level module (`floor_app`), with the same
environment as `handler` (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_API_URL).
"""

from __future__ import annotations

import os
from typing import Any

from slack_bolt import App, Say
from slack_bolt.adapter.aws_lambda import SlackRequestHandler
from slack_sdk import WebClient

app = App(
    signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    # The only non-default: the fake Slack's base URL, which Bolt cannot read from the environment.
    client=WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
    process_before_response=True,
)


@app.event("message")
def echo(event: dict[str, Any], say: Say) -> None:
    say(f"Echo: {event.get('text', '')}")


slack_handler = SlackRequestHandler(app)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return slack_handler.handle(event, context)
