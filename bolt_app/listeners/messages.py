"""Direct messages (`message.im`): echo the text, acknowledge files and links, in one reply."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bolt_app.foundation.observability import Metric, count
from bolt_app.slack_web import slack_text
from bolt_app.slack_web.blocks import reply_to_message

# Plain user messages, and those carrying files. Every other subtype (edits, deletions,
# joins, bot messages, ...) is acknowledged with 200 and left alone.
REPLIED_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})


def register(app: App) -> None:
    app.event("message")(handle_message)


def handle_message(event: dict[str, Any], client: WebClient, logger: logging.Logger) -> None:
    if not should_reply(event):
        logger.debug("message ignored", extra={"subtype": event.get("subtype")})
        return
    files, urls = file_names(event), message_urls(event)
    reply = reply_to_message(text=_text(event), file_names=files, urls=urls)
    if reply is None:
        return
    thread_ts = event.get("thread_ts")
    client.chat_postMessage(
        channel=event["channel"],
        text=reply,
        # Same thread if the message came in one; otherwise the conversation itself.
        thread_ts=thread_ts if isinstance(thread_ts, str) else None,
        # The reply lists the links already; previews of each would only add noise.
        unfurl_links=False,
        unfurl_media=False,
        # Never turn a plain "@here" or "@team" in the echo into a mention.
        link_names=False,
    )
    count(Metric.REPLIES_SENT)
    count(Metric.FILES_ACKNOWLEDGED, len(files))
    count(Metric.LINKS_ACKNOWLEDGED, len(urls))


def _text(event: dict[str, Any]) -> str:
    text = event.get("text")
    return text if isinstance(text, str) else ""


def should_reply(event: dict[str, Any]) -> bool:
    """A person's message in a DM: never a bot's (ours included), never an edit, join or deletion."""
    return (
        event.get("channel_type") == "im"
        and event.get("subtype") in REPLIED_SUBTYPES
        and not event.get("bot_id")
        and not event.get("bot_profile")
        and isinstance(event.get("user"), str)
        and isinstance(event.get("channel"), str)
        and bool(event["user"] and event["channel"])
    )


def file_names(event: dict[str, Any]) -> list[str]:
    files = event.get("files")
    if not isinstance(files, list):
        return []
    return [str(f.get("name") or f.get("title") or f.get("id") or "unnamed file") for f in files if isinstance(f, dict)]


def message_urls(event: dict[str, Any]) -> list[str]:
    """Every web link in the message, each once, in order, as typed: from `text` markup (where Slack
    escapes `&` as `&amp;`) and `rich_text` link elements (raw URLs), under one rule (slack_text)."""
    found = slack_text.text_links(_text(event))
    found.extend(url for url in _rich_text_links(event.get("blocks")) if slack_text.is_counted_link(url))
    return list(dict.fromkeys(found))


def _rich_text_links(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _rich_text_links(item)
    elif isinstance(node, dict):
        if node.get("type") == "link" and isinstance(node.get("url"), str):
            yield node["url"]
        yield from _rich_text_links(node.get("elements"))
