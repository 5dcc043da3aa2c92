"""The playground's user switcher in a real browser: `/instances` on the stand-in fleet as an admin, a guest, an
operator and an approver — refusal, the confirm dialog, a second person's approval, and the audit records."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import launch_browser, offline
from tests.containers import local_bot

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def playground_url() -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHATOPS_", "AWS_"))}
    with local_bot("--port", "0", env=env) as (_, first_line):
        match = re.search(r"http://127\.0\.0\.1:\d+", first_line)
        assert match, f"no URL in {first_line!r}"
        yield match.group(0)


@pytest.fixture
def page(playground_url: str) -> Iterator[Any]:
    from playwright.sync_api import expect

    # A loaded runner: each step (a lazy self-invocation included) gets the same time as an action.
    expect.set_options(timeout=TIMEOUT_MS)
    for browser in launch_browser():
        context = browser.new_context(viewport={"width": 1500, "height": 950})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        offline(page, playground_url)
        page.goto(playground_url)
        yield page
        context.close()


def _send(page: Any, text: str) -> None:
    page.fill("#message-input", text)
    page.press("#message-input", "Enter")


def _act_as(page: Any, name: str) -> None:
    from playwright.sync_api import expect

    option = page.locator("#user-switcher option", has_text=f"{name} —")
    user_id = option.get_attribute("value")
    page.select_option("#user-switcher", label=option.inner_text())
    # Switched at the playground, not only in the menu: what the next click is sent as.
    expect(page.locator("#people")).to_have_attribute("data-me", user_id)


def _row(page: Any, instance_name: str) -> Any:
    return page.locator("#messages .sk-section", has_text=instance_name).last


def test_refusal_confirmation_approval_and_audit_by_person(page: Any) -> None:
    from playwright.sync_api import expect

    page.click("[data-channel=C0GENERAL1]")
    expect(page.locator("#user-switcher option:checked")).to_contain_text("dwight — admin")
    _send(page, "/instances")
    listing = page.locator("#messages .sk-from-bot", has_text="instances tagged ChatOps=enabled").last
    for name in ("web-1", "db-1", "batch-1"):
        expect(listing.locator(".sk-section", has_text=name)).to_be_visible()
    expect(listing).not_to_contain_text("payroll")  # untagged: never listed

    # A guest's click asks the confirm dialog, then is refused (only the guest sees why); nothing changes.
    _act_as(page, "guest")
    _row(page, "web-1").locator(".sk-button", has_text="Stop").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".sk-confirm-text")).to_contain_text("Stop web-1 (i-0a1b2c3d4e5f60001)?")
    dialog.locator("button", has_text="Stop").click()
    refusal = page.locator("#messages .sk-ephemeral", has_text="is for operators and admins")
    expect(refusal).to_be_visible()
    expect(_row(page, "web-1")).to_contain_text("running")

    # Cancel in the dialog sends nothing.
    _act_as(page, "ana")
    expect(refusal).to_have_count(0)  # the guest's ephemeral answer is the guest's alone
    requests_before = page.locator("#log .pg-log-request").count()
    _row(page, "db-1").locator(".sk-button", has_text="Stop").click()
    dialog.locator("button", has_text="Cancel").click()
    expect(dialog).to_be_hidden()
    assert page.locator("#log .pg-log-request").count() == requests_before

    # db-1 needs a second person: ana's confirmed click asks for approval instead of stopping it.
    _row(page, "db-1").locator(".sk-button", has_text="Stop").click()
    expect(dialog.locator(".sk-confirm-text")).to_contain_text("second person")
    dialog.locator("button", has_text="Stop").click()
    request = page.locator("#messages .sk-from-bot", has_text="asks to stop").last
    expect(request).to_contain_text("@ana asks to stop db-1")
    # ana, an operator, may not approve (the policy's `approve`).
    request.locator(".sk-button", has_text="Approve").click()
    expect(page.locator("#messages .sk-ephemeral", has_text="is for approvers and admins")).to_be_visible()

    # bob, an approver, approves: db-1 is stopped, and the channel is told who did what.
    _act_as(page, "bob")
    request.locator(".sk-button", has_text="Approve").click()
    expect(page.locator("#messages .sk-from-bot", has_text="@bob approved @ana's request")).to_be_visible()
    line = page.locator("#messages .sk-from-bot", has_text=re.compile("^.*@ana stopped db-1.*$")).last
    expect(line).to_contain_text("@ana stopped db-1 (i-0a1b2c3d4e5f60002), approved by @bob: running → stopping")
    expect(page.locator("#messages .sk-button", has_text="Approve")).to_have_count(0)

    # The audit panel has every decision, newest first.
    audit = page.locator("#audit-panel .pg-audit-record")
    expect(audit.first).to_contain_text("executed")
    decisions = [r.get_attribute("data-decision") for r in audit.all()]
    assert decisions[:4] == ["executed", "approved", "refused", "requested"], decisions
    assert decisions.count("refused") == 2, decisions  # the guest's stop, ana's approval
    _act_as(page, "dwight")
