"""Headless Chromium for the browser tests: Debian's chromium driven by Playwright's Python API.

Playwright's own browser download needs the internet; Debian's package does not. Missing
pieces skip the tests on a workstation but fail them in CI (CI=true), so CI never passes
without having run them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    candidates = [os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", shutil.which("chromium")]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def launch_browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -r requirements-dev.txt)")
    executable = chromium_path()
    if executable is None:
        unavailable("chromium is not installed (apt-get install -y chromium fonts-noto-color-emoji)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def offline(page: Any, base_url: str) -> None:
    """Only the playground is reachable, as on a machine without internet: remote images must fail."""
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base_url) else route.abort())
