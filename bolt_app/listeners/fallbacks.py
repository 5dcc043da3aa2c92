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
    app.command(_ANY)(answer_unknown_command)
    for listen in (app.action, app.shortcut, app.view_submission, app.view_closed, app.options):
        listen(_ANY)(acknowledge_and_ignore)


def ignore_event(event: dict, logger: logging.Logger) -> None:
    logger.debug("event ignored", extra={"event_type": event.get("type")})


def acknowledge_and_ignore(ack: Ack, logger: logging.Logger) -> None:
    ack()
    logger.debug("request ignored: no listener for it")


def answer_unknown_command(ack: Ack, command: dict) -> None:
    # Only the person who typed it sees this (an ack's text is ephemeral): a silent 200 would
    # leave them wondering whether the bot is alive.
    name = command.get("command") if isinstance(command.get("command"), str) else "that command"
    ack(f"Sorry, I don't know {name} yet.")
