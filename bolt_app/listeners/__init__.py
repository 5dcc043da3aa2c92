"""Listeners, one module per Slack feature, with the stores only they use (`first_pick`).

A new ChatOps command is one new module listed here, registered with bolt_app.chatops' `slash_command`
(and given an entry in policy.toml: a command the policy does not name is refused to everyone)."""

from __future__ import annotations

from slack_bolt import App

from bolt_app.config import Settings
from bolt_app.listeners import (
    actions,
    alarm_actions,
    audit,
    commands,
    fallbacks,
    help,
    instances,
    messages,
    stack_status,
)
from bolt_app.listeners.first_pick import first_pick_store

# Order matters only for `fallbacks`: Bolt runs the first listener that matches, so the
# catch-alls that turn "no listener" (a 404 Slack would retry) into a quiet 200 go last.
FEATURES = (messages, commands, help, stack_status, audit)


def register_listeners(app: App, settings: Settings | None = None) -> None:
    for feature in FEATURES:
        feature.register(app)
    # The picker keeps its first picks where the exactly-once records live (DynamoDB or memory).
    actions.register(app, first_pick_store(settings.idempotency_table if settings else None))
    # The alarm card's buttons change the thread records the notifications keep (same table or memory).
    alarm_actions.register(app, settings.idempotency_table if settings else None)
    # /instances keeps its click claims and approval requests there too.
    instances.register(app, settings)
    fallbacks.register(app)
