"""Catch-alls, registered last: requests no feature handles get a quiet 200.

Bolt answers 404 when no listener matches (Slack retries that as a failure) and logs the
request body at WARNING (message text included). One catch-all per kind of request avoids both.
"""

from __future__ import annotations

import logging
import re

from slack_bolt import Ack, App

_ANY = re.compile(".*")


def register(app: App) -> None:
    app.event(_ANY)(ignore_event)
    for listen in (app.action, app.command, app.shortcut, app.view_submission, app.view_closed, app.options):
        listen(_ANY)(acknowledge_and_ignore)


def ignore_event(event: dict, logger: logging.Logger) -> None:
    logger.debug("event ignored", extra={"event_type": event.get("type")})


def acknowledge_and_ignore(ack: Ack, logger: logging.Logger) -> None:
    ack()
    logger.debug("request ignored: no listener for it")
