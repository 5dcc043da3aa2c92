"""Every Block Kit message the bot sends, built in one place with slack_sdk's Block Kit models."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    DividerBlock,
    ImageElement,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bolt_app import slack_text

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
