"""Who you are in the playground: a switcher between people the command policy treats differently.

You start as yourself, an admin; switch to an operator (may list, start and stop instances), an approver
(may approve what needs a second person) or a guest (in no role) to see refusals, the confirm dialog,
a second person's approval and the audit records (inspector) as each of them would. The roles come from
the playground's own policy file (policy.toml next to this module), unless CHATOPS_POLICY_FILE names one.

`/instances` acts on a stand-in fleet (bolt_app/local/fake_ec2.py) served on the playground's own port:
one plain instance, one needing a second person, one stopped, one untagged — never on AWS.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bolt_app.local.fake_ec2 import FakeEC2

POLICY_FILE = Path(__file__).with_name("policy.toml")
# Where the stand-in EC2 answers, on the playground's own port.
STAND_IN_EC2_MOUNT = "/aws/ec2"


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    role: str  # what the switcher says


# The first is you (the session's HUMAN_ID and name, bolt_app/local/playground/session.py).
PEOPLE = (
    Person("U0HUMAN001", "dwight", "admin"),
    Person("U0PLAYOPS1", "ana", "operator"),
    Person("U0PLAYAPR1", "bob", "approver"),
    Person("U0PLAYGST1", "guest", "in no role"),
)


def person(user_id: str) -> Person | None:
    return next((p for p in PEOPLE if p.id == user_id), None)


def names() -> dict[str, str]:
    return {p.id: p.name for p in PEOPLE}


def configure_environment(base_url: str) -> None:
    """Before handler.py is imported: the playground's policy, and the stand-in fleet for `/instances`
    (start_session gives botocore made-up credentials: nothing of yours signs a call to the stand-in)."""
    # A policy of your own (CHATOPS_POLICY_FILE) is kept: the playground then tries that one.
    os.environ.setdefault("CHATOPS_POLICY_FILE", str(POLICY_FILE))
    os.environ["AWS_ENDPOINT_URL_EC2"] = base_url.rstrip("/") + STAND_IN_EC2_MOUNT + "/"


def fleet() -> FakeEC2:
    # Stopping and starting take a few seconds, as on EC2: /instances again shows the state settled.
    return FakeEC2(settle_seconds=8.0)


def people_state(playground: Any) -> dict[str, Any]:
    """The switcher and the audit panel: who you are now, who you could be, the newest audit records."""
    from bolt_app.chatops import registry_of

    records: list[dict[str, Any]] = []
    app = getattr(playground, "app", None)
    audit = registry_of(app).audit if app is not None else None
    if audit is not None:
        records = audit.recent(limit=30)
    me = playground.me
    return {
        "me": me,
        "people": [{"id": p.id, "name": p.name, "role": p.role} for p in PEOPLE],
        "audit": records,
    }
