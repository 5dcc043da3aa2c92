"""`/audit` (admins, per policy.toml): the last 20 audit records, or one person's (`/audit @ana`).

The ack answers at once ("Reading the audit trail…", to the asker only); a lazy listener reads the
trail back (the audit log group on AWS: bolt_app/chatops/audit.py) and posts the records through the
command's response_url, ephemeral too: the trail is for the admin who asked, not for the channel.

The manifest registers /audit with `should_escape: true`, so that a person picked from Slack's
autocomplete arrives as `<@U0123ABC|ana>` (with escaping off it would arrive as the bare text "@ana",
which names nobody reliably: display names are neither unique nor stable).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App

from bolt_app.chatops import registry_of, slash_command
from bolt_app.chatops.audit import AuditReadFailed
from bolt_app.foundation.observability import Metric, count
from bolt_app.slack_web.blocks import audit_read_failed, audit_report
from bolt_app.slack_web.slack_retries import send_or_raise

COMMAND = "/audit"
RECORDS_SHOWN = 20
# `<@U0123ABC|name>` (escaped mention), `<@U0123ABC>`, or a bare user ID.
_PERSON = re.compile(r"^(?:<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>|([UW][A-Z0-9]{2,}))$")
USAGE = "Use `/audit` for the last 20 records, or `/audit @person` (pick them from the list) for one person's."


def person_asked(text: Any) -> tuple[bool, str | None]:
    """(understood?, user ID or None for everyone) from the command's text."""
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        return True, None
    match = _PERSON.match(text)
    if not match:
        return False, None
    return True, match.group(1) or match.group(2)


def register(app: App) -> None:
    registry = registry_of(app)

    def acknowledge_audit(ack: Ack, command: dict[str, Any]) -> None:
        understood, person = person_asked(command.get("text"))
        if not understood:
            ack(text=f"I can't tell who that is. {USAGE}")
            return
        whose = f" of <@{person}>" if person else ""
        ack(text=f"Reading the audit trail{whose}…")
        count(Metric.COMMANDS_HANDLED)

    def report_audit(command: dict[str, Any], logger: logging.Logger) -> None:
        understood, person = person_asked(command.get("text"))
        response_url = command.get("response_url")
        if not understood or registry.audit is None or not isinstance(response_url, str) or not response_url:
            return
        try:
            records = registry.audit.recent(RECORDS_SHOWN, person)
        except AuditReadFailed as error:
            logger.warning("audit trail not read", extra={"code": str(error)})
            text, blocks = audit_read_failed(str(error))
        else:
            text, blocks = audit_report(records, person, RECORDS_SHOWN)
        send_or_raise(response_url, text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

    slash_command(
        app,
        COMMAND,
        description="Show the audit trail: the last 20 decisions, or one person's",
        usage_hint="[@person]",
    )(ack=acknowledge_audit, lazy=[report_audit])
