"""The alarm card's buttons (bolt_app/notifications/): Acknowledge, and Stack status in the alarm's thread.

Both go through the command policy (bolt_app/chatops/): Acknowledge is the `alarms` entry of policy.toml
(the shipped policy lets everyone acknowledge), Stack status is `/stack-status`'s (the same people who may
run the command). The first acknowledgement wins across containers (a conditional write on the alarm's
thread record, bolt_app/notifications/thread_store.py); a later one is told, privately, who already did.
Every acknowledgement is in the audit trail, refusals by the policy middleware, the rest here.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bolt_app.chatops import AuditRecord, policy_action, registry_of
from bolt_app.config import AwsDeployment
from bolt_app.listeners.stack_status import build_report
from bolt_app.slack_web.blocks import (
    ALARM_ACKNOWLEDGE_ACTION,
    ALARM_STACK_STATUS_ACTION,
    alarm_acknowledgement_gone,
    alarm_already_acknowledged,
)

ALARMS_COMMAND = "alarms"
STACK_STATUS_COMMAND = "/stack-status"


def register(app: App, table_name: str | None = None) -> None:
    audit = registry_of(app)

    def acknowledge(ack: Ack, body: dict[str, Any], client: WebClient, logger: logging.Logger) -> None:
        ack()
        acknowledge_alarm(body, client, logger, table_name, audit)

    policy_action(app, ALARM_ACKNOWLEDGE_ACTION, command=ALARMS_COMMAND)(acknowledge)
    policy_action(app, ALARM_STACK_STATUS_ACTION, command=STACK_STATUS_COMMAND)(
        ack=lambda ack: ack(), lazy=[post_stack_status_in_thread]
    )


def _clicked(body: dict[str, Any]) -> tuple[str | None, str | None, str | None, str | None]:
    """(user, channel, card ts, alarm ARN) of a click on an alarm card."""
    container = body.get("container") if isinstance(body.get("container"), dict) else {}
    user = body.get("user") if isinstance(body.get("user"), dict) else {}
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value else None

    return (
        text(user.get("id")),
        text(container.get("channel_id")),
        text(container.get("message_ts")),
        text(action.get("value")),
    )


def acknowledge_alarm(
    body: dict[str, Any], client: WebClient, logger: logging.Logger, table_name: str | None, registry: Any
) -> None:
    # Here, not at import: Slack's other requests never load the notification code (handler.py's cold start).
    from bolt_app.notifications.alarm_threads import alarm_key, redraw
    from bolt_app.notifications.entry import shared_thread_store

    user, channel, ts, alarm_arn = _clicked(body)
    if not (user and channel and ts and alarm_arn):
        logger.warning("alarm acknowledgement ignored: no user, channel, card or alarm in the click")
        return
    store = shared_thread_store(table_name)
    key = alarm_key(alarm_arn)
    won, who = store.acknowledge(key, ts, user)
    result = "acknowledged" if won else (f"already acknowledged by {who}" if who else "not the alarm's current thread")
    # On record as soon as it is decided: a redraw or an answer that fails below must not lose the decision.
    if registry.audit is not None:
        registry.audit.record(
            AuditRecord(
                user=user,
                command=ALARMS_COMMAND,
                # The trail's own vocabulary (audit.DECISIONS): the acknowledgement made, or one that changed nothing.
                decision="executed" if won else "refused",
                channel=channel,
                action="acknowledge",
                target=alarm_arn,
                result=result,
            )
        )
    # The card says who; a notification redrawing it at the same moment re-reads the record after. A later
    # click on a card that still offers Acknowledge (the winner's redraw failed) redraws it too.
    if won or (who and _still_offers_acknowledge(body)):
        try:
            redraw(
                store,
                key,
                ts,
                None,
                lambda t, text, blocks: client.chat_update(channel=channel, ts=t, text=text, blocks=blocks),
            )
        except SlackApiError as error:
            # The acknowledgement stands (the record has it; the card's next redraw shows it).
            logger.warning("acknowledged card not redrawn", extra={"slack_error": error.response.get("error")})
    if won:
        return
    text = alarm_already_acknowledged(who) if who else alarm_acknowledgement_gone()
    try:
        client.chat_postEphemeral(channel=channel, user=user, text=text)
    except SlackApiError as error:
        logger.warning("acknowledgement refusal not posted", extra={"slack_error": error.response.get("error")})


def _still_offers_acknowledge(body: dict[str, Any]) -> bool:
    """The card as the clicker saw it (the click's `message`) still has the Acknowledge button."""
    message = body.get("message")
    blocks = message.get("blocks") if isinstance(message, dict) else None
    return isinstance(blocks, list) and f'"{ALARM_ACKNOWLEDGE_ACTION}"' in json.dumps(blocks)


def post_stack_status_in_thread(body: dict[str, Any], client: WebClient, logger: logging.Logger) -> None:
    """Lazy: the /stack-status card as a reply in the alarm's thread."""
    _, channel, ts, _ = _clicked(body)
    if not (channel and ts):
        logger.warning("stack status not posted: the click names no card")
        return
    text, blocks = build_report(AwsDeployment.from_env(), logger)
    client.chat_postMessage(channel=channel, thread_ts=ts, text=text, blocks=blocks)
