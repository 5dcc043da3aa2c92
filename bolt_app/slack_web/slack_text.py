"""Slack's text escaping, both ways, and the one rule for which links the bot counts.

Slack treats `&`, `<` and `>` as control characters: a message's `text` arrives with them
HTML-escaped (`&amp;`, `&lt;`, `&gt;`) — inside `<url|label>` markup too — and whatever the bot
writes into mrkdwn must be escaped the same way, "only those three"
(https://api.slack.com/docs/message-formatting, "How to escape characters"). `rich_text`
blocks, by contrast, carry raw strings: a `link` element's `url` is not escaped.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# The one link rule, for `text` markup and rich-text blocks alike: web links (http, https).
# mailto:, tel:, slack:// and the like are addresses or app actions, not links people share.
LINK_SCHEMES = frozenset({"http", "https"})

# <target> or <target|label>: links, mentions, channels and special mentions.
_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
# Special mentions that notify more than the people named (Slack's "broadcast" mentions).
_BROADCASTS = frozenset({"!channel", "!here", "!everyone"})
# Between "@" and the name: the text reads the same, but nothing can turn it back into a mention
# (not even a later chat.postMessage with link_names=true).
WORD_JOINER = "\u2060"


def escape(text: str) -> str:
    """Text the bot did not write, made literal for mrkdwn: `&`, `<` and `>` as Slack escapes them."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Slack's escaped text back to the characters typed (`&amp;` last, so `&amp;lt;` stays `&lt;`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def is_counted_link(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in LINK_SCHEMES and bool(parts.netloc)


def text_links(text: str) -> list[str]:
    """The URLs of `<url>` / `<url|label>` markup in a message's `text`, unescaped as typed."""
    found = []
    for match in _MARKUP.finditer(text):
        target = match.group(1)
        if target[:1] in ("@", "#", "!"):
            continue
        url = unescape(target)
        if is_counted_link(url):
            found.append(url)
    return found


def link(url: str) -> str:
    """A raw URL as mrkdwn link markup: escaped, and a `|` encoded so it cannot start a fake label."""
    return f"<{escape(url).replace('|', '%7C')}>"


def without_broadcasts(text: str) -> str:
    """Slack-escaped text with every broadcast mention (`<!here>`, `<!channel>`, `<!everyone>`,
    `<!subteam^…>`) turned into the plain words Slack would show for it, unable to notify anyone."""

    def plain(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target in _BROADCASTS:
            name = target[1:]
        elif target.startswith("!subteam^"):
            name = (label or "").lstrip("@") or "subteam"
        else:
            return match.group(0)
        return "@" + WORD_JOINER + name

    return _MARKUP.sub(plain, text)


def cut(text: str, limit: int) -> str:
    """At most `limit` characters, never ending inside an `&amp;` entity or `<…>` markup."""
    if len(text) <= limit:
        return text
    return re.sub(r"(&[a-z]{0,3}|<[^<>]*)$", "", text[:limit])


# "@channel", "@here" and "@everyone" typed as plain words: Slack makes them broadcasts when a message is
# posted with link_names (or parse=full), so text the bot did not write never carries them intact.
_BROADCAST_WORDS = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)


def plain(text: str) -> str:
    """Text from outside (an SNS message, an alarm's reason) for mrkdwn: escaped, so that no markup in it
    can ping (`<!channel>`), mention or disguise a link (`<https://evil|docs>`), and no broadcast word can
    become one."""
    return _BROADCAST_WORDS.sub(lambda m: "@" + WORD_JOINER + m.group(1), escape(text))
