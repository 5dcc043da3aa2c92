"""Catch-alls, registered last: requests no feature handles get a quiet 200.

Bolt answers 404 when no listener matches, and Slack retries a 404 as a failure.
"""

from __future__ import annotations

import logging
import re

from slack_bolt import Ack, App

_ANY = re.compile(".*")


def register(app: App) -> None:
    app.event(_ANY)(ignore_event)
    app.action(_ANY)(ignore_action)


def ignore_event(event: dict, logger: logging.Logger) -> None:
    logger.debug("event ignored", extra={"event_type": event.get("type")})


def ignore_action(ack: Ack, logger: logging.Logger) -> None:
    ack()
    logger.debug("action ignored")
