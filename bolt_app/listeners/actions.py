"""Block actions: the dinner picker's buttons."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, Respond

from bolt_app.blocks import DINNER_PICK_ACTION_PREFIX, dinner_pick_confirmation, restaurant_for_choice


def register(app: App) -> None:
    app.action(re.compile("^" + re.escape(DINNER_PICK_ACTION_PREFIX)))(handle_dinner_pick)


def handle_dinner_pick(
    ack: Ack, action: dict[str, Any], body: dict[str, Any], respond: Respond, logger: logging.Logger
) -> None:
    ack()
    restaurant = restaurant_for_choice(action.get("value", ""))
    user_id = (body.get("user") or {}).get("id")
    if restaurant is None or not user_id:
        logger.warning("dinner pick with an unknown choice ignored", extra={"action_id": action.get("action_id")})
        return
    text, blocks = dinner_pick_confirmation(user_id, restaurant)
    respond(text=text, blocks=blocks, replace_original=True)
