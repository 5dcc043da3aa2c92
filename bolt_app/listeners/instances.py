"""`/instances`: list, start and stop the EC2 instances tagged `ChatOps=enabled`, with a second person where asked.

- The command answers at once ("Looking up instances…", in the channel); a lazy listener lists the
  instances tagged `ChatOps=enabled` in the bot's region (DescribeInstances) and replaces the answer
  with the list: one row per instance, with a Start or Stop button carrying a confirm dialog.
- A click on Start/Stop is checked against the policy's `act` before any listener runs (the chatops
  middleware); allowed, its lazy listener claims the click (exactly once across containers:
  bolt_app/chatops/claims.py), reads the instance again (it must still carry the tag), and acts —
  or, for an instance tagged `ChatOpsApproval=required`, posts an approval request instead
  (bolt_app/chatops/approvals.py). The list is refreshed, and a line in the channel says who did what.
- Approve/Deny is checked against `approve`; the requester may not decide, nor anyone after 15 minutes,
  and the first decision wins.

Every answer goes through the click's `response_url` (up to 5 posts within 30 minutes): a new
message in the channel needs no channel membership, unlike chat.postMessage. Slack ignores a click's
HTTP body, so the acks are empty. Every decision is one audit record (bolt_app/chatops/audit.py).
AWS errors are answered by their code (IncorrectInstanceState, UnauthorizedOperation, ...), never raised.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bolt_app.aws_lambda.lazy_listeners import DELIVERY_HEADER
from bolt_app.chatops import approvals as approvals_module
from bolt_app.chatops.approvals import ApprovalRequest, ApprovalStore, ApprovalUnavailable, approval_store
from bolt_app.chatops.audit import AuditRecord, AuditTrail, LocalAuditTrail
from bolt_app.chatops.claims import ClaimUnavailable, ClickClaims, click_claims
from bolt_app.chatops.registry import policy_action, registry_of, slash_command
from bolt_app.config import Settings
from bolt_app.foundation import aws_clients
from bolt_app.foundation.observability import Metric, count
from bolt_app.slack_web.blocks import (
    APPROVAL_APPROVE_ACTION,
    APPROVAL_DENY_ACTION,
    INSTANCE_START_ACTION,
    INSTANCE_STOP_ACTION,
    InstanceRow,
    approval_closed,
    approval_request,
    instance_changed,
    instance_label,
    instances_error,
    instances_list,
    instances_looking_up,
)
from bolt_app.slack_web.slack_retries import post_report, response_url_client

COMMAND = "/instances"
TAG_KEY, TAG_VALUE = "ChatOps", "enabled"
APPROVAL_TAG_KEY, APPROVAL_TAG_VALUE = "ChatOpsApproval", "required"
ACTIONS = {INSTANCE_START_ACTION: "start", INSTANCE_STOP_ACTION: "stop"}
# Each row's button: "instances_stop:i-0abc…" (action_ids unique within the message).
INSTANCE_BUTTONS = re.compile(rf"^({INSTANCE_START_ACTION}|{INSTANCE_STOP_ACTION}):i-[0-9a-f]+$")
DECISIONS = {APPROVAL_APPROVE_ACTION: approvals_module.APPROVED, APPROVAL_DENY_ACTION: approvals_module.DENIED}
# EC2 instance IDs: i- and 8 or 17 hex digits. A button's value is the bot's own, but still checked.
INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")
# States worth listing (a terminated instance can be neither started nor stopped).
LISTED_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]
# Bounded, like every other AWS call: DescribeInstances pages of up to 1000, at most this many pages.
MAX_PAGES = 5
# What a response_url answers once it can no longer be used (30 minutes, 5 posts).
EXPIRED_RESPONSE_URL_STATUSES = frozenset({404, 410})


# -- EC2 ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instance:
    instance_id: str
    name: str | None
    instance_type: str
    state: str
    tags: dict[str, str]

    @property
    def managed(self) -> bool:
        return self.tags.get(TAG_KEY) == TAG_VALUE

    @property
    def needs_approval(self) -> bool:
        return self.tags.get(APPROVAL_TAG_KEY) == APPROVAL_TAG_VALUE

    def row(self) -> InstanceRow:
        return InstanceRow(self.instance_id, self.name, self.instance_type, self.state, self.needs_approval)


class InstanceGone(Exception):
    """DescribeInstances does not know the ID (terminated and gone, or never in this region)."""


def ec2_client() -> Any:
    # Lazy listeners only: SLOW_WORK's timeouts and bounded retries (foundation/aws_clients.py).
    return aws_clients.client("ec2", aws_clients.SLOW_WORK)


def _instance(data: dict[str, Any]) -> Instance:
    tags = {str(t.get("Key")): str(t.get("Value")) for t in data.get("Tags") or [] if isinstance(t, dict)}
    return Instance(
        instance_id=str(data.get("InstanceId")),
        name=tags.get("Name") or None,
        instance_type=str(data.get("InstanceType") or "?"),
        state=str((data.get("State") or {}).get("Name") or "unknown"),
        tags=tags,
    )


def list_fleet(ec2: Any) -> list[Instance]:
    """The instances tagged ChatOps=enabled (the filter is EC2's: untagged instances never come back)."""
    found: list[Instance] = []
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[
            {"Name": f"tag:{TAG_KEY}", "Values": [TAG_VALUE]},
            {"Name": "instance-state-name", "Values": LISTED_STATES},
        ],
        PaginationConfig={"MaxItems": None, "PageSize": 1000},
    )
    for number, page in enumerate(pages):
        if number >= MAX_PAGES:
            break
        for reservation in page.get("Reservations") or []:
            found.extend(_instance(i) for i in reservation.get("Instances") or [])
    # Managed again here: a filter is only as good as the service that applied it.
    return sorted((i for i in found if i.managed), key=lambda i: ((i.name or "~").lower(), i.instance_id))


def read_instance(ec2: Any, instance_id: str) -> Instance:
    from botocore.exceptions import ClientError

    try:
        answer = ec2.describe_instances(InstanceIds=[instance_id])
    except ClientError as error:
        if aws_clients.error_code(error).startswith("InvalidInstanceID"):
            raise InstanceGone(instance_id) from None
        raise
    for reservation in answer.get("Reservations") or []:
        for data in reservation.get("Instances") or []:
            if data.get("InstanceId") == instance_id:
                return _instance(data)
    raise InstanceGone(instance_id)


def change_state(ec2: Any, instance_id: str, action: str) -> tuple[str, str]:
    """StartInstances/StopInstances: (previous state, current state)."""
    if action == "start":
        changes = ec2.start_instances(InstanceIds=[instance_id]).get("StartingInstances") or []
    else:
        changes = ec2.stop_instances(InstanceIds=[instance_id]).get("StoppingInstances") or []
    change = next((c for c in changes if c.get("InstanceId") == instance_id), {})
    return (
        str((change.get("PreviousState") or {}).get("Name") or "?"),
        str((change.get("CurrentState") or {}).get("Name") or "?"),
    )


_PAST_TENSE = {"start": "started", "stop": "stopped"}


def aws_error_answer(code: str, action: str, label: str) -> str:
    """What a person is told of an AWS error: its code, and what it means here."""
    meaning = {
        "IncorrectInstanceState": f"it is not in a state from which it can be {_PAST_TENSE[action]}",
        "UnauthorizedOperation": "the bot's IAM role may not do that (only instances tagged ChatOps=enabled)",
        "AccessDenied": "the bot's IAM role may not do that",
    }.get(code)
    because = f": {meaning}" if meaning else ""
    return f"Could not {action} {label}: AWS answered `{code}`{because}. Nothing was changed."


# -- the listeners --------------------------------------------------------------------------------


@dataclass
class InstancesFeature:
    claims: ClickClaims
    approvals: ApprovalStore
    audit: Callable[[], AuditTrail]
    ec2: Callable[[], Any] = ec2_client

    def record(self, decision: str, user: str, channel: str, action: str, target: str, **fields: Any) -> None:
        """One audit record for one decision (bolt_app/chatops/audit.py; a failed write is logged and counted)."""
        self.audit().record(
            AuditRecord(
                user=user, channel=channel, command=COMMAND, action=action, target=target, decision=decision, **fields
            )
        )


_LOCAL_AUDIT = LocalAuditTrail()


def register(app: App, settings: Settings | None = None) -> InstancesFeature:
    table = settings.idempotency_table if settings else None
    registry = registry_of(app)
    feature = InstancesFeature(
        claims=click_claims(table),
        approvals=approval_store(table),
        # Set by create_app before any request (chatops.install); a bare app (tests) logs the records locally.
        audit=lambda: registry.audit or _LOCAL_AUDIT,
    )

    def act_on_instance(body: dict[str, Any], client: WebClient, logger: logging.Logger, request: BoltRequest) -> None:
        handle_click(feature, body, client, logger, delivery_of(request))

    def decide_approval(body: dict[str, Any], client: WebClient, logger: logging.Logger, request: BoltRequest) -> None:
        handle_decision(feature, body, client, logger, delivery_of(request))

    def list_instances(command: dict[str, Any], logger: logging.Logger) -> None:
        report_instances(feature, command, logger)

    slash_command(
        app,
        COMMAND,
        description="List the EC2 instances tagged ChatOps=enabled; start and stop them",
        usage_hint="(no arguments)",
    )(ack=acknowledge_instances, lazy=[list_instances])
    # The policy middleware checks each click before these run: Start/Stop need `act`, Approve/Deny `approve`.
    policy_action(app, INSTANCE_BUTTONS, command=COMMAND, verb="act")(ack=acknowledge_click, lazy=[act_on_instance])
    for action_id in DECISIONS:
        policy_action(app, action_id, command=COMMAND, verb="approve")(ack=acknowledge_click, lazy=[decide_approval])
    return feature


def acknowledge_instances(ack: Ack) -> None:
    ack(response_type="in_channel", text=instances_looking_up())
    count(Metric.COMMANDS_HANDLED)


def acknowledge_click(ack: Ack) -> None:
    # Slack ignores a click's HTTP body; the lazy listener answers through the response_url.
    ack()


def render_list(ec2: Any, logger: logging.Logger) -> tuple[str, list[dict]]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        fleet = list_fleet(ec2)
    except (BotoCoreError, ClientError) as error:
        code = aws_clients.error_code(error)
        logger.warning("instances not listed", extra={"error_type": type(error).__name__, "code": code})
        return instances_error(code)
    return instances_list([i.row() for i in fleet], str(ec2.meta.region_name), secrets.token_hex(4))


def report_instances(feature: InstancesFeature, command: dict[str, Any], logger: logging.Logger) -> None:
    response_url = command.get("response_url")
    if not isinstance(response_url, str) or not response_url:
        logger.warning("instances not listed: the command has no response_url")
        return
    text, blocks = render_list(feature.ec2(), logger)
    post_report(response_url, text, blocks)


@dataclass(frozen=True)
class Click:
    user_id: str
    channel_id: str
    message_ts: str
    block_id: str
    action_id: str
    value: str
    response_url: str

    @property
    def key(self) -> str:
        # The rendered button: the same click delivered twice has the same key; a later rendering does not.
        return f"{self.channel_id}:{self.message_ts}:{self.block_id}:{self.action_id}"


def parse_click(body: dict[str, Any]) -> Click | None:
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}

    def text(outer: str, inner: str) -> str | None:
        container = body.get(outer)
        value = container.get(inner) if isinstance(container, dict) else None
        return value if isinstance(value, str) and value else None

    fields = (
        text("user", "id"),
        text("container", "channel_id") or text("channel", "id"),
        text("container", "message_ts") or text("message", "ts"),
        action.get("block_id"),
        action.get("action_id"),
        action.get("value"),
        body.get("response_url"),
    )
    if not all(isinstance(f, str) and f for f in fields):
        return None
    return Click(*fields)  # type: ignore[arg-type]


class Replies:
    """Everything said about one click, through its response_url (Web API fallback for the private ones)."""

    def __init__(self, click: Click, client: WebClient, logger: logging.Logger) -> None:
        self.click, self.client, self.logger = click, client, logger
        self.responder = response_url_client(click.response_url)

    def privately(self, text: str) -> None:
        try:
            response = self.responder.send(text=text, response_type="ephemeral", replace_original=False)
            status = response.status_code
        except Exception as error:  # the person is told nothing more, but the action stands
            self.logger.warning("ephemeral answer failed", extra={"error_type": type(error).__name__})
            status = 0
        if status != 200:
            try:
                self.client.chat_postEphemeral(channel=self.click.channel_id, user=self.click.user_id, text=text)
            except SlackApiError as error:
                self.logger.warning("ephemeral answer failed", extra={"slack_error": error.response.get("error")})
            except Exception as error:  # a timeout: never raised, a retry of the lazy run would act again
                self.logger.warning("ephemeral answer failed", extra={"error_type": type(error).__name__})

    def in_channel(self, text: str, blocks: list[dict] | None = None) -> None:
        self._send("channel line", text=text, blocks=blocks, response_type="in_channel", replace_original=False)

    def replace(self, text: str, blocks: list[dict]) -> None:
        self._send("message update", text=text, blocks=blocks, replace_original=True)

    def _send(self, what: str, **kwargs: Any) -> None:
        # After the action: a failed post is logged, never raised (a retry would act again).
        try:
            status = self.responder.send(**kwargs).status_code
        except Exception as error:
            self.logger.warning(f"{what} not posted", extra={"error_type": type(error).__name__})
            return
        if status != 200:
            self.logger.warning(f"{what} not posted", extra={"status": status})


def handle_click(
    feature: InstancesFeature,
    body: dict[str, Any],
    client: WebClient,
    logger: logging.Logger,
    delivery: str | None = None,
) -> None:
    click = parse_click(body)
    button, _, button_instance = click.action_id.partition(":") if click else ("", "", "")
    if click is None or button not in ACTIONS or not INSTANCE_ID.match(click.value) or button_instance != click.value:
        logger.warning("instances click ignored: no user, channel, message, button or instance ID")
        return
    action, replies = ACTIONS[button], Replies(click, client, logger)
    try:
        first = feature.claims.claim(click.key, delivery)
    except ClaimUnavailable as unavailable:
        replies.privately(
            f"Could not make sure this click acts only once (`{unavailable.code}`), so nothing was done. Try again."
        )
        feature.record(
            "failed", click.user_id, click.channel_id, action, click.value, result=f"claim: {unavailable.code}"
        )
        return
    if not first:
        replies.privately("This click was already handled (a repeated delivery or a double click); nothing done again.")
        logger.info("instances click skipped: already claimed")
        return
    _handle_claimed_click(feature, click, action, replies, logger)
    # Handled, whatever the outcome: a retry of this delivery does nothing (a crash before here: it acts).
    feature.claims.done(click.key)


def _handle_claimed_click(
    feature: InstancesFeature, click: Click, action: str, replies: Replies, logger: logging.Logger
) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    ec2 = feature.ec2()
    try:
        instance = read_instance(ec2, click.value)
    except InstanceGone:
        _refuse(feature, replies, click, action, f"`{click.value}` no longer exists; nothing was done.", "gone")
        replies.replace(*render_list(ec2, logger))
        return
    except (BotoCoreError, ClientError) as error:
        code = aws_clients.error_code(error)
        feature.record("failed", click.user_id, click.channel_id, action, click.value, result=code)
        replies.privately(aws_error_answer(code, action, f"`{click.value}`"))
        return
    except BaseException:
        feature.claims.release(click.key)  # nothing was done: Lambda's retry of this run may act
        raise
    label = instance_label(instance.instance_id, instance.name)
    if not instance.managed:
        _refuse(
            feature,
            replies,
            click,
            action,
            f"{label} is no longer tagged `ChatOps=enabled`; nothing was done.",
            "untagged",
        )
        replies.replace(*render_list(ec2, logger))
        return
    if instance.needs_approval:
        request_approval(feature, replies, click, action, instance)
        return
    execute(
        feature,
        ec2,
        replies,
        click.user_id,
        click.channel_id,
        action,
        instance,
        logger,
        acted=lambda: feature.claims.done(click.key),
    )
    replies.replace(*render_list(ec2, logger))


def _refuse(feature: InstancesFeature, replies: Replies, click: Click, action: str, text: str, result: str) -> None:
    feature.record("refused", click.user_id, click.channel_id, action, click.value, result=result)
    replies.privately(text)


def execute(
    feature: InstancesFeature,
    ec2: Any,
    replies: Replies,
    requester: str,
    channel: str,
    action: str,
    instance: Instance,
    logger: logging.Logger,
    approver: str | None = None,
    acted: Callable[[], None] | None = None,
) -> str:
    """Start or stop `instance`; audits the outcome and says it in the channel (or privately, if it failed).
    `acted` is called as soon as EC2 has answered, before anything else: from then on no retry acts again.
    Returns the line said."""
    from botocore.exceptions import BotoCoreError, ClientError

    label = instance_label(instance.instance_id, instance.name)
    try:
        before, after = change_state(ec2, instance.instance_id, action)
    except (BotoCoreError, ClientError) as error:
        if acted:
            acted()
        code = aws_clients.error_code(error)
        logger.warning("instance not changed", extra={"action": action, "code": code})
        feature.record("failed", requester, channel, action, instance.instance_id, approver=approver, result=code)
        answer = aws_error_answer(code, action, label)
        replies.privately(answer)
        return answer
    if acted:
        acted()
    count(Metric.INSTANCE_ACTIONS)
    result = f"{before} -> {after}"
    feature.record("executed", requester, channel, action, instance.instance_id, approver=approver, result=result)
    line = instance_changed(requester, action, instance.instance_id, instance.name, before, after, approver)
    replies.in_channel(line)
    return line


def request_approval(
    feature: InstancesFeature, replies: Replies, click: Click, action: str, instance: Instance
) -> None:
    request = approvals_module.new_request(
        requester=click.user_id,
        command=COMMAND,
        action=action,
        target=instance.instance_id,
        target_name=instance.name or "",
        channel=click.channel_id,
        origin_response_url=click.response_url,
    )
    try:
        feature.approvals.create(request)
    except ApprovalUnavailable as unavailable:
        feature.record("failed", click.user_id, click.channel_id, action, instance.instance_id, result=unavailable.code)
        replies.privately(f"Could not record the approval request (`{unavailable.code}`); nothing was done. Try again.")
        return
    feature.record(
        "requested", click.user_id, click.channel_id, action, instance.instance_id, result=f"approval {request.id}"
    )
    label = instance_label(instance.instance_id, instance.name)
    replies.in_channel(*approval_request(request.id, click.user_id, action, label, request.expires_at))


def delivery_of(request: BoltRequest) -> str | None:
    """The lazy run's delivery (bolt_app/aws_lambda/lazy_listeners.py): the same for Lambda's retries of one
    run, different for every other click. None off Lambda (Bolt's thread runner never retries)."""
    values = request.headers.get(DELIVERY_HEADER) or []
    return values[0] if values and values[0] else None


def handle_decision(
    feature: InstancesFeature,
    body: dict[str, Any],
    client: WebClient,
    logger: logging.Logger,
    delivery: str | None = None,
) -> None:
    click = parse_click(body)
    if click is None or click.action_id not in DECISIONS:
        logger.warning("approval click ignored: no user, channel, message or request")
        return
    status, replies = DECISIONS[click.action_id], Replies(click, client, logger)
    try:
        request = feature.approvals.get(click.value)
        if request is None:
            replies.privately("This approval request is unknown or long expired; nothing was done.")
            return
        label = instance_label(request.target, request.target_name or None)
        what = f"<@{request.requester}>'s request to {request.action} {label}"
        if request.requester == click.user_id:
            feature.record(
                "refused", click.user_id, click.channel_id, request.action, request.target, result="own request"
            )
            replies.privately(
                f"You asked for this, so you cannot {'approve' if status == 'approved' else 'deny'} it: "
                "a second person must decide. Nothing was changed."
            )
            return
        if request.status == approvals_module.PENDING and request.expired():
            expired = feature.approvals.decide(request.id, approvals_module.EXPIRED, click.user_id)
            if expired is not None and expired.won:
                _audit_request(feature, "expired", request, result="unanswered")
                replies.replace(*approval_closed(f"{what} expired after 15 minutes unanswered; nothing was done."))
            replies.privately(f"{what} has expired; nothing was done. Ask again with `{COMMAND}`.")
            return
        decision = feature.approvals.decide(request.id, status, click.user_id, delivery=delivery)
    except ApprovalUnavailable as unavailable:
        feature.record("failed", click.user_id, click.channel_id, "decide", click.value, result=unavailable.code)
        replies.privately(f"Could not record your decision (`{unavailable.code}`); nothing was done. Try again.")
        return
    if decision is None:
        replies.privately("This approval request is unknown or long expired; nothing was done.")
        return
    if not decision.won:
        current = decision.request
        if current.status == approvals_module.EXPIRED or current.expired():
            replies.privately(f"{what} has expired; nothing was done. Ask again with `{COMMAND}`.")
        else:
            decided = f"{current.status} by <@{current.decided_by}>"
            replies.privately(f"{what} was already {decided}; your click changed nothing.")
        return
    if status == approvals_module.DENIED:
        _audit_request(feature, "denied", request, click.user_id)
        replies.replace(*approval_closed(f"<@{click.user_id}> denied {what}; nothing was done."))
        return
    if decision.resumed:
        # This delivery approved it, and its earlier run ended before acting: Lambda's retry acts now.
        logger.warning("approved action not carried out by an earlier run; carrying it out now")
    else:
        _audit_request(feature, "approved", request, click.user_id)
    replies.replace(*approval_closed(f"<@{click.user_id}> approved {what}; acting on it…"))
    ec2 = feature.ec2()
    outcome = _execute_approved(feature, ec2, replies, request, click.user_id, logger)
    _mark_executed(feature, request, logger)  # also when it ended before EC2 (gone, untagged): it was handled
    replies.replace(*approval_closed(f"<@{click.user_id}> approved {what}. {outcome}"))
    if request.origin_response_url:
        # The list the request came from, refreshed (its response_url lasts 30 minutes, past the 15 of a request).
        origin = Click(click.user_id, request.channel, "", "", "", "", request.origin_response_url)
        Replies(origin, replies.client, logger).replace(*render_list(ec2, logger))


def _mark_executed(feature: InstancesFeature, request: ApprovalRequest, logger: logging.Logger) -> None:
    try:
        feature.approvals.mark_executed(request.id)
    except Exception as error:  # after the action: logged, never raised (a retry would act again)
        logger.error("approved action carried out but not recorded as such", extra={"error": type(error).__name__})


def _audit_request(
    feature: InstancesFeature,
    decision: str,
    request: ApprovalRequest,
    approver: str | None = None,
    result: str | None = None,
) -> None:
    feature.record(
        decision, request.requester, request.channel, request.action, request.target, approver=approver, result=result
    )


def _execute_approved(
    feature: InstancesFeature,
    ec2: Any,
    replies: Replies,
    request: ApprovalRequest,
    approver: str,
    logger: logging.Logger,
) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    label = instance_label(request.target, request.target_name or None)
    # The tag is checked again now: the approval was for a managed instance, and it must still be one.
    try:
        instance = read_instance(ec2, request.target)
    except InstanceGone:
        _audit_request(feature, "failed", request, approver, "gone")
        return f"{label} no longer exists; nothing was done."
    except (BotoCoreError, ClientError) as error:
        code = aws_clients.error_code(error)
        _audit_request(feature, "failed", request, approver, code)
        return aws_error_answer(code, request.action, label)
    if not instance.managed:
        _audit_request(feature, "refused", request, approver, "untagged")
        return f"{label} is no longer tagged `ChatOps=enabled`; nothing was done."
    return execute(
        feature,
        ec2,
        replies,
        request.requester,
        request.channel,
        request.action,
        instance,
        logger,
        approver,
        acted=lambda: _mark_executed(feature, request, logger),
    )
