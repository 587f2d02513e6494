"""Headless Chromium (Debian's /usr/bin/chromium, never a downloaded browser) driven by
Playwright, started so that it can reach nothing but 127.0.0.1, with a fresh profile; every
request a page makes is recorded, so a test can assert that each went to the hub."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, ConsoleMessage, Page

CHROMIUM = os.environ.get("HUB_TEST_CHROMIUM", "/usr/bin/chromium")
ISOLATED = [
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--no-proxy-server",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--no-sandbox",
    "--disable-gpu",
]


@dataclass
class Browser:
    """A browser context and what its pages did: ``requests`` lists the URL of every request they
    made, ``problems`` every console error and uncaught page error."""

    context: BrowserContext
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def new_page(self) -> Page:
        return self.context.new_page()

    def clear_cookies(self) -> None:
        self.context.clear_cookies()


@contextmanager
def chromium(profile: Path, viewport: tuple[int, int] = (1280, 800)) -> Iterator[Browser]:
    """A browser over a fresh user-data-dir ``profile``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=ISOLATED,
            viewport={"width": viewport[0], "height": viewport[1]},
            locale="vi-VN",
            timezone_id="Asia/Ho_Chi_Minh",
        )
        browser = Browser(context)
        context.on("request", lambda r: browser.requests.append(r.url))

        # an answer the test expects (401, 403) is not a problem; a CSP refusal is
        def console(m: ConsoleMessage) -> None:
            if m.type == "error" and not m.text.startswith("Failed to load resource: the server responded"):
                browser.problems.append(m.text)

        def watch(page: Page) -> None:
            page.on("console", console)
            page.on("pageerror", lambda e: browser.problems.append(str(e)))

        context.on("page", watch)
        for page in context.pages:
            watch(page)
        context.set_default_timeout(10_000)
        try:
            yield browser
        finally:
            context.close()
