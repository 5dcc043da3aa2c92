"""What listener modules declare to the command policy: their slash commands and their buttons.

A listener module registers a command through `slash_command(app, ...)` instead of `app.command(...)`:
the same Bolt registration, plus its description and usage hint, which `/help` lists and
tests/test_manifest.py checks against slack/manifest.json. A button that acts is registered with
`policy_action(app, action_id, command=..., verb=...)`: the policy middleware (bolt_app/chatops/middleware.py)
then refuses a click by anyone the policy does not grant that verb of that command, before the
listener runs. Buttons open to everyone (the dinner picker) say so with `open_action`.

    slash_command(app, "/instances", description="List, start and stop EC2 instances")(
        ack=acknowledge, lazy=[list_instances]
    )
    policy_action(app, "instances_start", command="/instances", verb="act")(ack=ack_click, lazy=[start])
    policy_action(app, re.compile("^approval_"), command="/instances", verb="approve")(handle_approval)

One registry per Bolt App (a weak mapping: apps made by tests come and go); it also holds the app's
`policy` and `audit` trail, for listeners that decide or record more themselves (approvals, actions):
`registry_of(app).policy.decide(...)`, `registry_of(app).audit.record(AuditRecord(...))`. (Not in Bolt's
context: Bolt deep-copies the context for lazy listeners, and these are per-container objects.)
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import App

from bolt_app.chatops.audit import AuditTrail
from bolt_app.chatops.policy import VERBS, Policy

ActionId = str | re.Pattern[str]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    description: str
    usage_hint: str = ""


@dataclass(frozen=True)
class ActionRule:
    """A button's place in the policy: `command` None means open to everyone (no policy check)."""

    command: str | None
    verb: str = "allow"


@dataclass
class Registry:
    commands: dict[str, CommandSpec] = field(default_factory=dict)
    # The container's policy and audit trail, set by create_app (bolt_app/app.py) before any request:
    # listeners that need them (/help, /audit, the acting ones) read them here at request time.
    policy: Policy | None = None
    audit: AuditTrail | None = None
    _exact: dict[str, ActionRule] = field(default_factory=dict)
    _patterns: list[tuple[re.Pattern[str], ActionRule]] = field(default_factory=list)
    # Every declaration in registration order: Bolt runs the first registered listener that matches.
    _ordered: list[tuple[ActionId, ActionRule]] = field(default_factory=list)

    def add_command(self, spec: CommandSpec) -> None:
        if spec.name in self.commands:
            raise ValueError(f"{spec.name} is registered twice")
        self.commands[spec.name] = spec

    def add_action(self, action_id: ActionId, rule: ActionRule) -> None:
        if rule.verb not in VERBS:
            raise ValueError(f"verb {rule.verb!r} is not one of {', '.join(VERBS)}")
        if isinstance(action_id, str):
            if action_id in self._exact:
                raise ValueError(f"action {action_id!r} is declared twice")
            self._exact[action_id] = rule
        else:
            self._patterns.append((action_id, rule))
        self._ordered.append((action_id, rule))

    def rule_for_action(self, action_id: str) -> ActionRule | None:
        """The declaration covering `action_id`: the first registered that matches it, as Bolt picks the listener
        that runs (an exact id as Bolt compares it, a pattern with re.search as Bolt does); None: undeclared."""
        for declared, rule in self._ordered:
            if declared == action_id if isinstance(declared, str) else declared.search(action_id):
                return rule
        return None

    def declares_action(self, action_id: ActionId) -> bool:
        """Whether a listener's `app.action(constraint)` is declared (for the registration check in the tests)."""
        if isinstance(action_id, str):
            return action_id in self._exact
        return any(pattern.pattern == action_id.pattern for pattern, _ in self._patterns)


_registries: weakref.WeakKeyDictionary[App, Registry] = weakref.WeakKeyDictionary()


def registry_of(app: App) -> Registry:
    registry = _registries.get(app)
    if registry is None:
        registry = _registries[app] = Registry()
    return registry


def slash_command(app: App, name: str, *, description: str, usage_hint: str = "") -> Callable[..., Any]:
    """`app.command(name)`, declared with what `/help` shows. Still refused until policy.toml names it."""
    registry_of(app).add_command(CommandSpec(name, description, usage_hint))
    return app.command(name)


def policy_action(app: App, action_id: ActionId, *, command: str, verb: str = "allow") -> Callable[..., Any]:
    """`app.action(action_id)` for a button of `command` that needs `verb` (policy.toml) to be clicked."""
    registry_of(app).add_action(action_id, ActionRule(command, verb))
    return app.action(action_id)


def open_action(app: App, action_id: ActionId) -> Callable[..., Any]:
    """`app.action(action_id)` for a button anyone may click (the dinner picker): no policy check."""
    registry_of(app).add_action(action_id, ActionRule(None))
    return app.action(action_id)
