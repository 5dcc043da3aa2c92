"""Slash commands. `/test` answers in its own HTTP response with the dinner picker."""

from __future__ import annotations

from slack_bolt import Ack, App

from bolt_app.chatops import slash_command
from bolt_app.foundation.observability import Metric, count
from bolt_app.slack_web.blocks import DINNER_PICKER_BLOCKS, DINNER_PICKER_TEXT


def register(app: App) -> None:
    slash_command(app, "/test", description="Pick a restaurant for the investors' dinner")(handle_test_command)


def handle_test_command(ack: Ack) -> None:
    # The ack *is* the answer: with process_before_response it becomes the HTTP response body.
    ack(response_type="in_channel", text=DINNER_PICKER_TEXT, blocks=DINNER_PICKER_BLOCKS)
    count(Metric.COMMANDS_HANDLED)
