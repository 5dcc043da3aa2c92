"""The one place the command policy is enforced: a Bolt middleware every request goes through.

- A slash command: `Policy.decide(user, command, "allow", channel)`. Every command is checked, whatever
  listener it has; one without a policy entry is refused.
- A button click whose action_id a listener module declared with `policy_action` (registry.py): the
  declared command and verb. Clicks on buttons declared open (the dinner picker) and undeclared ones
  (no listener acts on them: the catch-all acknowledges them) pass.
- Everything else (DMs and other events, url_verification): passes at once, no policy work.

A refusal is answered within the request, to the asker only, and nothing of the command runs (its
listener, and so its AWS calls, never start): a command's refusal is its HTTP answer (ephemeral, the
default response_type); a click's is an ephemeral message (chat.postEphemeral; the click's
response_url if the bot cannot post there), since Slack ignores the HTTP body of an interaction.
Each refusal is counted (`CommandsDenied`) and audited.

A lazy listener's self-invocation (bolt_app/aws_lambda/lazy_listeners.py) goes through Bolt's
dispatch, so through here, again: it is checked again (the same policy: the same deployment) but
neither answered nor audited twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk.errors import SlackApiError

from bolt_app.chatops.audit import AuditRecord, AuditTrail
from bolt_app.chatops.policy import Decision, Policy
from bolt_app.chatops.registry import Registry
from bolt_app.foundation.observability import Metric, count

MAX_TARGET_CHARS = 200
# Bolt's `app.action("x")` (what policy_action and open_action register) matches a block_actions click whose
# action_id is "x", and also these payloads when their callback_id is "x" (slack_bolt/listener_matcher/
# builtins.py, `action`): they meet the same rule, or a declared button's listener is reached past the policy.
CALLBACK_ID_ACTIONS = frozenset(
    {"interactive_message", "dialog_submission", "dialog_cancellation", "workflow_step_edit"}
)

logger = logging.getLogger(__name__)


class CommandPolicyMiddleware(Middleware):
    """A Middleware subclass, not a function for `app.use`: Bolt inspects a function's arguments on every
    request (RotatingTokenClientMiddleware, bolt_app/slack_web/slack_auth.py, measured why)."""

    def __init__(self, policy: Policy, registry: Registry, audit: AuditTrail) -> None:
        self.policy = policy
        self.registry = registry
        self.audit = audit

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        body = req.body
        command = body.get("command")
        if isinstance(command, str):
            return self._command(req, body, command, next)
        if body.get("type") == "block_actions":
            actions = body.get("actions")
            action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
            action_id = _str(action.get("action_id"))
            return self._click(req, body, action_id, _str(action.get("value")) or action_id, next)
        if body.get("type") in CALLBACK_ID_ACTIONS:
            callback_id = _str(body.get("callback_id"))
            return self._click(req, body, callback_id, callback_id, next)
        return next()

    def _command(self, req: BoltRequest, body: dict[str, Any], command: str, next: Callable[[], Any]) -> Any:
        user, channel = _str(body.get("user_id")), _str(body.get("channel_id"))
        decision = self.policy.decide(user, command, "allow", channel)
        if decision.allowed:
            return next()
        if not req.lazy_only:
            self._refused(user, channel, command, "run", _str(body.get("text")), decision)
        # The ack itself: a plain answer to a slash command is shown to the person who typed it only.
        return BoltResponse(status=200, body=_refusal_text(decision), headers={"content-type": "text/plain"})

    def _click(
        self,
        req: BoltRequest,
        body: dict[str, Any],
        action_id: str | None,
        target: str | None,
        next: Callable[[], Any],
    ) -> Any:
        rule = self.registry.rule_for_action(action_id) if action_id else None
        if rule is None or rule.command is None:
            return next()  # open to everyone, or nothing acts on it
        user = _str((body.get("user") or {}).get("id")) if isinstance(body.get("user"), dict) else None
        channel = _channel_of(body)
        decision = self.policy.decide(user, rule.command, rule.verb, channel)
        if decision.allowed:
            return next()
        if not req.lazy_only:
            self._tell_clicker(req, body, user, channel, _refusal_text(decision))
            self._refused(user, channel, rule.command, rule.verb, target, decision)
        return BoltResponse(status=200, body="")

    def _refused(
        self, user: str | None, channel: str | None, command: str, action: str, target: str | None, decision: Decision
    ) -> None:
        count(Metric.COMMANDS_DENIED)
        logger.info("refused by the command policy", extra={"command": command, "verb": action})
        self.audit.record(
            AuditRecord(
                user=user,
                channel=channel,
                command=command,
                action=action,
                target=target[:MAX_TARGET_CHARS] if target else None,
                decision="refused",
                result=decision.reason,
            )
        )

    def _tell_clicker(
        self, req: BoltRequest, body: dict[str, Any], user: str | None, channel: str | None, text: str
    ) -> None:
        """chat.postEphemeral (needs the bot in the channel), else the click's response_url (ephemeral,
        leaving the message alone). Never raises: the refusal stands whether or not it could be said."""
        client = req.context.client
        if client is not None and user and channel:
            try:
                client.chat_postEphemeral(channel=channel, user=user, text=text)
                return
            except SlackApiError as error:
                logger.warning("refusal not posted", extra={"slack_error": error.response.get("error")})
            except Exception as error:  # a timeout, a connection error: try the response_url
                logger.warning("refusal not posted", extra={"error_type": type(error).__name__})
        response_url = body.get("response_url")
        if isinstance(response_url, str) and response_url:
            from bolt_app.slack_web.slack_retries import response_url_client

            try:
                response_url_client(response_url).send(text=text, response_type="ephemeral", replace_original=False)
            except Exception as error:
                logger.warning("refusal not sent to response_url", extra={"error_type": type(error).__name__})


def _refusal_text(decision: Decision) -> str:
    return f"Sorry, you can't do that: {decision.reason}"


def _channel_of(body: dict[str, Any]) -> str | None:
    container, channel = body.get("container"), body.get("channel")
    found = container.get("channel_id") if isinstance(container, dict) else None
    if not found and isinstance(channel, dict):
        found = channel.get("id")
    return _str(found)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
