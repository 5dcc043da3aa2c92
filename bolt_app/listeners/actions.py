"""Block actions: the dinner picker's buttons."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App
from slack_sdk.errors import SlackRequestError

from bolt_app.blocks import DINNER_PICK_ACTION_PREFIX, dinner_pick_confirmation, restaurant_for_choice
from bolt_app.observability import Metric, count
from bolt_app.slack_retries import response_url_client


def register(app: App) -> None:
    app.action(re.compile("^" + re.escape(DINNER_PICK_ACTION_PREFIX)))(handle_dinner_pick)


def handle_dinner_pick(ack: Ack, body: dict[str, Any], logger: logging.Logger) -> None:
    ack()
    # Read from the body rather than Bolt's `action` argument, which indexes blindly into it.
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    value = action.get("value")
    restaurant = restaurant_for_choice(value) if isinstance(value, str) else None
    user = body.get("user")
    user_id = user.get("id") if isinstance(user, dict) else None
    response_url = body.get("response_url")
    if restaurant is None or not isinstance(user_id, str) or not isinstance(response_url, str):
        logger.warning("dinner pick ignored: unknown choice, user or response_url")
        return
    text, blocks = dinner_pick_confirmation(user_id, restaurant)
    # Not Bolt's respond(): this client has the Web API client's timeout and budgeted retries.
    response = response_url_client(response_url).send(text=text, blocks=blocks, replace_original=True)
    if response.status_code != 200:
        raise SlackRequestError(f"response_url answered {response.status_code}")
    count(Metric.DINNER_PICKS)
