"""Every Block Kit message the bot sends, built in one place with slack_sdk's Block Kit models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    ImageElement,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bolt_app.slack_web import slack_text

DINNER_PICKER_BLOCK_ID = "dinner_picker"
DINNER_PICK_ACTION_PREFIX = "dinner_pick_"
# Slack rejects a message text longer than this (chat.postMessage `msg_too_long`).
MAX_MESSAGE_CHARS = 40_000


@dataclass(frozen=True)
class Restaurant:
    name: str
    # The button's label and value, as in the original sample.
    choice: str
    description: str
    image_url: str

    @property
    def action_id(self) -> str:
        return DINNER_PICK_ACTION_PREFIX + self.choice.lower().replace(" ", "_")


# Texts, images and values are the original BotBuilder sample's, verbatim.
RESTAURANTS: tuple[Restaurant, ...] = (
    Restaurant(
        name="Farmhouse Thai Cuisine",
        choice="Farmhouse",
        description=(
            "*Farmhouse Thai Cuisine*\n:star::star::star::star: 1528 reviews\n They do have some vegan options, "
            "like the roti and curry, plus they have a ton of salad stuff and noodles can be ordered without "
            "meat!! They have something for everyone here"
        ),
        image_url="https://s3-media3.fl.yelpcdn.com/bphoto/c7ed05m9lC2EmA3Aruue7A/o.jpg",
    ),
    Restaurant(
        name="Ler Ros",
        choice="Ler Ros",
        description=(
            "*Ler Ros*\n:star::star::star::star: 2082 reviews\n I would really recommend the  Yum Koh Moo Yang - "
            "Spicy lime dressing and roasted quick marinated pork shoulder, basil leaves, chili & rice powder."
        ),
        image_url="https://s3-media2.fl.yelpcdn.com/bphoto/DawwNigKJ2ckPeDeDM7jAg/o.jpg",
    ),
)

DINNER_PICKER_TEXT = "Where should we take the Paper Company investors to dinner tonight? Please select a restaurant."


def restaurant_for_choice(choice: str) -> Restaurant | None:
    return next((r for r in RESTAURANTS if r.choice == choice), None)


def _dinner_picker_blocks() -> list[dict]:
    blocks = [
        SectionBlock(
            text=MarkdownTextObject(
                text="Hello, Assistant to the Regional Manager Dwight! *Michael Scott* wants to know where you'd "
                "like to take the Paper Company investors to dinner tonight.\n\n *Please select a restaurant:*"
            )
        ),
        DividerBlock(),
        *(
            SectionBlock(
                block_id=f"restaurant_{r.action_id.removeprefix(DINNER_PICK_ACTION_PREFIX)}",
                text=MarkdownTextObject(text=r.description),
                accessory=ImageElement(image_url=r.image_url, alt_text="alt text for image"),
            )
            for r in RESTAURANTS
        ),
        DividerBlock(),
        ActionsBlock(
            block_id=DINNER_PICKER_BLOCK_ID,
            elements=[
                ButtonElement(
                    text=PlainTextObject(text=r.choice, emoji=True),
                    value=r.choice,
                    action_id=r.action_id,
                )
                for r in RESTAURANTS
            ],
        ),
    ]
    return [block.to_dict() for block in blocks]


# Static: built once per container, not per /test.
DINNER_PICKER_BLOCKS: list[dict] = _dinner_picker_blocks()


def dinner_pick_confirmation(user_id: str, restaurant: Restaurant) -> tuple[str, list[dict]]:
    """The message that replaces the picker: who picked what, no buttons left."""
    text = f"<@{user_id}> picked *{restaurant.name}*"
    return text, [SectionBlock(block_id="dinner_picked", text=MarkdownTextObject(text=text)).to_dict()]


def dinner_already_picked(user_id: str, restaurant_name: str) -> str:
    """What a later click is told (ephemerally): the first pick stands."""
    return f"<@{user_id}> already picked *{slack_text.escape(restaurant_name)}*; the first pick stands."


def dinner_picker_expired() -> str:
    """What a click on a picker Slack no longer lets the bot change is told (ephemerally)."""
    return "This dinner picker has expired, so your pick was not recorded. Type `/test` for a new one."


def reply_to_message(text: str, file_names: list[str], urls: list[str]) -> str | None:
    """One reply for one incoming message: the echo, then the files, then the links.

    `text` is the message's `text` as Slack sent it (already escaped, with its markup): echoed as
    is, so it reads as typed, minus any live broadcast mention. File names and URLs are raw, so
    they are escaped: a file named `<!channel>.pdf` is a name, not a ping.
    """
    lines: list[str] = []
    if file_names:
        names = ", ".join(slack_text.escape(name) for name in file_names)
        lines.append(f"Received {_count(len(file_names), 'file')}: {names}")
    if urls:
        lines.append(f"Received {_count(len(urls), 'link')}: {', '.join(slack_text.link(url) for url in urls)}")
    tail = "".join("\n" + line for line in lines)
    if text:
        echo = "Echo: " + slack_text.without_broadcasts(text)
        if len(echo) + len(tail) > MAX_MESSAGE_CHARS:
            marker = " … (cut to fit Slack's 40,000-character limit)"
            echo = slack_text.cut(echo, max(0, MAX_MESSAGE_CHARS - len(tail) - len(marker))) + marker
        lines.insert(0, echo)
    if not lines:
        return None
    reply = "\n".join(lines)
    return slack_text.cut(reply, MAX_MESSAGE_CHARS)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# -- /stack-status ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionMetrics:
    """The function's last 24 hours in CloudWatch (AWS/Lambda); None where CloudWatch has no data."""

    function_name: str
    invocations: float | None = None
    errors: float | None = None
    throttles: float | None = None
    p99_duration_ms: float | None = None


@dataclass(frozen=True)
class StackReport:
    stack_name: str
    status: str
    last_updated: datetime | None
    # The stack's SlackRequestUrl output: the one output a channel is shown (no ARNs, queue URLs, account ID).
    request_url: str | None = None
    metrics: FunctionMetrics | None = None
    # Set when the stack was read but the metrics could not be (an AWS error code).
    metrics_error: str | None = None


DEPLOY_HINT = "Deploy it with `sam build && sam deploy --guided` (README, Deploy)."


def stack_status_checking(stack_name: str | None) -> str:
    """The slash command's immediate answer, replaced by the report when the lazy work is done."""
    if stack_name is None:
        return "Checking where this bot is deployed…"
    return f"Checking stack `{slack_text.escape(stack_name)}`…"


def stack_status_card(report: StackReport) -> tuple[str, list[dict]]:
    name = slack_text.escape(report.stack_name)
    updated = report.last_updated.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if report.last_updated else "never"
    text = f"Stack `{name}`: {slack_text.escape(report.status)}, last updated {updated}"
    blocks: list = [
        HeaderBlock(text=PlainTextObject(text=f"Stack {report.stack_name}"[:150])),
        SectionBlock(
            block_id="stack_status",
            fields=[
                MarkdownTextObject(text=f"*Status*\n`{slack_text.escape(report.status)}`"),
                MarkdownTextObject(text=f"*Last updated*\n{updated}"),
            ],
        ),
    ]
    if report.request_url:
        line = f"*Request URL*: {slack_text.escape(report.request_url)}"
        blocks.append(SectionBlock(block_id="stack_request_url", text=MarkdownTextObject(text=line[:3000])))
    if report.metrics is not None:
        m = report.metrics
        blocks.append(
            SectionBlock(
                block_id="function_metrics",
                fields=[
                    MarkdownTextObject(text=f"*Invocations*\n{_number(m.invocations)}"),
                    MarkdownTextObject(text=f"*Errors*\n{_number(m.errors)}"),
                    MarkdownTextObject(text=f"*Throttles*\n{_number(m.throttles)}"),
                    MarkdownTextObject(text=f"*p99 duration*\n{_number(m.p99_duration_ms, ' ms')}"),
                ],
            )
        )
        source = f"Function `{slack_text.escape(m.function_name)}`, last 24 hours (CloudWatch)"
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=source)]))
    elif report.metrics_error:
        note = f"Function metrics unavailable: `{slack_text.escape(report.metrics_error)}`"
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=note)]))
    return text, [block.to_dict() for block in blocks]


def stack_not_deployed() -> tuple[str, list[dict]]:
    text = f"This bot is not deployed on AWS (no `STACK_NAME`), so there is no stack to report on. {DEPLOY_HINT}"
    return text, [SectionBlock(block_id="stack_not_deployed", text=MarkdownTextObject(text=text)).to_dict()]


def stack_not_found(stack_name: str) -> tuple[str, list[dict]]:
    text = f"Stack `{slack_text.escape(stack_name)}` not found."
    return text, [SectionBlock(block_id="stack_not_found", text=MarkdownTextObject(text=text)).to_dict()]


def stack_status_error(stack_name: str, error_code: str) -> tuple[str, list[dict]]:
    text = f"Could not read stack `{slack_text.escape(stack_name)}`: AWS answered `{slack_text.escape(error_code)}`."
    return text, [SectionBlock(block_id="stack_status_error", text=MarkdownTextObject(text=text)).to_dict()]


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "no data"
    return f"{value:,.0f}{unit}" if unit == "" or value >= 100 else f"{value:,.1f}{unit}"


# -- alarms, deploys and the digest in the alerts channel (bolt_app/notifications/) -------------------

ALARM_ACKNOWLEDGE_ACTION = "alarm_acknowledge"
ALARM_STACK_STATUS_ACTION = "alarm_stack_status"
ALARM_STATE_BLOCK_ID = "alarm_state"
ALARM_ACTIONS_BLOCK_ID = "alarm_actions"
# Block Kit has no colours for blocks: each state has its emoji.
ALARM_STATE_EMOJI = {"ALARM": ":red_circle:", "OK": ":large_green_circle:", "INSUFFICIENT_DATA": ":white_circle:"}
# Block Kit's limit for a message (https://docs.slack.dev/reference/block-kit/blocks): more is `invalid_blocks`.
MAX_BLOCKS = 50
# A section's text may be 3000 characters at most; a field 2000.
MAX_SECTION_CHARS = 3000
MAX_FIELD_CHARS = 2000


@dataclass(frozen=True)
class AlarmView:
    """What an alarm card shows: the alarm's latest state change, and who acknowledged it."""

    alarm_name: str
    alarm_arn: str
    state: str
    reason: str
    changed_at: datetime
    region: str
    console_url: str | None = None
    description: str = ""
    metric: str = ""
    threshold: str = ""
    acknowledged_by: str | None = None


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def alarm_state_line(view: AlarmView) -> str:
    emoji = ALARM_STATE_EMOJI.get(view.state, ":grey_question:")
    name, state = slack_text.plain(view.alarm_name), slack_text.plain(view.state)
    return f"{emoji} *{name}* is *{state}* since {_when(view.changed_at)}"


def alarm_card(view: AlarmView, thread_ts: str | None = None) -> tuple[str, list[dict]]:
    """The first message of an alarm's thread, redrawn (chat.update) whenever a newer state arrives."""
    line = alarm_state_line(view)
    fields = [
        MarkdownTextObject(text=slack_text.cut(f"*Reason*\n{slack_text.plain(view.reason or '—')}", MAX_FIELD_CHARS))
    ]
    if view.metric:
        fields.append(
            MarkdownTextObject(text=slack_text.cut(f"*Metric*\n{slack_text.plain(view.metric)}", MAX_FIELD_CHARS))
        )
    if view.threshold:
        fields.append(MarkdownTextObject(text=f"*Threshold*\n{slack_text.plain(view.threshold)}"))
    fields.append(MarkdownTextObject(text=f"*Region*\n{slack_text.plain(view.region or '—')}"))
    blocks: list = [
        SectionBlock(
            block_id=ALARM_STATE_BLOCK_ID, text=MarkdownTextObject(text=slack_text.cut(line, MAX_SECTION_CHARS))
        ),
        SectionBlock(block_id="alarm_details", fields=fields),
    ]
    context = []
    if view.description:
        context.append(slack_text.cut(slack_text.plain(view.description), 1000))
    if view.console_url:
        context.append(f"<{slack_text.escape(view.console_url).replace('|', '%7C')}|Open in the CloudWatch console>")
    if view.acknowledged_by:
        context.append(f":eyes: Acknowledged by <@{slack_text.escape(view.acknowledged_by)}>")
    if context:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=c) for c in context]))
    buttons = [
        ButtonElement(
            text=PlainTextObject(text="Stack status"), action_id=ALARM_STACK_STATUS_ACTION, value="stack-status"
        )
    ]
    if not view.acknowledged_by:
        buttons.insert(
            0,
            ButtonElement(
                text=PlainTextObject(text="Acknowledge"),
                action_id=ALARM_ACKNOWLEDGE_ACTION,
                # The alarm the card is about (an ARN: well under a button value's 2,000 characters).
                value=view.alarm_arn[:2000],
                style="primary",
            ),
        )
    blocks.append(ActionsBlock(block_id=ALARM_ACTIONS_BLOCK_ID, elements=buttons))
    text = (
        f"{ALARM_STATE_EMOJI.get(view.state, '')} {slack_text.plain(view.alarm_name)}: {slack_text.plain(view.state)}"
    )
    if view.acknowledged_by:
        text += f" (acknowledged by <@{slack_text.escape(view.acknowledged_by)}>)"
    return text.strip(), [block.to_dict() for block in blocks]


def alarm_thread_reply(view: AlarmView, *, late: bool) -> str:
    """A later state change, in the alarm's thread. `late`: it happened before the state the card shows."""
    emoji = ALARM_STATE_EMOJI.get(view.state, ":grey_question:")
    text = (
        f"{emoji} *{slack_text.plain(view.state)}* at {_when(view.changed_at)}: {slack_text.plain(view.reason or '—')}"
    )
    if late:
        text += "\n_Arrived late: this change is older than the state shown above, which stands._"
    return slack_text.cut(text, MAX_MESSAGE_CHARS)


def alarm_already_acknowledged(user_id: str) -> str:
    return f"<@{slack_text.escape(user_id)}> already acknowledged this alarm."


def alarm_acknowledgement_gone() -> str:
    return "This alarm card is no longer the alarm's current thread; nothing was acknowledged."


def plain_notification(subject: str, message: str) -> tuple[str, list[dict]]:
    """Anything else published to the alarm topic, as it is, escaped: it can never ping or disguise a link."""
    body = slack_text.plain(message) or "_(empty message)_"
    head = f":envelope: *{slack_text.plain(subject)}*" if subject else ":envelope: *Notification*"
    blocks = [
        SectionBlock(
            block_id="notification_subject", text=MarkdownTextObject(text=slack_text.cut(head, MAX_SECTION_CHARS))
        )
    ]
    # Long messages are split over sections (50 blocks at most) rather than cut at the first 3000 characters.
    rest = body
    while rest and len(blocks) < MAX_BLOCKS:
        chunk = slack_text.cut(rest, MAX_SECTION_CHARS) or rest[:MAX_SECTION_CHARS]
        blocks.append(SectionBlock(text=MarkdownTextObject(text=chunk)))
        rest = rest[len(chunk) :]
    text = slack_text.cut(f"{head}\n{body}", MAX_MESSAGE_CHARS)
    return text, [block.to_dict() for block in blocks]



def deploy_started(stack_name: str, status: str, started: datetime) -> tuple[str, list[dict]]:
    text = f":rocket: Deploying *{slack_text.plain(stack_name)}*… (`{slack_text.plain(status)}` since {_when(started)})"
    return text, [SectionBlock(block_id="deploy_state", text=MarkdownTextObject(text=text)).to_dict()]


def deploy_finished(
    stack_name: str, status: str, reason: str, took_seconds: float | None, failed: bool
) -> tuple[str, list[dict]]:
    """How a deploy ended: the thread's reply, and the first message's new state line."""
    emoji = ":x:" if failed else ":white_check_mark:"
    text = f"{emoji} *{slack_text.plain(stack_name)}*: `{slack_text.plain(status)}`"
    if took_seconds is not None:
        text += f" in {duration(took_seconds)}"
    if failed and reason:
        text += f"\n{slack_text.plain(reason)}"
    text = slack_text.cut(text, MAX_SECTION_CHARS)
    return text, [SectionBlock(block_id="deploy_state", text=MarkdownTextObject(text=text)).to_dict()]


def deploy_progress(stack_name: str, status: str, reason: str) -> str:
    text = f":hourglass_flowing_sand: *{slack_text.plain(stack_name)}*: `{slack_text.plain(status)}`"
    return slack_text.cut(text + (f"\n{slack_text.plain(reason)}" if reason else ""), MAX_MESSAGE_CHARS)


def duration(seconds: float) -> str:
    """1 min 42 s, 12 s, 1 h 3 min."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


# -- /instances and the two-person rule ----------------------------------------------------------

INSTANCE_START_ACTION = "instances_start"
INSTANCE_STOP_ACTION = "instances_stop"
APPROVAL_APPROVE_ACTION = "instances_approve"
APPROVAL_DENY_ACTION = "instances_deny"
# The list's heading, its footer and the "and N more" line leave this many blocks for instances.
MAX_LISTED_INSTANCES = MAX_BLOCKS - 3
# A confirm dialog's limits: title 100, text 300, buttons 30 characters.
_NAME_IN_DIALOG = 80


@dataclass(frozen=True)
class InstanceRow:
    instance_id: str
    name: str | None
    instance_type: str
    state: str
    needs_approval: bool = False


def instance_label(instance_id: str, name: str | None) -> str:
    """`*web-1* (i-0abc…)`, or the bare ID for an instance without a Name tag (mrkdwn, escaped)."""
    if name:
        return f"*{slack_text.escape(slack_text.cut(name, _NAME_IN_DIALOG))}* ({instance_id})"
    return f"`{instance_id}`"


def instances_looking_up() -> str:
    return "Looking up instances…"


def _instance_button(row: InstanceRow) -> ButtonElement | None:
    if row.state == "running":
        verb, action_id, style = "Stop", INSTANCE_STOP_ACTION, "danger"
    elif row.state == "stopped":
        verb, action_id, style = "Start", INSTANCE_START_ACTION, "primary"
    else:
        return None  # pending, stopping, shutting-down: nothing to do until it settles
    question = f"{verb} {instance_label(row.instance_id, row.name)}?"
    if row.needs_approval:
        question += " It needs a second person's approval first."
    return ButtonElement(
        text=PlainTextObject(text=verb),
        # One action_id per instance ("instances_stop:i-0abc…"): each button of the message is its own.
        action_id=f"{action_id}:{row.instance_id}",
        value=row.instance_id,
        style=style,
        confirm=ConfirmObject(
            title=PlainTextObject(text=f"{verb} instance?"),
            text=MarkdownTextObject(text=question[:300]),
            confirm=PlainTextObject(text=verb),
            deny=PlainTextObject(text="Cancel"),
            style=style,
        ),
    )


def instances_list(rows: list[InstanceRow], region: str, render_id: str) -> tuple[str, list[dict]]:
    """The instances tagged ChatOps=enabled, each with Start or Stop; the first MAX_LISTED_INSTANCES of them.

    Each row's block_id carries `render_id`: a click is known by its rendered button, so that a double
    click or a replay of it acts once, while the next rendering (after any action) can act again."""
    region_text = slack_text.escape(region)
    if not rows:
        text = f"No instances tagged `ChatOps=enabled` in {region_text}."
        return text, [SectionBlock(block_id="instances_none", text=MarkdownTextObject(text=text)).to_dict()]
    shown, hidden = rows[:MAX_LISTED_INSTANCES], len(rows) - MAX_LISTED_INSTANCES
    text = f"{_count(len(rows), 'instance')} tagged ChatOps=enabled in {region_text}"
    blocks: list = [SectionBlock(block_id="instances_heading", text=MarkdownTextObject(text=f"*{text}*"))]
    for row in shown:
        line = f"{instance_label(row.instance_id, row.name)}\n`{slack_text.escape(row.instance_type)}` · {row.state}"
        if row.needs_approval:
            line += " · :lock: needs a second person"
        blocks.append(
            SectionBlock(
                block_id=f"instance:{render_id}:{row.instance_id}",
                text=MarkdownTextObject(text=line),
                accessory=_instance_button(row),
            )
        )
    if hidden > 0:
        more = f"… and {hidden} more, not shown (Slack shows at most {MAX_BLOCKS} blocks in a message)."
        blocks.append(ContextBlock(block_id="instances_more", elements=[MarkdownTextObject(text=more)]))
    updated = datetime.now(UTC).strftime("%H:%M:%S UTC")
    footer = f"Updated {updated}. Only instances tagged `ChatOps=enabled` are listed or acted on."
    blocks.append(ContextBlock(block_id="instances_footer", elements=[MarkdownTextObject(text=footer)]))
    return text, [block.to_dict() for block in blocks]


def instances_error(error_code: str) -> tuple[str, list[dict]]:
    text = f"Could not list instances: AWS answered `{slack_text.escape(error_code)}`."
    return text, [SectionBlock(block_id="instances_error", text=MarkdownTextObject(text=text)).to_dict()]


_PAST = {"start": "started", "stop": "stopped"}


def instance_changed(
    user_id: str, action: str, instance_id: str, name: str | None, before: str, after: str, approver: str | None = None
) -> str:
    """The line in the channel: who did what (`<@ana> stopped *web-1* (i-0abc…): running → stopping`)."""
    approved = f", approved by <@{approver}>" if approver else ""
    return f"<@{user_id}> {_PAST[action]} {instance_label(instance_id, name)}{approved}: {before} → {after}"


def approval_request(
    request_id: str, requester: str, action: str, label: str, expires_at: float
) -> tuple[str, list[dict]]:
    until = datetime.fromtimestamp(expires_at, UTC).strftime("%H:%M UTC")
    text = (
        f"<@{requester}> asks to {action} {label}. It needs a second person: someone who may approve, "
        f"not <@{requester}>. Expires at {until} (15 minutes)."
    )
    blocks = [
        SectionBlock(block_id="approval_request", text=MarkdownTextObject(text=text)),
        ActionsBlock(
            block_id=f"approval:{request_id}",
            elements=[
                ButtonElement(
                    text=PlainTextObject(text="Approve"),
                    action_id=APPROVAL_APPROVE_ACTION,
                    value=request_id,
                    style="primary",
                ),
                ButtonElement(
                    text=PlainTextObject(text="Deny"), action_id=APPROVAL_DENY_ACTION, value=request_id, style="danger"
                ),
            ],
        ),
    ]
    return text, [block.to_dict() for block in blocks]


def approval_closed(text: str) -> tuple[str, list[dict]]:
    """The approval request once decided or expired: what happened, no buttons left."""
    return text, [SectionBlock(block_id="approval_closed", text=MarkdownTextObject(text=text)).to_dict()]


# -- /help and /audit ---------------------------------------------------------------------------


def help_message(commands: list[tuple[str, str, str]]) -> tuple[str, list[dict]]:
    """`commands`: (name, usage hint, description) of each command the asker may run, in order."""
    if not commands:
        text = "There is no command you may run here."
        return text, [SectionBlock(block_id="help", text=MarkdownTextObject(text=text)).to_dict()]
    lines = []
    for name, usage_hint, description in commands:
        usage = f" {slack_text.escape(usage_hint)}" if usage_hint and usage_hint != "(no arguments)" else ""
        lines.append(f"• `{slack_text.escape(name)}{usage}`: {slack_text.escape(description)}")
    text = "Commands you may run here:\n" + "\n".join(lines)
    return text, [SectionBlock(block_id="help", text=MarkdownTextObject(text=text[:3000])).to_dict()]


# One section per record: Block Kit allows 50 blocks a message, and /audit shows at most 20 records.
AUDIT_FIELDS_SHOWN = ("command", "action", "target", "decision", "approver", "result")


def audit_report(records: list[dict], person: str | None, limit: int) -> tuple[str, list[dict]]:
    """The newest records first, one line each: time, who, where, what, the decision and its outcome."""
    whose = f" of <@{person}>" if person else ""
    if not records:
        text = f"No audit records{whose} yet."
        return text, [SectionBlock(block_id="audit_empty", text=MarkdownTextObject(text=text)).to_dict()]
    text = f"The last {len(records)} audit records{whose}, newest first" + (
        f" (at most {limit})." if len(records) >= limit else "."
    )
    blocks: list = [SectionBlock(block_id="audit_title", text=MarkdownTextObject(text=text))]
    for index, record in enumerate(records[:limit]):
        when = slack_text.escape(str(record.get("time") or "?"))
        user = record.get("user")
        who = f"<@{user}>" if isinstance(user, str) and user.isalnum() else "someone"
        channel = record.get("channel")
        where = f" in <#{channel}>" if isinstance(channel, str) and channel.isalnum() else ""
        decision = slack_text.escape(str(record.get("decision") or "?"))
        what = " ".join(
            slack_text.escape(str(record[key]))
            for key in ("command", "action", "target")
            if isinstance(record.get(key), str) and record[key] and not (key == "action" and record[key] == "run")
        )
        approver = record.get("approver")
        line = f"`{when}` {who}{where}: *{decision}* `{what or '?'}`"
        if isinstance(approver, str) and approver.isalnum():
            line += f", approver <@{approver}>"
        result = record.get("result")
        if isinstance(result, str) and result:
            line += f"\n{slack_text.escape(result)}"
        blocks.append(SectionBlock(block_id=f"audit_{index}", text=MarkdownTextObject(text=line[:3000])))
    return text, [block.to_dict() for block in blocks]


def audit_read_failed(error_code: str) -> tuple[str, list[dict]]:
    text = f"Could not read the audit trail: AWS answered `{slack_text.escape(error_code)}`."
    return text, [SectionBlock(block_id="audit_error", text=MarkdownTextObject(text=text)).to_dict()]
