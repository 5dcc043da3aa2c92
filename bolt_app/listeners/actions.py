"""Block actions: the dinner picker's buttons. The first pick wins; later clicks are told who won."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bolt_app.chatops import open_action
from bolt_app.foundation.observability import Metric, count
from bolt_app.listeners.first_pick import FirstPickStore, InMemoryFirstPicks, Pick, picker_key
from bolt_app.slack_web.blocks import (
    DINNER_PICK_ACTION_PREFIX,
    dinner_already_picked,
    dinner_pick_confirmation,
    dinner_picker_expired,
    restaurant_for_choice,
)
from bolt_app.slack_web.slack_retries import ResponseUrlFailed, response_url_client

# A response_url takes up to 5 posts within 30 minutes; `response_type: ephemeral` with
# `replace_original: false` shows a message to the clicker only and leaves the original alone
# (https://docs.slack.dev/interactivity/handling-user-interaction, "Message responses"). Past
# that, Slack refuses the post with HTTP 404 (the fake answers `expired_url`, as observed for
# Slack); any 404/410 is taken as expired, and only the Web API can still reach the person.
EXPIRED_RESPONSE_URL_STATUSES = frozenset({404, 410})


def register(app: App, first_picks: FirstPickStore | None = None) -> None:
    store = first_picks or InMemoryFirstPicks()

    def handle_dinner_pick(ack: Ack, body: dict[str, Any], client: WebClient, logger: logging.Logger) -> None:
        pick_dinner(store, ack, body, client, logger)

    # Open to everyone: picking dinner is not ChatOps (the command policy checks no click on it).
    open_action(app, re.compile("^" + re.escape(DINNER_PICK_ACTION_PREFIX)))(handle_dinner_pick)


def pick_dinner(
    store: FirstPickStore, ack: Ack, body: dict[str, Any], client: WebClient, logger: logging.Logger
) -> None:
    ack()
    # Read from the body rather than Bolt's `action` argument, which indexes blindly into it.
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    value = action.get("value")
    restaurant = restaurant_for_choice(value) if isinstance(value, str) else None
    user_id = _string(body, "user", "id")
    response_url = body.get("response_url")
    # The message carrying the buttons: its channel and ts name the picker, whoever clicks.
    channel_id = _string(body, "container", "channel_id") or _string(body, "channel", "id")
    message_ts = _string(body, "container", "message_ts") or _string(body, "message", "ts")
    if restaurant is None or not user_id or not isinstance(response_url, str) or not channel_id or not message_ts:
        logger.warning("dinner pick ignored: unknown choice, user, response_url or picker message")
        return

    picker, pick = picker_key(channel_id, message_ts), Pick(user_id, restaurant.choice)
    winner = store.claim(picker, pick)
    responder = response_url_client(response_url)
    if winner is not None:
        # Only the person who clicked sees it; the picker's message is left as the winner made it.
        first = restaurant_for_choice(winner.choice)
        text = dinner_already_picked(winner.user_id, first.name if first else winner.choice)
        response = responder.send(text=text, response_type="ephemeral", replace_original=False)
        if response.status_code in EXPIRED_RESPONSE_URL_STATUSES:
            _tell_privately(client, channel_id, user_id, text, logger)
        logger.info("dinner pick refused: already picked")
        return

    text, blocks = dinner_pick_confirmation(user_id, restaurant)
    # Not Bolt's respond(): this client has the Web API client's timeout and budgeted retries.
    try:
        response = responder.send(text=text, blocks=blocks, replace_original=True)
    except Exception:
        store.release(picker, pick)
        raise
    if response.status_code in EXPIRED_RESPONSE_URL_STATUSES:
        # The picker can no longer be changed: the pick did not happen, say so to the clicker.
        store.release(picker, pick)
        _tell_privately(client, channel_id, user_id, dinner_picker_expired(), logger)
        return
    if response.status_code != 200:
        store.release(picker, pick)
        raise ResponseUrlFailed(response.status_code)
    count(Metric.DINNER_PICKS)


def _tell_privately(client: WebClient, channel_id: str, user_id: str, text: str, logger: logging.Logger) -> None:
    """An ephemeral message through the Web API (Slack answers not_in_channel where the bot isn't)."""
    try:
        client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
    except SlackApiError as error:
        # Nothing else can reach them; failing the click would only add Slack's warning icon.
        logger.warning("ephemeral answer failed", extra={"slack_error": error.response.get("error")})


def _string(body: dict[str, Any], outer: str, inner: str) -> str | None:
    container = body.get(outer)
    value = container.get(inner) if isinstance(container, dict) else None
    return value if isinstance(value, str) and value else None
