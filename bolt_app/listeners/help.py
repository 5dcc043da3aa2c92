"""`/help`: the commands the asker may run, with their usage hints.

Generated from the registration (bolt_app/chatops/registry.py: every `slash_command` of every listener
module, the same list tests/test_manifest.py checks slack/manifest.json against), filtered by the
policy for this person in this channel: a guest sees `/help` and `/test`, an admin sees `/audit`.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bolt_app.chatops import registry_of, slash_command
from bolt_app.foundation.observability import Metric, count
from bolt_app.slack_web.blocks import help_message

COMMAND = "/help"


def register(app: App) -> None:
    registry = registry_of(app)

    def handle_help(ack: Ack, command: dict[str, Any]) -> None:
        policy = registry.policy
        user, channel = command.get("user_id"), command.get("channel_id")
        runnable = [
            (spec.name, spec.usage_hint, spec.description)
            for name, spec in sorted(registry.commands.items())
            if policy is not None and policy.decide(user, name, "allow", channel).allowed
        ]
        text, blocks = help_message(runnable)
        # Ephemeral (the default): what one person may run is nobody else's business.
        ack(text=text, blocks=blocks)
        count(Metric.COMMANDS_HANDLED)

    slash_command(app, COMMAND, description="List the commands you may run here", usage_hint="")(handle_help)
