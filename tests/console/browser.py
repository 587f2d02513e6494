"""Headless Chromium (Debian's /usr/bin/chromium, never a downloaded browser) driven by
Playwright, started so that it can reach nothing but 127.0.0.1, with a fresh profile; every
request a page makes is recorded, so a test can assert that each went to the hub."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


@contextmanager
def chromium(profile: Path, viewport: tuple[int, int] = (1280, 800)) -> Iterator[Any]:
    """A browser context with a fresh user-data-dir ``profile``. ``context.requests`` lists the
    URL of every request its pages made; ``context.problems`` every console error."""
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
        context.requests = []
        context.problems = []
        context.on("request", lambda r: context.requests.append(r.url))

        def console(m: Any) -> None:  # an answer the test expects (401, 403) is not a problem; a CSP refusal is
            if m.type == "error" and not m.text.startswith("Failed to load resource: the server responded"):
                context.problems.append(m.text)

        def watch(page: Any) -> None:
            page.on("console", console)
            page.on("pageerror", lambda e: context.problems.append(str(e)))

        context.on("page", watch)
        for page in context.pages:
            watch(page)
        context.set_default_timeout(10_000)
        try:
            yield context
        finally:
            context.close()
