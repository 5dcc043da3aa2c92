"""The fake Slack Web API and response URLs: answers, Slack's error shapes, the conversation store."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bolt_app.local.fake_slack import FakeSlack
from tests.conftest import BOT_TOKEN


def _post(url: str, body: bytes | str, content_type: str, token: str | None = BOT_TOKEN) -> tuple[int, Any]:
    headers = {"content-type": content_type}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read().decode()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def _call(slack: FakeSlack, method: str, args: dict[str, Any], token: str | None = BOT_TOKEN) -> tuple[int, Any]:
    return _post(slack.api_url + method, json.dumps(args), "application/json; charset=utf-8", token)


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=slack.api_url)


# -- Slack's error answers: HTTP 200 with ok false, never a 500 -----------------------------------


@pytest.mark.parametrize(
    ("method", "args", "token", "error"),
    [
        ("chat.nope", {"channel": "C1", "text": "x"}, BOT_TOKEN, "unknown_method"),
        ("chat.postMessage", {"channel": "C1", "text": "x"}, None, "not_authed"),
        ("chat.postMessage", {"channel": "C1", "text": "x"}, "xoxb-wrong", "invalid_auth"),
        ("chat.postMessage", {"text": "x"}, BOT_TOKEN, "channel_not_found"),
        ("chat.postMessage", {"channel": {"id": "C1"}, "text": "x"}, BOT_TOKEN, "channel_not_found"),
        ("chat.postMessage", {"channel": "C1"}, BOT_TOKEN, "no_text"),
        ("chat.postMessage", {"channel": "C1", "text": 42}, BOT_TOKEN, "invalid_arguments"),
        ("chat.postMessage", {"channel": "C1", "text": "x" * 40_001}, BOT_TOKEN, "msg_too_long"),
        ("chat.postMessage", {"channel": "C1", "blocks": "not a list"}, BOT_TOKEN, "invalid_blocks"),
        ("chat.postMessage", {"channel": "C1", "blocks": [{"text": "no type"}]}, BOT_TOKEN, "invalid_blocks"),
        ("chat.postMessage", {"channel": "C1", "blocks": [{"type": "divider"}] * 51}, BOT_TOKEN, "invalid_blocks"),
        ("chat.update", {"channel": "C1", "text": "x"}, BOT_TOKEN, "message_not_found"),
        ("chat.update", {"channel": "C1", "ts": "1.000001", "text": "x"}, BOT_TOKEN, "message_not_found"),
        ("chat.update", {"ts": "1.000001", "text": "x"}, BOT_TOKEN, "channel_not_found"),
        ("chat.postEphemeral", {"channel": "C1", "text": "x"}, BOT_TOKEN, "user_not_in_channel"),
        ("chat.postEphemeral", {"user": "U1", "text": "x"}, BOT_TOKEN, "channel_not_found"),
    ],
)
def test_errors_have_slacks_shape(slack, method, args, token, error):
    assert _call(slack, method, args, token) == (200, {"ok": False, "error": error})
    assert slack.conversations.get("C1", []) == []


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        ("{not json", "application/json", "invalid_json"),
        ("[1, 2]", "application/json", "invalid_json"),
        (b"\xff\xfe", "application/json", "invalid_json"),
        ("channel=C1&text", "application/x-www-form-urlencoded", "invalid_form_data"),
        ("channel=C1&blocks=%5Bbroken", "application/x-www-form-urlencoded", "invalid_blocks"),
    ],
)
def test_malformed_bodies_get_slack_errors(slack, body, content_type, error):
    assert _post(slack.api_url + "chat.postMessage", body, content_type) == (200, {"ok": False, "error": error})


def test_every_call_is_recorded_with_its_answer(slack):
    _call(slack, "chat.nope", {"a": 1})
    [call] = slack.calls
    assert (call.method, call.args, call.token) == ("chat.nope", {"a": 1}, BOT_TOKEN)
    assert call.answer == {"ok": False, "error": "unknown_method"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["auth.test", "chat.postMessage", "chat.update", "chat.postEphemeral", "x.y"]),
    body=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
            max_leaves=12,
        ).map(json.dumps),
        st.dictionaries(
            st.sampled_from(["channel", "text", "ts", "user", "blocks", "thread_ts"]),
            st.one_of(st.text(max_size=10), st.integers(), st.lists(st.integers(), max_size=2), st.none()),
        ).map(json.dumps),
    ),
    content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain", ""]),
)
def test_no_malformed_call_gets_a_500(slack, method, body, content_type):
    status, answer = _post(slack.api_url + method, body, content_type)
    assert status == 200
    assert isinstance(answer, dict) and isinstance(answer["ok"], bool)
    assert answer["ok"] or isinstance(answer["error"], str)


# -- the conversation store --------------------------------------------------------------------


def test_posts_updates_and_ephemerals_build_the_conversation(slack, client):
    posted = client.chat_postMessage(channel="C0STORE001", text="first", blocks=[{"type": "divider"}])
    client.chat_postMessage(channel="C0STORE001", text="in a thread", thread_ts=posted["ts"])
    client.chat_update(channel="C0STORE001", ts=posted["ts"], text="edited")
    ephemeral = client.chat_postEphemeral(channel="C0STORE001", user="U0HUMAN001", text="psst")

    first, threaded, psst = slack.messages("C0STORE001")
    assert (first["ts"], first["text"], first["bot_id"]) == (posted["ts"], "edited", slack.bot_id)
    assert "blocks" not in first  # chat.update replaces the whole message: text only now
    assert threaded["thread_ts"] == posted["ts"]
    assert (psst["ts"], psst["ephemeral"], psst["ephemeral_to"]) == (ephemeral["message_ts"], True, "U0HUMAN001")
    with pytest.raises(SlackApiError) as error:
        client.chat_update(channel="C0STORE001", ts="9.999999", text="nope")
    assert error.value.response["error"] == "message_not_found"


def test_add_message_assigns_a_ts_and_reset_clears(slack):
    revision = slack.revision
    stored = slack.add_message("D0STORE001", {"user": "U0HUMAN001", "text": "hi"})
    assert stored["ts"] and stored["type"] == "message"
    assert slack.messages("D0STORE001") == [stored]
    assert slack.revision > revision
    slack.reset()
    assert slack.messages("D0STORE001") == []


# -- response URLs -----------------------------------------------------------------------------


def _original(slack: FakeSlack) -> tuple[str, str]:
    message = slack.add_message("C0RESP0001", {"user": slack.bot_user_id, "bot_id": slack.bot_id, "text": "picker"})
    url = slack.new_response_url(channel="C0RESP0001", message_ts=message["ts"], user="U0HUMAN001")
    return message["ts"], url


def _respond(url: str, payload: Any) -> tuple[int, Any]:
    return _post(url, json.dumps(payload), "application/json", token=None)


def test_response_url_replace_original_changes_the_message_in_place(slack):
    ts, url = _original(slack)
    assert _respond(url, {"replace_original": True, "text": "picked", "blocks": [{"type": "divider"}]}) == (200, "ok")
    [message] = slack.messages("C0RESP0001")
    assert (message["ts"], message["text"], message["blocks"]) == (ts, "picked", [{"type": "divider"}])
    assert slack.response_posts[-1].payload["replace_original"] is True


def test_response_url_delete_original_removes_it(slack):
    _, url = _original(slack)
    assert _respond(url, {"delete_original": True}) == (200, "ok")
    assert slack.messages("C0RESP0001") == []
    assert _respond(url, {"delete_original": True}) == (404, "message_not_found")


def test_response_url_in_channel_and_ephemeral_add_messages(slack):
    _, url = _original(slack)
    _respond(url, {"response_type": "in_channel", "text": "for everyone"})
    _respond(url, {"text": "just for you"})
    _, everyone, you = slack.messages("C0RESP0001")
    assert (everyone["text"], everyone.get("ephemeral")) == ("for everyone", None)
    assert (you["text"], you["ephemeral"], you["ephemeral_to"]) == ("just for you", True, "U0HUMAN001")


@pytest.mark.parametrize(
    ("payload", "status", "answer"),
    [
        ("{broken", 400, "invalid_payload"),
        ([1], 400, "invalid_payload"),
        ({"replace_original": True}, 400, "no_text"),
        ({"text": "x" * 40_001}, 400, "msg_too_long"),
    ],
)
def test_response_url_rejects_bad_payloads(slack, payload, status, answer):
    _, url = _original(slack)
    body = payload if isinstance(payload, str) else json.dumps(payload)
    assert _post(url, body, "application/json", token=None) == (status, answer)
    assert slack.response_posts == []


def test_unknown_response_url_is_expired(slack):
    assert _respond(slack.base_url + "/response/R99999999", {"text": "x"}) == (404, "expired_url")


def test_replace_without_an_original_message_is_not_found(slack):
    url = slack.new_response_url(channel="C0RESP0001", user="U0HUMAN001")  # a slash command's URL
    assert _respond(url, {"replace_original": True, "text": "x"}) == (404, "message_not_found")
