"""The core bot, end to end: signed API Gateway events into handler.handler, replies at the fake Slack."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from bolt_app.local import slack_requests as sr
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, body_json, dm_event, signed

# The /test message of the original BotBuilder sample, verbatim from issue #2.
ORIGINAL_SAMPLE_BLOCKS = json.loads((Path(__file__).parent / "data" / "original_sample_blocks.json").read_text())


def _without_ids(node):
    """The blocks minus the ids this project adds (block_id, action_id)."""
    if isinstance(node, list):
        return [_without_ids(n) for n in node]
    if isinstance(node, dict):
        return {k: _without_ids(v) for k, v in node.items() if k not in ("block_id", "action_id")}
    return node


def _posted(slack):
    return [c for c in slack.calls if c.method == "chat.postMessage"]


# -- 1. DM echo -----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["http_api", "rest_api", "function_url"])
def test_dm_is_echoed_in_the_same_conversation(invoke, slack, shape):
    response = invoke(dm_event(sr.dm_message("hello bot", channel="D0ECHO0001"), shape=shape))

    assert response["statusCode"] == 200
    [call] = _posted(slack)
    assert call.token == BOT_TOKEN
    assert call.args["channel"] == "D0ECHO0001"
    assert call.args["text"] == "Echo: hello bot"
    assert "thread_ts" not in call.args


def test_base64_encoded_body_is_decoded(invoke, slack):
    response = invoke(dm_event(sr.dm_message("encoded hello"), base64_encoded=True))

    assert response["statusCode"] == 200
    assert [c.args["text"] for c in _posted(slack)] == ["Echo: encoded hello"]


def test_dm_in_a_thread_is_answered_in_that_thread(invoke, slack):
    invoke(dm_event(sr.dm_message("in a thread", thread_ts="1700000000.000100")))

    [call] = _posted(slack)
    assert call.args["thread_ts"] == "1700000000.000100"
    assert call.args["text"] == "Echo: in a thread"


# -- 2. Files -------------------------------------------------------------------------------


def test_files_are_acknowledged_by_name_with_the_echo_in_one_reply(invoke, slack):
    files = [sr.file_metadata("report.pdf"), sr.file_metadata("chart.png")]
    invoke(dm_event(sr.dm_message("see attached", files=files)))

    [call] = _posted(slack)
    assert call.args["text"] == "Echo: see attached\nReceived 2 files: report.pdf, chart.png"


def test_a_file_without_text_gets_only_the_acknowledgement(invoke, slack):
    invoke(dm_event(sr.dm_message("", files=[sr.file_metadata("notes.txt")])))

    [call] = _posted(slack)
    assert call.args["text"] == "Received 1 file: notes.txt"


# -- 3. Links -------------------------------------------------------------------------------


def test_links_from_text_and_rich_text_are_listed_once_each(invoke, slack):
    text = "look <https://example.com> and <https://docs.example.org/a?b=1|the docs>"
    blocks = sr.rich_text_blocks(
        "look ", ("https://example.com", ""), " and ", ("https://docs.example.org/a?b=1", "the docs")
    )
    blocks[0]["elements"].append(
        {
            "type": "rich_text_list",
            "style": "bullet",
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "link", "url": "https://only-in-blocks.example"}]}
            ],
        }
    )
    invoke(dm_event(sr.dm_message(text, blocks=blocks)))

    [call] = _posted(slack)
    assert call.args["text"] == (
        f"Echo: {text}\n"
        "Received 3 links: <https://example.com>, <https://docs.example.org/a?b=1>, <https://only-in-blocks.example>"
    )


def test_one_link_is_singular(invoke, slack):
    invoke(dm_event(sr.dm_message("<https://example.com>")))

    [call] = _posted(slack)
    assert call.args["text"].endswith("\nReceived 1 link: <https://example.com>")


def test_mentions_and_channels_are_not_links(invoke, slack):
    invoke(dm_event(sr.dm_message("hi <@U0OTHER01> in <#C0GENERAL1|general> <!here>")))

    [call] = _posted(slack)
    assert "Received" not in call.args["text"]


def test_files_and_links_together(invoke, slack):
    invoke(dm_event(sr.dm_message("<https://example.com>", files=[sr.file_metadata("a.txt")])))

    [call] = _posted(slack)
    assert (
        call.args["text"]
        == "Echo: <https://example.com>\nReceived 1 file: a.txt\nReceived 1 link: <https://example.com>"
    )


# -- text as Slack sends it, and what the bot writes back -----------------------------------


def test_a_link_with_an_ampersand_is_one_link_as_typed(invoke, slack):
    typed = sr.typed_message("the report https://example.com/report?a=1&b=2 & more")
    # As Slack sends it: escaped in `text`, even inside the link markup; raw in the blocks.
    assert typed["text"] == "the report <https://example.com/report?a=1&amp;b=2> &amp; more"
    invoke(dm_event(sr.dm_message(**typed)))

    [call] = _posted(slack)
    assert call.args["text"] == (
        "Echo: the report <https://example.com/report?a=1&amp;b=2> &amp; more\n"
        "Received 1 link: <https://example.com/report?a=1&amp;b=2>"
    )


def test_file_names_and_urls_are_escaped_in_the_reply(invoke, slack):
    name = "<!channel> & <https://evil.example|report>.pdf"
    typed = sr.typed_message("see https://example.com/a?x=1&y=2")
    # A URL only Slack's blocks could carry: in markup `|` would start a label and `>` end it.
    typed["blocks"][0]["elements"][0]["elements"].append({"type": "link", "url": "https://example.com/p|q>r"})
    invoke(dm_event(sr.dm_message(**typed, files=[sr.file_metadata(name)])))

    [call] = _posted(slack)
    reply = call.args["text"]
    assert "\nReceived 1 file: &lt;!channel&gt; &amp; &lt;https://evil.example|report&gt;.pdf\n" in reply
    assert reply.endswith("Received 2 links: <https://example.com/a?x=1&amp;y=2>, <https://example.com/p%7Cq&gt;r>")
    # Outside the echo, the only markup in the reply is the links the bot wrote.
    tail = reply.split("\n", 1)[1]
    assert tail.count("<") == 2 and tail.count(">") == 2


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        ("<!channel> lunch?", "@\u2060channel lunch?"),
        ("<!here|@here> now", "@\u2060here now"),
        ("<!everyone>", "@\u2060everyone"),
        ("ping <!subteam^S0TEAM0001|@oncall>", "ping @\u2060oncall"),
        ("ping <!subteam^S0TEAM0001>", "ping @\u2060subteam"),
        ("hi <@U0OTHER01> <!date^1392734382^{date}|Feb 18>", "hi <@U0OTHER01> <!date^1392734382^{date}|Feb 18>"),
    ],
)
def test_the_echo_never_carries_a_broadcast_mention(invoke, slack, sent, echoed):
    invoke(dm_event(sr.dm_message(sent)))

    [call] = _posted(slack)
    assert call.args["text"] == f"Echo: {echoed}"
    assert call.args["link_names"] in (False, 0, "0", "false")
    for broadcast in ("<!channel", "<!here", "<!everyone", "<!subteam"):
        assert broadcast not in call.args["text"]


@pytest.mark.parametrize(
    "typed",
    ["write to dwight@example.com", "call <tel:+15551234567|the office>", "open <slack://open?team=T1|the app>"],
)
def test_only_web_links_count_from_text_and_blocks_alike(invoke, slack, typed):
    message = sr.typed_message(typed) if "<" not in typed else {"text": typed}
    if "<" in typed:
        target, label = typed[typed.index("<") + 1 : -1].split("|")
        message["blocks"] = sr.rich_text_blocks(typed[: typed.index("<")], (target, label))
    invoke(dm_event(sr.dm_message(**message)))

    [call] = _posted(slack)
    assert "Received" not in call.args["text"]
    assert any(e.get("type") == "link" for e in message["blocks"][0]["elements"][0]["elements"])


# -- 4. /test -------------------------------------------------------------------------------


def _slash_test(slack, **kwargs):
    return signed(sr.form_body(sr.slash_command("/test", response_url=slack.new_response_url(), **kwargs)))


def test_slash_test_answers_in_channel_with_the_original_dinner_picker(invoke, slack):
    response = invoke(_slash_test(slack))

    assert response["statusCode"] == 200
    message = body_json(response)
    assert message["response_type"] == "in_channel"
    assert message["text"]  # plain-text fallback for notifications
    assert _without_ids(message["blocks"]) == ORIGINAL_SAMPLE_BLOCKS
    actions = message["blocks"][-1]
    assert actions["block_id"]
    assert len({b["action_id"] for b in actions["elements"]}) == 2
    assert slack.calls == []  # answered in the HTTP response itself, no Web API call


@pytest.mark.parametrize("shape", ["rest_api", "function_url"])
def test_slash_test_in_other_event_shapes(invoke, slack, shape):
    response = invoke(
        signed(sr.form_body(sr.slash_command("/test", response_url=slack.new_response_url())), shape=shape)
    )

    assert response["statusCode"] == 200
    assert _without_ids(body_json(response)["blocks"]) == ORIGINAL_SAMPLE_BLOCKS


# -- 5. Dinner pick -------------------------------------------------------------------------


@pytest.mark.parametrize(("button", "restaurant"), [("Farmhouse", "Farmhouse Thai Cuisine"), ("Ler Ros", "Ler Ros")])
def test_clicking_a_button_replaces_the_picker_with_the_pick(invoke, slack, button, restaurant):
    picker = body_json(invoke(_slash_test(slack)))["blocks"]
    action_id = next(e["action_id"] for e in picker[-1]["elements"] if e["value"] == button)
    response_url = slack.new_response_url(purpose="dinner picker")
    payload = sr.block_actions(
        sr.button_click(picker, action_id),
        response_url=response_url,
        # A picker of its own: the first pick on a picker wins (tests/test_first_pick.py).
        message={"type": "message", "ts": f"{time.time():.6f}", "text": "picker", "blocks": picker},
        user="U0DWIGHT01",
    )

    response = invoke(signed(sr.interactive_body(payload)))

    assert response["statusCode"] == 200
    assert response["body"] == ""  # plain ack
    [post] = slack.response_posts
    assert post.key == response_url.rsplit("/", 1)[1]
    assert post.payload["replace_original"] is True
    assert post.payload["text"] == f"<@U0DWIGHT01> picked *{restaurant}*"
    assert json.dumps(post.payload["blocks"]).count(restaurant) == 1
    assert all(block["type"] != "actions" for block in post.payload["blocks"])


# -- 6. No loops, no provoked retries ---------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(sr.dm_message("from a bot", bot_id="B0OTHERBOT"), id="bot_id"),
        pytest.param(sr.dm_message("our own echo", bot_id="B0FAKEBOT1", user="U0FAKEBOT1"), id="own-message"),
        pytest.param(sr.dm_message("legacy bot", subtype="bot_message", user=None), id="bot_message"),
        pytest.param(
            sr.dm_message(
                "",
                subtype="message_changed",
                user=None,
                message={"type": "message", "user": "U0HUMAN001", "text": "edited"},
            ),
            id="message_changed",
        ),
        pytest.param(sr.dm_message("", subtype="message_deleted", user=None, deleted_ts="1.2"), id="message_deleted"),
        pytest.param(sr.dm_message("<@U0HUMAN001> has joined", subtype="channel_join"), id="channel_join"),
        pytest.param(sr.dm_message("pinned", subtype="pinned_item"), id="pinned_item"),
        pytest.param({**sr.dm_message("hello in a channel"), "channel_type": "channel"}, id="not-a-dm"),
        pytest.param(
            {"type": "app_home_opened", "user": "U0HUMAN001", "channel": "D0DMCHAN01", "tab": "messages"},
            id="other-event-type",
        ),
    ],
)
def test_ignored_events_get_200_and_no_reply(invoke, slack, event):
    response = invoke(dm_event(event))

    assert response["statusCode"] == 200
    assert slack.calls == []
    assert slack.response_posts == []


def test_unknown_block_action_gets_200_and_nothing_done(invoke, slack):
    payload = sr.block_actions(
        {"type": "button", "action_id": "somebody_elses_button", "block_id": "x", "value": "1"},
        response_url=slack.new_response_url(),
    )
    response = invoke(signed(sr.interactive_body(payload)))

    assert response["statusCode"] == 200
    assert slack.calls == [] and slack.response_posts == []


# -- 7. url_verification and signatures -------------------------------------------------------


def test_url_verification_returns_the_challenge(invoke, slack):
    response = invoke(signed(sr.json_body(sr.url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"))))

    assert response["statusCode"] == 200
    assert body_json(response)["challenge"] == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"


def test_bad_signature_is_rejected_with_401(invoke, slack):
    event = sr.signed_event("not-the-signing-secret", sr.json_body(sr.event_callback(sr.dm_message("forged"))))

    response = invoke(event)

    assert response["statusCode"] == 401
    assert slack.calls == []


def test_stale_timestamp_is_rejected_with_401(invoke, slack):
    import time

    event = dm_event(sr.dm_message("replayed"), timestamp=int(time.time()) - 6 * 60)

    assert invoke(event)["statusCode"] == 401
    assert slack.calls == []


def test_unsigned_request_is_rejected_with_401(invoke, slack):
    body, content_type = sr.json_body(sr.event_callback(sr.dm_message("unsigned")))
    event = sr.http_api_event(body, {"content-type": content_type})

    assert invoke(event)["statusCode"] == 401
    assert slack.calls == []


def test_body_tampered_after_signing_is_rejected(invoke, slack):
    event = dm_event(sr.dm_message("original"))
    event["body"] = event["body"].replace("original", "tampered")

    assert invoke(event)["statusCode"] == 401
    assert slack.calls == []


def test_slash_command_form_is_what_slack_sends(slack):
    # Guards the test helper itself: the body must parse back to the fields Slack sends.
    body, content_type = sr.form_body(sr.slash_command("/test", "a b&c", response_url="http://x/r"))
    fields = {k: v[0] for k, v in parse_qs(body).items()}
    assert content_type == "application/x-www-form-urlencoded"
    assert fields["command"] == "/test" and fields["text"] == "a b&c"
    assert sr.slack_signature(SIGNING_SECRET, "1", body).startswith("v0=")
