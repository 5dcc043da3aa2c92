"""ChatOps that can be trusted: the command policy (who may run what), and the audit trail.

- policy.py: `Policy.load(path, extra_admins)`, `policy.decide(user, command, verb, channel) -> Decision`.
- registry.py: how listener modules declare their commands (`slash_command`) and buttons
  (`policy_action`, `open_action`); one registry per app, which also holds its policy and audit trail.
- middleware.py: the one check every command and declared button goes through.
- audit.py: `AuditRecord`, `AuditTrail.record` (never raises), `audit_trail(settings)`.
- usergroups.py: Slack user groups as role members ("@oncall"), read with usergroups.list, cached.

`install(app, settings)` (called by bolt_app/app.py's create_app) loads the policy once per container
and puts the middleware in front of every listener.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bolt_app.chatops.audit import AuditRecord, AuditTrail, audit_trail
from bolt_app.chatops.middleware import CommandPolicyMiddleware
from bolt_app.chatops.policy import Decision, Policy, PolicyError
from bolt_app.chatops.registry import Registry, open_action, policy_action, registry_of, slash_command
from bolt_app.chatops.usergroups import UserGroups
from bolt_app.config import Settings

__all__ = [
    "AuditRecord",
    "AuditTrail",
    "Decision",
    "Policy",
    "PolicyError",
    "Registry",
    "install",
    "open_action",
    "policy_action",
    "registry_of",
    "slash_command",
]


def install(app: App, settings: Settings) -> Registry:
    """Load the policy (PolicyError, a ConfigError, if it cannot be used) and guard `app` with it."""
    registry = registry_of(app)
    registry.policy = Policy.load(settings.policy_file, settings.chatops_admins)
    if registry.policy.names_user_groups:
        registry.policy.group_members = UserGroups(lambda: _web_client(settings)).members
    registry.audit = audit_trail(settings)
    app.use(CommandPolicyMiddleware(registry.policy, registry, registry.audit))
    return registry


def _web_client(settings: Settings) -> Any:
    """A Web API client with the bot's current token, the request path's timeout and budgeted retries."""
    from slack_sdk import WebClient

    from bolt_app.slack_web.slack_retries import CALL_TIMEOUT_SECONDS, retry_handlers

    return WebClient(
        token=settings.credentials.bot_token,
        base_url=settings.api_url,
        timeout=CALL_TIMEOUT_SECONDS,
        retry_handlers=retry_handlers(),
    )
