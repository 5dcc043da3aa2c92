"""The playground in a real browser: the README walk-through, and the JS renderer of Slack messages."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bolt_app.slack_web.blocks import DINNER_PICKER_BLOCKS, RESTAURANTS, dinner_pick_confirmation
from tests.browser import launch_browser, offline
from tests.containers import local_bot

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def playground_url() -> Iterator[str]:
    """`python -m bolt_app` with no Slack credentials, as `make run` starts it on a fresh machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    with local_bot("--port", "0", env=env) as (_, first_line):
        match = re.search(r"http://127\.0\.0\.1:\d+", first_line)
        assert match, f"no URL in {first_line!r}"
        yield match.group(0)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_browser()


def _open(browser: Any, url: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    offline(page, url)
    page.goto(url)
    yield page
    context.close()


@pytest.fixture
def page(browser: Any, playground_url: str) -> Iterator[Any]:
    yield from _open(browser, playground_url)


@pytest.fixture(scope="module")
def renderer(browser: Any, playground_url: str) -> Iterator[Any]:
    """One page for the renderer's tests: they only call render.js, and leave the page as it was."""
    yield from _open(browser, playground_url)


def _send(page: Any, text: str) -> None:
    page.fill("#message-input", text)
    page.press("#message-input", "Enter")


def _bot_messages(page: Any) -> Any:
    return page.locator("#messages .sk-from-bot")


def test_walk_through_dm_file_link_test_and_click(page: Any) -> None:
    from playwright.sync_api import expect

    # 1. A DM is echoed.
    expect(page.locator("#conversation-title")).to_have_text("chatops-bot")
    remote_requests: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(page.url.rstrip("/")) else remote_requests.append(r.url))
    _send(page, "hello *bot*")
    expect(_bot_messages(page).last.locator(".sk-message-body")).to_have_text("Echo: hello bot")
    expect(_bot_messages(page).last.locator(".sk-message-body b")).to_have_text("bot")  # mrkdwn drawn
    # The person's own message too, as Slack draws it: the composer sent *bot* as a bold element.
    expect(page.locator("#messages .sk-from-person .sk-message-body").last).to_have_text("hello bot")
    expect(page.locator("#messages .sk-from-person .sk-message-body b").last).to_have_text("bot")

    # 2. An attached file is acknowledged by name (only its metadata is sent).
    page.set_input_files(
        "#file-input", files=[{"name": "report.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 test"}]
    )
    expect(page.locator("#attachments")).to_contain_text("report.pdf")
    page.click("#send")
    expect(_bot_messages(page).last).to_contain_text("Received 1 file: report.pdf")
    expect(page.locator("#messages .sk-from-person .sk-file-name").last).to_have_text("report.pdf")

    # 3. A pasted link is acknowledged.
    _send(page, "docs at https://example.com/docs")
    expect(_bot_messages(page).last).to_contain_text("Received 1 link: https://example.com/docs")
    expect(_bot_messages(page).last.locator("a.sk-link").first).to_have_attribute("href", "https://example.com/docs")

    # 4. /test in #general shows the picker: both restaurants, their buttons, images as alt text offline.
    page.click("[data-channel=C0GENERAL1]")
    expect(page.locator("#conversation-title")).to_have_text("# general")
    _send(page, "/test")
    picker = _bot_messages(page).last
    for restaurant in RESTAURANTS:
        expect(picker.locator(".sk-section b", has_text=restaurant.name)).to_be_visible()
        expect(picker.locator(".sk-button", has_text=restaurant.choice)).to_be_visible()
    # No remote image is loaded: a placeholder names the image's host and its alt text.
    expect(picker.locator(".sk-img-placeholder", has_text="alt text for image")).to_have_count(2)
    expect(picker.locator(".sk-img-placeholder", has_text="s3-media3.fl.yelpcdn.com")).to_have_count(1)
    expect(picker.locator("img")).to_have_count(0)
    expect(picker.locator(".sk-emoji")).to_have_count(8)
    page.screenshot(path=os.environ.get("PLAYGROUND_SCREENSHOT", str(ROOT / ".pytest_cache" / "playground.png")))
    picker_ts = picker.get_attribute("data-ts")

    # 5. A click replaces the picker, in place, with the confirmation; the buttons are gone.
    picker.locator(".sk-button", has_text="Farmhouse").click()
    replaced = page.locator(f'#messages .sk-message[data-ts="{picker_ts}"]')
    expect(replaced).to_contain_text("@dwight picked Farmhouse Thai Cuisine")
    expect(replaced.locator(".sk-mention")).to_have_text("@dwight")
    expect(replaced.locator(".sk-button")).to_have_count(0)
    expect(_bot_messages(page)).to_have_count(1)

    # The inspector shows every request (kind, status, time) and Web API call, secrets masked.
    log = page.locator("#log")
    expect(log.locator(".pg-log-request", has_text="command /test")).to_contain_text("200")
    expect(log.locator(".pg-log-request", has_text="block_actions")).to_contain_text("ms")
    expect(log.locator(".pg-log-api", has_text="chat.postMessage")).to_have_count(3)
    expect(log.locator(".pg-log-response_url", has_text="replace_original")).to_have_count(1)
    for details in log.locator("details").all():
        details.evaluate("d => d.open = true")
    inspector = log.inner_text()
    assert '"x-slack-signature": "••••••"' in inspector
    assert '"token": "••••••"' in inspector
    assert re.search(r"xoxb-[0-9a-z-]{8,}", inspector) is None, "a bot token leaked into the inspector"
    assert remote_requests == [], "the page reached beyond the playground"


def test_a_reply_in_a_thread_is_answered_in_that_thread(page: Any) -> None:
    from playwright.sync_api import expect

    _send(page, "start here")
    parent = page.locator("#messages .sk-from-person", has_text="start here").last
    expect(_bot_messages(page).last).to_contain_text("Echo: start here")
    parent_ts = parent.get_attribute("data-ts")
    parent.hover()
    parent.locator(".sk-reply").click()
    expect(page.locator("#reply-target")).to_contain_text("Replying in thread")
    _send(page, "and https://example.com/in-thread")

    thread = page.locator(f'#messages .sk-thread[data-thread-ts="{parent_ts}"]')
    expect(thread.locator(".sk-thread-header")).to_have_text("2 replies")
    expect(thread.locator(".sk-from-person .sk-message-body")).to_have_text("and https://example.com/in-thread")
    expect(thread.locator(".sk-from-bot")).to_contain_text("Received 1 link: https://example.com/in-thread")
    # Top level: the conversation so far, the thread's messages drawn only inside it.
    expect(page.locator("#messages > .sk-message", has_text="in-thread")).to_have_count(0)
    # As in Slack's thread pane, the composer stays in the thread until it is closed.
    page.click("#cancel-reply")
    expect(page.locator("#reply-target")).to_have_text("")


def test_remote_images_load_only_when_asked(page: Any) -> None:
    from playwright.sync_api import expect

    page.click("[data-channel=C0GENERAL1]")
    _send(page, "/test")
    picker = _bot_messages(page).last
    expect(picker.locator(".sk-img-placeholder")).to_have_count(2)
    page.check("#remote-images")
    # Asked for: real <img> elements (offline here, so they fall back to their alt text).
    expect(picker.locator(".sk-img-placeholder")).to_have_count(0)
    expect(page.locator("#messages").last.locator(".sk-img-alt", has_text="alt text for image")).to_have_count(2)
    page.uncheck("#remote-images")
    expect(_bot_messages(page).last.locator(".sk-img-placeholder")).to_have_count(2)


def _open_last_entry(page: Any, has_text: str) -> Any:
    entry = page.locator("#log .pg-log-request", has_text=has_text).last
    entry.locator("summary").click()
    return entry


def test_a_second_click_from_the_inspector_is_told_the_first_pick_stands(page: Any) -> None:
    """The README's picker row: a later click changes nothing and only its clicker hears who won."""
    from playwright.sync_api import expect

    page.click("[data-channel=C0GENERAL1]")
    _send(page, "/test")
    picker = _bot_messages(page).last
    picker_ts = picker.get_attribute("data-ts")
    picker.locator(".sk-button", has_text="Ler Ros").click()
    picked = page.locator(f'#messages .sk-message[data-ts="{picker_ts}"]')
    expect(picked).to_contain_text("@dwight picked Ler Ros")

    click = _open_last_entry(page, "block_actions")
    click.locator(".pg-replay", has_text="Click again").click()
    told = page.locator("#messages .sk-ephemeral", has_text="already picked").last
    expect(told).to_contain_text("@dwight already picked Ler Ros; the first pick stands.")
    expect(picked).to_contain_text("@dwight picked Ler Ros")  # unchanged
    expect(page.locator("#log .pg-log-request", has_text="second click").last).to_contain_text("200")

    # The same request again, signature and all: what a replay attack sends.
    _open_last_entry(page, "block_actions").locator(".pg-replay", has_text="Replay as sent").click()
    expect(page.locator("#log .pg-log-request", has_text="as sent:").last).to_contain_text("401")


def test_a_dm_replayed_as_slacks_retry_is_not_answered_twice(page: Any) -> None:
    from playwright.sync_api import expect

    _send(page, "say this once")
    expect(_bot_messages(page).last).to_contain_text("Echo: say this once")
    echoes = page.locator("#messages .sk-from-bot", has_text="Echo: say this once")
    _open_last_entry(page, "event message.im").locator(".pg-replay", has_text="Slack's retry").click()
    expect(page.locator("#log .pg-log-request", has_text="retry of #").last).to_contain_text("200")
    expect(echoes).to_have_count(1)


def test_a_slow_command_answers_in_two_visible_steps(page: Any) -> None:
    """The README: the ack at once, then, about a second later, the report replacing it."""
    from playwright.sync_api import expect

    page.click("[data-channel=C0GENERAL1]")
    _send(page, "/stack-status")
    ack = page.locator("#messages .sk-from-bot", has_text="Checking stack playground-stack").last
    expect(ack).to_be_visible()
    ack_ts = ack.get_attribute("data-ts")
    report = page.locator(f'#messages .sk-message[data-ts="{ack_ts}"]')
    expect(report).to_contain_text("playground-stack", timeout=15_000)
    expect(report).to_contain_text("CREATE_COMPLETE", timeout=15_000)
    expect(report).not_to_contain_text("Checking")
    lazy = page.locator("#log .pg-log-request", has_text="lazy report_stack_status").last
    expect(lazy).to_contain_text("200")


def test_emoji_are_drawn_in_colour_not_as_empty_boxes(renderer: Any) -> None:
    """Debian's Chromium has no emoji font of its own: without fonts-noto-color-emoji (.ci/run installs it)
    the picker's ⭐ and the composer's 📎 are empty boxes, drawn in the text's colour alone."""
    coloured = renderer.evaluate(
        """() => {
          const canvas = document.createElement("canvas");
          canvas.width = canvas.height = 64;
          const ctx = canvas.getContext("2d");
          ctx.fillStyle = "#000";
          ctx.font = `48px ${getComputedStyle(document.body).fontFamily}`;
          ctx.fillText("\u2b50\ud83d\udcce", 0, 50);
          const pixels = ctx.getImageData(0, 0, 64, 64).data;
          let count = 0;
          for (let i = 0; i < pixels.length; i += 4) {
            if (pixels[i] !== pixels[i + 1] || pixels[i + 1] !== pixels[i + 2]) count++;
          }
          return count;
        }"""
    )
    assert coloured > 50, "no colour emoji font: apt-get install -y fonts-noto-color-emoji"


@pytest.mark.parametrize("width", [1280, 1440])
def test_the_header_stays_on_one_line(browser: Any, playground_url: str, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        offline(page, playground_url)
        page.goto(playground_url)
        page.wait_for_function("document.title.startsWith('Slack playground — ')")
        title = page.locator("#conversation-title")
        # One line box per line of text: more than one means the name wrapped.
        lines = title.evaluate(
            "h => { const r = document.createRange(); r.selectNodeContents(h); return r.getClientRects().length; }"
        )
        assert lines == 1, f"the conversation title wraps at {width} px"
        header, title_height = page.locator(".pg-header").bounding_box(), title.bounding_box()["height"]
        assert header["height"] < 2.5 * title_height, f"the header takes more than one line at {width} px"
        assert page.title() == "Slack playground — chatops-bot"
    finally:
        context.close()


# -- the renderer, a pure module, called in the page ---------------------------------------------

USERS = {"U0HUMAN001": "dwight", "U0FAKEBOT1": "chatops-bot"}


def _render(page: Any, function: str, *args: Any) -> str:
    return page.evaluate(
        "async ([fn, args]) => (await import('/static/render.js'))[fn](...args)", [function, [*args, {"users": USERS}]]
    )


@pytest.mark.parametrize(
    ("mrkdwn", "expected"),
    [
        ("*bold* text", "<b>bold</b> text"),
        ("an _italic_ word", "an <i>italic</i> word"),
        ("~struck~", "<s>struck</s>"),
        ("run `make test`", 'run <code class="sk-code">make test</code>'),
        ("```a *b*```", '<pre class="sk-pre">a *b*</pre>'),
        (
            "<https://example.com|Example>",
            '<a class="sk-link" href="https://example.com" target="_blank" rel="noopener noreferrer">Example</a>',
        ),
        (
            "<https://example.com/a?b=1&amp;c=2>",
            '<a class="sk-link" href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">'
            "https://example.com/a?b=1&amp;c=2</a>",
        ),
        ("<@U0HUMAN001> picked", '<span class="sk-mention" data-user-id="U0HUMAN001">@dwight</span> picked'),
        ("<@U0NOBODY1>", '<span class="sk-mention" data-user-id="U0NOBODY1">@U0NOBODY1</span>'),
        (
            ":star::star:",
            '<span class="sk-emoji" title=":star:">⭐</span><span class="sk-emoji" title=":star:">⭐</span>',
        ),
        (":no_such_emoji:", ":no_such_emoji:"),
        ("snake_case_name and 2*3*4", "snake_case_name and 2*3*4"),
        ("line one\nline two", "line one<br>line two"),
        ("chili &amp; rice &lt;b&gt;", "chili &amp; rice &lt;b&gt;"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("<javascript:alert(1)|click>", "&lt;javascript:alert(1)|click&gt;"),
        # Bare URLs, as Slack links them in a bot's text: `&amp;` is `&`, trailing punctuation stays out.
        (
            "see https://example.com/a?b=1&amp;c=2.",
            'see <a class="sk-link" href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">'
            "https://example.com/a?b=1&amp;c=2</a>.",
        ),
        ("`https://example.com` in code", '<code class="sk-code">https://example.com</code> in code'),
        ("not a link: javascript:alert(1)", "not a link: javascript:alert(1)"),
    ],
)
def test_mrkdwn(renderer: Any, mrkdwn: str, expected: str) -> None:
    assert _render(renderer, "renderMrkdwn", mrkdwn) == expected


def test_remote_images_only_on_request(renderer: Any) -> None:
    opted_in = renderer.evaluate(
        "async () => (await import('/static/render.js')).renderImage('https://cdn.example/a.png', 'alt', 'c',"
        " {remoteImages: true})"
    )
    assert opted_in == '<img class="c" src="https://cdn.example/a.png" alt="alt" title="alt">'
    assert "<img" not in _render(renderer, "renderImage", "https://cdn.example/a.png", "alt", "c")
    assert "<img" not in _render(renderer, "renderImage", "javascript:alert(1)", "alt", "c")


def test_thread_replies_are_drawn_under_the_message_that_started_them(renderer: Any) -> None:
    messages = [
        {"ts": "1.000001", "user": "U0HUMAN001", "text": "parent"},
        {"ts": "1.000002", "user": "U0HUMAN001", "text": "top level"},
        {"ts": "1.000003", "thread_ts": "1.000001", "user": "U0FAKEBOT1", "bot_id": "B1", "text": "a reply"},
        {"ts": "1.000004", "thread_ts": "9.9", "user": "U0HUMAN001", "text": "orphan"},
    ]
    html = _render(renderer, "renderConversation", messages)
    order = [
        html.index(t)
        for t in ("parent", 'class="sk-thread" data-thread-ts="1.000001"', "a reply", "top level", "orphan")
    ]
    assert order == sorted(order)
    assert html.count('class="sk-thread"') == 1 and "1 reply</div>" in html


def _block_types(blocks: list[dict]) -> set[str]:
    return {b["type"] for b in blocks}


def test_every_block_type_the_bot_sends_is_drawn(renderer: Any) -> None:
    confirmation = dinner_pick_confirmation("U0HUMAN001", RESTAURANTS[0])[1]
    sent = DINNER_PICKER_BLOCKS + confirmation
    for block_type in _block_types(sent):
        html = _render(renderer, "renderBlocks", [b for b in sent if b["type"] == block_type])
        assert "sk-unsupported" not in html, block_type

    html = _render(renderer, "renderBlocks", DINNER_PICKER_BLOCKS)
    assert html.count('<hr class="sk-block sk-divider">') == 2
    assert html.count('aria-label="alt text for image"') == 2
    assert "<img" not in html and "src=" not in html
    for restaurant in RESTAURANTS:
        host = restaurant.image_url.split("/")[2]
        assert f'<span class="sk-img-host">🖼 {host}</span><span class="sk-img-text">alt text for image</span>' in html
        assert f"<b>{restaurant.name}</b>" in html
        assert f'data-action-id="{restaurant.action_id}"' in html
        assert f'data-value="{restaurant.choice}"' in html
    assert "<b>Michael Scott</b>" in html
    assert html.count("⭐") == 8
    assert 'data-block-id="dinner_picker"' in html


def test_context_image_and_unknown_blocks(renderer: Any) -> None:
    blocks = [
        {
            "type": "context",
            "elements": [
                {"type": "image", "image_url": "https://example.com/i.png", "alt_text": "tiny"},
                {"type": "mrkdwn", "text": "*ctx*"},
                {"type": "plain_text", "text": "plain *not bold* :star:", "emoji": True},
            ],
        },
        {
            "type": "image",
            "image_url": "https://example.com/big.png",
            "alt_text": "a chart",
            "title": {"type": "plain_text", "text": "Chart"},
        },
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "_f1_"}, {"type": "plain_text", "text": "f2"}]},
        {"type": "video", "title": {"type": "plain_text", "text": "v"}},
    ]
    html = _render(renderer, "renderBlocks", blocks)
    assert (
        '<span class="sk-img-placeholder sk-context-image" role="img" aria-label="tiny" title="https://example.com/i.png">'
        in html
    )
    assert "<img" not in html
    assert "<span><b>ctx</b></span>" in html
    assert '<span>plain *not bold* <span class="sk-emoji" title=":star:">⭐</span></span>' in html
    assert '<figcaption class="sk-image-title">Chart</figcaption>' in html
    assert '<span class="sk-img-host">🖼 example.com</span><span class="sk-img-text">a chart</span>' in html
    assert '<div class="sk-field"><i>f1</i></div><div class="sk-field">f2</div>' in html
    assert "[unsupported block: video]" in html


def test_image_that_cannot_load_shows_its_alt_text(page: Any) -> None:
    message = {
        "type": "message",
        "ts": "1.000001",
        "bot_id": "B1",
        "user": "U0FAKEBOT1",
        "text": "x",
        "blocks": [{"type": "image", "image_url": "https://unreachable.invalid/a.png", "alt_text": "the alt text"}],
    }
    page.evaluate(
        "async (m) => { const r = await import('/static/render.js');"
        " document.body.insertAdjacentHTML('beforeend',"
        " `<div id=probe>${r.renderMessage(m, {remoteImages: true})}</div>`); }",
        message,
    )
    from playwright.sync_api import expect

    # A container of its own: the page redraws #messages whenever the conversation changes.
    expect(page.locator("#probe .sk-img-alt", has_text="the alt text")).to_be_visible()
    expect(page.locator("#probe img")).to_have_count(0)


# -- a slow command: the ack, then the lazy listener's answer --------------------------------------


@pytest.fixture
def lazy_playground_url(lambda_module: Any, slack: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A playground in this process, so the test can slow Slack's response_url down: the ack is then
    on screen long enough to be seen before the lazy listener's answer replaces it."""
    from bolt_app.local.fake_slack import Fault, serve_asgi_in_thread
    from bolt_app.local.playground import Playground, create_asgi_app
    from tests.conftest import SIGNING_SECRET

    monkeypatch.delenv("STACK_NAME", raising=False)
    playground = Playground(slack, lambda_module.handler, SIGNING_SECRET)
    playground.attach_self_invoker(lambda_module.bot.lambda_adapter.self_invoker)
    # Under the response_url client's 1.5 s timeout (bolt_app/slack_web/slack_retries.py).
    slack.inject("response_url", Fault(delay=1.0, then_succeed=True))
    try:
        with serve_asgi_in_thread(create_asgi_app(playground, mount_fake_slack=False)) as url:
            yield url
    finally:
        playground.close()


def test_a_slow_command_answers_in_two_steps(browser: Any, lazy_playground_url: str) -> None:
    from playwright.sync_api import expect

    for page in _open(browser, lazy_playground_url):
        page.click("[data-channel=C0GENERAL1]")
        _send(page, "/stack-status")

        # 1. The ack, at once, in the channel.
        answer = _bot_messages(page).last
        expect(answer.locator(".sk-message-body")).to_have_text("Checking where this bot is deployed…")
        ts = answer.get_attribute("data-ts")
        log = page.locator("#log")
        expect(log.locator(".pg-log-request", has_text="command /stack-status")).to_contain_text("200")

        # 2. The lazy run (its own invocation, with its timing) replaces it in place.
        replaced = page.locator(f'#messages .sk-message[data-ts="{ts}"]')
        expect(replaced).to_contain_text("This bot is not deployed on AWS")
        expect(replaced).to_contain_text("sam deploy --guided")
        expect(_bot_messages(page)).to_have_count(1)
        lazy = log.locator(".pg-log-request", has_text="lazy report_stack_status (async self-invocation)")
        expect(lazy).to_contain_text("200")
        expect(lazy.locator(".pg-ms")).to_contain_text(re.compile(r"\d ms"))
        expect(log.locator(".pg-log-response_url", has_text="replace_original")).to_have_count(1)
