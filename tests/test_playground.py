"""The playground's endpoints, through the real Lambda handler and the fake Slack (no browser)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bolt_app.chatops import registry_of
from bolt_app.local.fake_slack import FakeSlack, serve_asgi_in_thread
from bolt_app.local.playground import Playground, create_asgi_app
from bolt_app.local.playground.masking import MASK, mask
from bolt_app.local.playground.session import DM_CHANNEL, GENERAL_CHANNEL, HUMAN_ID
from bolt_app.slack_web.blocks import RESTAURANTS
from tests.conftest import BOT_TOKEN, SIGNING_SECRET

ROOT = Path(__file__).resolve().parent.parent
# The session's token, as the page the playground serves would send it.
PAGE_TOKEN = "page-token-for-tests"


@pytest.fixture
def playground(lambda_module: Any, slack: FakeSlack) -> Iterator[Playground]:
    playground = Playground(slack, lambda_module.handler, SIGNING_SECRET, page_token=PAGE_TOKEN)
    playground.attach_self_invoker(lambda_module.bot.lambda_adapter.self_invoker)
    yield playground
    playground.close()


@pytest.fixture
def server(playground: Playground) -> Iterator[str]:
    # The session's fake Slack is already served on its own port: the page's API is enough here.
    with serve_asgi_in_thread(create_asgi_app(playground, mount_fake_slack=False)) as base_url:
        yield base_url


def _request(url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    sent = {"content-type": "application/json", "x-playground-token": PAGE_TOKEN, **(headers or {})}
    request = urllib.request.Request(url, data=data, headers={k: v for k, v in sent.items() if v is not None})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


def _send(server: str, text: str, channel: str = DM_CHANNEL, files: list | None = None) -> dict[str, Any]:
    status, answer = _request(server + "/playground/messages", {"channel": channel, "text": text, "files": files or []})
    assert status == 200, answer
    return answer


def _messages(server: str, channel: str) -> list[dict[str, Any]]:
    status, state = _request(server + "/playground/state")
    assert status == 200
    return next(c for c in state["channels"] if c["id"] == channel)["messages"]


def test_the_page_and_its_assets_are_served(server):
    status, html = _request(server + "/")
    assert status == 200 and '<script type="module" src="/static/app.js">' in html
    # The page carries the session's token, for its actions.
    assert f'<meta name="playground-token" content="{PAGE_TOKEN}">' in html
    for asset in ("app.js", "render.js", "playground.css"):
        assert _request(server + "/static/" + asset)[0] == 200
    with urllib.request.urlopen(server + "/favicon.ico", timeout=10) as favicon:
        assert favicon.status == 200 and favicon.headers["content-type"].startswith("image/svg+xml")


@pytest.mark.parametrize(
    ("headers", "refused_because"),
    [
        # DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1.
        ({"Host": "evil.example:3000"}, "loopback name"),
        # A cross-site fetch or form post from a page open in the browser.
        ({"Origin": "https://evil.example"}, "only the playground's own page"),
        ({"Origin": "null"}, "only the playground's own page"),
        # Another local process, or a page that cannot read the playground's: no token.
        ({"x-playground-token": None}, "x-playground-token"),
        ({"x-playground-token": "guessed"}, "x-playground-token"),
    ],
)
def test_a_request_the_playgrounds_own_page_could_not_have_sent_is_refused(
    server, playground, slack, headers, refused_because
):
    status, answer = _request(server + "/playground/messages", {"channel": DM_CHANNEL, "text": "hi"}, headers)

    assert status == 403 and refused_because in answer["error"]
    assert playground.log == [] and slack.calls == [] and slack.messages(DM_CHANNEL) == []


def test_the_page_from_its_own_origin_with_the_token_is_answered(server, slack):
    host = server.removeprefix("http://")
    for own in ({"Origin": server}, {"Host": host.replace("127.0.0.1", "localhost"), "Origin": None}):
        status, answer = _request(server + "/playground/messages", {"channel": DM_CHANNEL, "text": "hi"}, own)
        assert (status, answer["status"]) == (200, 200)
    # A foreign Host is refused on every path, reading included (DNS rebinding reads as well as writes).
    assert _request(server + "/playground/state", headers={"Host": "evil.example"})[0] == 403
    assert len(slack.calls_to("chat.postMessage")) == 2


def test_a_dm_goes_through_the_handler_and_the_echo_lands_in_the_conversation(server, slack):
    answer = _send(server, "hello *bot*")

    assert (answer["kind"], answer["status"]) == ("event message.im", 200)
    assert answer["request"]["body"]["event"]["channel_type"] == "im"
    person, bot = _messages(server, DM_CHANNEL)
    assert (person["user"], person["text"]) == (HUMAN_ID, "hello *bot*")
    assert (bot["bot_id"], bot["text"]) == (slack.bot_id, "Echo: hello *bot*")
    assert [c.args["text"] for c in slack.calls_to("chat.postMessage")] == ["Echo: hello *bot*"]


def test_attached_files_are_sent_as_metadata_and_acknowledged_by_name(server, slack):
    files = [{"name": "report.pdf", "type": "application/pdf", "size": 1234}, {"name": "chart.png", "size": 9}]
    answer = _send(server, "", files=files)

    event = answer["request"]["body"]["event"]
    assert event["subtype"] == "file_share"
    assert [(f["name"], f["mimetype"], f["size"]) for f in event["files"]] == [
        ("report.pdf", "application/pdf", 1234),
        ("chart.png", "application/octet-stream", 9),
    ]
    assert _messages(server, DM_CHANNEL)[-1]["text"] == "Received 2 files: report.pdf, chart.png"


def test_a_link_is_sent_as_slack_markup_and_a_rich_text_link_and_acknowledged(server):
    answer = _send(server, "see https://example.com/a?b=1&c=2 & <more>.")

    event = answer["request"]["body"]["event"]
    # Escaped as Slack escapes `text`, inside the link markup too; raw in the rich_text block.
    assert event["text"] == "see <https://example.com/a?b=1&amp;c=2> &amp; &lt;more&gt;."
    elements = event["blocks"][0]["elements"][0]["elements"]
    assert [e for e in elements if e["type"] == "link"] == [{"type": "link", "url": "https://example.com/a?b=1&c=2"}]
    assert [e["text"] for e in elements if e["type"] == "text"] == ["see ", " & <more>."]
    assert _messages(server, DM_CHANNEL)[-1]["text"].endswith("Received 1 link: <https://example.com/a?b=1&amp;c=2>")


def test_a_reply_in_a_thread_is_sent_as_one_and_answered_in_it(server, slack):
    _send(server, "start")
    parent = _messages(server, DM_CHANNEL)[0]
    status, answer = _request(
        server + "/playground/messages", {"channel": DM_CHANNEL, "text": "in *the* thread", "thread_ts": parent["ts"]}
    )

    assert status == 200, answer
    event = answer["request"]["body"]["event"]
    assert (event["thread_ts"], event["parent_user_id"]) == (parent["ts"], HUMAN_ID)
    reply, echo = _messages(server, DM_CHANNEL)[-2:]
    assert reply["thread_ts"] == echo["thread_ts"] == parent["ts"]
    assert echo["text"] == "Echo: in *the* thread"
    # The composer's formatting, as Slack sends it: marks in `text`, styles in the rich_text block.
    assert {"type": "text", "text": "the", "style": {"bold": True}} in event["blocks"][0]["elements"][0]["elements"]


def test_a_thread_reply_needs_a_message_to_reply_to(server):
    status, answer = _request(server + "/playground/messages", {"channel": DM_CHANNEL, "text": "x", "thread_ts": "1.2"})
    assert status == 400 and "no message 1.2" in answer["error"]


def test_slash_test_then_a_click_replaces_the_picker(server, slack):
    answer = _send(server, "/test", channel=GENERAL_CHANNEL)
    assert (answer["kind"], answer["status"]) == ("command /test", 200)
    assert answer["request"]["body"]["response_url"].startswith(slack.base_url + "/response/")

    invocation, picker = _messages(server, GENERAL_CHANNEL)
    assert invocation["text"] == "/test"  # in_channel answers show the command too
    assert not picker.get("ephemeral")
    buttons = {e["value"]: e["action_id"] for e in picker["blocks"][-1]["elements"]}
    assert set(buttons) == {r.choice for r in RESTAURANTS}

    status, click = _request(
        server + "/playground/actions",
        {"channel": GENERAL_CHANNEL, "ts": picker["ts"], "action_id": buttons["Ler Ros"]},
    )
    assert (status, click["status"]) == (200, 200)
    assert click["request"]["body"]["payload"]["type"] == "block_actions"
    [replaced] = _messages(server, GENERAL_CHANNEL)[1:]
    assert replaced["ts"] == picker["ts"]
    assert replaced["text"] == f"<@{HUMAN_ID}> picked *Ler Ros*"
    assert all(b["type"] != "actions" for b in replaced["blocks"])


def test_stack_status_answers_in_two_steps_and_the_lazy_run_is_its_own_log_entry(server, playground, monkeypatch):
    monkeypatch.delenv("STACK_NAME", raising=False)  # the playground is not on AWS
    ack = _send(server, "/stack-status", channel=GENERAL_CHANNEL)
    assert (ack["kind"], ack["status"]) == ("command /stack-status", 200)
    assert ack["response_body"]["text"] == "Checking where this bot is deployed…"

    playground.wait_for_invocations()

    # The lazy run's post replaced the ack in the channel: one bot message, the final answer.
    bot_messages = [m for m in _messages(server, GENERAL_CHANNEL) if m.get("bot_id")]
    assert len(bot_messages) == 1
    assert "not deployed on AWS" in bot_messages[0]["text"] and "sam deploy --guided" in bot_messages[0]["text"]
    log = _request(server + "/playground/state")[1]["log"]
    [lazy] = [e for e in log if e["type"] == "request" and e["kind"].startswith("lazy ")]
    assert lazy["kind"] == "lazy report_stack_status (async self-invocation)"
    assert lazy["status"] == 200 and lazy["ms"] > 0
    assert lazy["id"] > ack["id"]
    [post] = [e for e in log if e["type"] == "response_url"]
    assert post["payload"]["replace_original"] is True


def test_a_refusal_and_its_audit_record_show_in_the_inspector(fresh_container, slack):
    # The playground's user in no role (ChatOpsAdmins names someone else): /stack-status is refused, and
    # the local audit trail's record is an inspector entry of its own.
    module = fresh_container(CHATOPS_ADMINS="U0SOMEONE1")
    playground = Playground(slack, module.handler, SIGNING_SECRET, page_token=PAGE_TOKEN)
    playground.attach_audit_trail(registry_of(module.bot.lambda_adapter.app).audit)
    try:
        with serve_asgi_in_thread(create_asgi_app(playground, mount_fake_slack=False)) as server:
            answer = _send(server, "/stack-status", channel=GENERAL_CHANNEL)
            assert answer["response_body"] == "Sorry, you can't do that: `/stack-status` is for admins."
            log = _request(server + "/playground/state")[1]["log"]
    finally:
        playground.close()
    [audit] = [e for e in log if e["type"] == "audit"]
    assert audit["record"]["decision"] == "refused" and audit["record"]["command"] == "/stack-status"
    assert audit["id"] > answer["id"]  # its own entry, written while the request ran


def test_a_command_the_manifest_does_not_declare_never_reaches_the_bot(server, playground, slack):
    # As in Slack: a command works only once slack/manifest.json declares it. Not a name the README tells people
    # to add (its example command): following the README must not break this test (tests/test_docs.py checks).
    answer = _send(server, "/not-in-the-manifest now", channel=GENERAL_CHANNEL)

    assert answer == {"sent": False, "reason": "/not-in-the-manifest is not declared in slack/manifest.json"}
    [shown] = _messages(server, GENERAL_CHANNEL)
    assert (shown["user"], shown.get("ephemeral")) == ("USLACKBOT", True)
    assert shown["text"].startswith("`/not-in-the-manifest` is not a valid command.")
    assert [e for e in playground.log if e["type"] == "request"] == []
    assert slack.calls == []


def test_a_failing_handler_is_shown_as_a_failed_command_only_to_the_person(slack):
    def crashing_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    playground = Playground(slack, crashing_handler, SIGNING_SECRET)
    try:
        entry = playground.send(GENERAL_CHANNEL, "/test now")
    finally:
        playground.close()
    assert (entry["status"], entry["response_body"]) == (500, "handler raised RuntimeError: boom")
    [failure] = slack.messages(GENERAL_CHANNEL)
    assert failure["ephemeral"] is True and "/test now" in failure["text"] and "HTTP 500" in failure["text"]


def test_channel_messages_are_not_sent_to_a_bot_that_subscribes_to_dms_only(server, slack):
    assert _send(server, "hello channel", channel=GENERAL_CHANNEL)["sent"] is False
    assert [m["text"] for m in _messages(server, GENERAL_CHANNEL)] == ["hello channel"]
    assert slack.calls == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/playground/messages", {"channel": "C0NOWHERE1", "text": "x"}),
        ("/playground/messages", {"channel": DM_CHANNEL, "text": "  "}),
        ("/playground/messages", {"channel": DM_CHANNEL, "text": 5}),
        ("/playground/messages", {"channel": DM_CHANNEL, "text": "", "files": [{"size": 1}]}),
        ("/playground/messages", [1]),
        ("/playground/actions", {"channel": DM_CHANNEL, "ts": "1.2", "action_id": "x"}),
    ],
)
def test_bad_page_requests_get_400_with_a_reason(server, path, body):
    status, answer = _request(server + path, body)
    assert status == 400 and answer["error"]


def test_the_log_has_requests_and_web_api_calls_with_secrets_masked(server, playground):
    _send(server, "hello")
    _, state = _request(server + "/playground/state")

    request, api_call = state["log"]
    assert (request["type"], request["status"]) == ("request", 200)
    assert request["ms"] > 0
    assert request["request"]["headers"]["x-slack-signature"] == MASK
    assert request["request"]["body"]["token"] == MASK  # the legacy verification token
    assert (api_call["type"], api_call["method"], api_call["token"]) == ("api", "chat.postMessage", MASK)
    assert api_call["answer"]["ok"] is True
    text = json.dumps(state)
    assert BOT_TOKEN not in text and SIGNING_SECRET not in text
    assert re.search(r"v0=[0-9a-f]{64}", text) is None


def test_mask_hides_tokens_anywhere_and_known_secrets():
    masked = mask(
        {"Authorization": "Bearer xoxb-1-2-abc", "note": "use xapp-1-A-2-f00 or s3cret", "n": 1, "token": ""},
        secrets=["s3cret"],
    )
    assert masked == {"Authorization": MASK, "note": f"use xapp-{MASK} or {MASK}", "n": 1, "token": ""}


# -- the inspector's replay: replay protection and exactly-once, seen at work ---------------------


def _replay(server: str, entry_id: int, how: str) -> dict[str, Any]:
    status, answer = _request(server + "/playground/replay", {"id": entry_id, "how": how})
    assert status == 200, answer
    return answer


def test_a_dm_replayed_as_sent_or_as_slacks_retry_is_answered_once(server, slack):
    first = _send(server, "only once")
    assert set(first["replays"]) == {"as_sent", "retry"}

    as_sent = _replay(server, first["id"], "as_sent")
    retry = _replay(server, first["id"], "retry")

    # The same signature: an event is recognised by its event_id (Slack's own retry can fall in the same second).
    assert as_sent["request"]["headers"]["x-slack-request-timestamp"] == first["request"]["headers"][
        "x-slack-request-timestamp"
    ]
    assert (as_sent["kind"], as_sent["status"]) == (f"replay of #{first['id']} as sent: event message.im", 200)
    assert retry["request"]["headers"]["x-slack-retry-num"] == "1"
    assert retry["status"] == 200
    assert [c.args["text"] for c in slack.calls_to("chat.postMessage")] == ["Echo: only once"]


def test_a_command_replayed_as_sent_is_refused_as_a_replay(server, slack):
    first = _send(server, "/test", channel=GENERAL_CHANNEL)
    assert set(first["replays"]) == {"as_sent"}  # Slack never retries a command

    again = _replay(server, first["id"], "as_sent")

    assert again["status"] == 401
    assert _request(server + "/playground/replay", {"id": first["id"], "how": "retry"})[0] == 400


def test_a_second_click_on_a_picked_picker_tells_only_its_clicker_who_won(server, slack):
    _send(server, "/test", channel=GENERAL_CHANNEL)
    picker = next(m for m in _messages(server, GENERAL_CHANNEL) if m.get("blocks"))
    action_id = picker["blocks"][-1]["elements"][0]["action_id"]
    status, click = _request(
        server + "/playground/actions", {"channel": GENERAL_CHANNEL, "ts": picker["ts"], "action_id": action_id}
    )
    assert status == 200 and click["status"] == 200

    second = _replay(server, click["id"], "retry")
    as_sent = _replay(server, click["id"], "as_sent")

    assert second["status"] == 200 and second["kind"].startswith(f"second click (#{click['id']})")
    assert as_sent["status"] == 401  # the same signature again: a replay
    messages = _messages(server, GENERAL_CHANNEL)
    picked = [m for m in messages if m.get("ts") == picker["ts"]]
    assert len(picked) == 1 and "picked" in picked[0]["text"] and "already" not in picked[0]["text"]
    [told] = [m for m in messages if "already picked" in (m.get("text") or "")]
    assert told["ephemeral"] is True and told["ephemeral_to"] == HUMAN_ID


def test_a_slow_commands_work_delivered_again_does_nothing(server, playground, monkeypatch):
    monkeypatch.delenv("STACK_NAME", raising=False)
    _send(server, "/stack-status", channel=GENERAL_CHANNEL)
    playground.wait_for_invocations()
    log = _request(server + "/playground/state")[1]["log"]
    [lazy] = [e for e in log if e["type"] == "request" and e["kind"].startswith("lazy ")]

    again = _replay(server, lazy["id"], "as_sent")

    assert again["status"] == 200
    posts = [e for e in _request(server + "/playground/state")[1]["log"] if e["type"] == "response_url"]
    assert len(posts) == 1  # exactly once: the redelivery found its record


def test_the_renderer_draws_every_emoji_shortcode_the_bot_sends() -> None:
    # Slack draws :lock: as 🔒; a renderer that does not know a shortcode shows it as typed, which is not what
    # people see in Slack. Every shortcode in the bot's own messages must be in render.js's EMOJI table.
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "bolt_app"
    sources = [root / "slack_web" / "blocks.py", *(root / "listeners").glob("*.py")]
    sources += [*(root / "notifications").glob("*.py"), *(root / "chatops").glob("*.py")]
    shortcode = re.compile(r"(?<![\w:]):([a-z0-9_+-]+):(?![\w:])")
    sent = {name for source in sources for name in shortcode.findall(source.read_text())}
    table = (root / "local" / "playground" / "static" / "render.js").read_text()
    known = set(re.findall(r'(?:^|[\s{,])"?([a-z0-9_+-]+)"?:\s*"', table.split("};")[0], re.M))
    assert "lock" in sent  # /instances' marker, so this test can fail
    assert sorted(sent - known) == []
