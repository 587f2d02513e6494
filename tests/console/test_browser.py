"""The console in a real browser: headless Chromium against a real uvicorn on a loopback
port, SQLite, a seeded ledger. The browser can reach nothing but 127.0.0.1, and after each
test every request its pages made is checked to have gone to the hub.

Screenshots of the main pages go to ``HUB_CONSOLE_SCREENSHOTS`` when set (``make
screenshots`` sets it to docs/console/), else to the test's temporary folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from hub.api.app import create_app
from hub.bootstrap import Hub, bootstrap
from hub.console.operators import Operators
from hub.db.schema import messages, operator_actions
from hub.settings import Settings
from tests.console.browser import CHROMIUM, Browser, chromium
from tests.console.conftest import FAST_HASH, PASSWORD
from tests.console.seed import Seeded, seed
from tests.support.db import service_missing
from tests.support.live import serve

if TYPE_CHECKING:
    from playwright.sync_api import Page


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Hub, Seeded]]:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        service_missing(
            "Chromium (make install puts Debian's chromium at /usr/bin/chromium)", FileNotFoundError(CHROMIUM)
        )
    folder = tmp_path_factory.mktemp("console")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HUB_CONSOLE_SECRET_KEY", "browser-test-secret")
        mp.setenv("HUB_CONSOLE_MAX_FAILURES", "3")
        hub = bootstrap(Settings(database_url=f"sqlite:///{folder}/hub.db"))
        seeded = seed(hub.ledger)
        ops = Operators(hub.engine, FAST_HASH)
        ops.create("ana", "Nguyễn Thị Ana", "operator", PASSWORD)
        ops.create("khoa", "Khóa Thử", "viewer", PASSWORD)
        app = create_app(hub, pipeline=False)
    with serve(lambda _url: app, "hub") as base:
        yield base, hub, seeded
    hub.close()


@pytest.fixture(scope="module")
def browser(stack: tuple[str, Hub, Seeded], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with chromium(tmp_path_factory.mktemp("profile")) as context:
        yield context


@pytest.fixture
def page(browser: Browser, stack: tuple[str, Hub, Seeded]) -> Iterator[Page]:
    """A fresh page, logged out; afterwards: every request went to the hub, no console error."""
    base = stack[0]
    browser.clear_cookies()
    browser.requests.clear()
    browser.problems.clear()
    p = browser.new_page()
    yield p
    p.close()
    strangers = [u for u in browser.requests if not u.startswith((base + "/", f"blob:{base}/"))]  # blob: in memory
    assert strangers == [], f"requests that did not go to the hub: {strangers}"
    assert browser.requests, "no request was recorded"
    assert browser.problems == [], browser.problems  # a CSP refusal shows here


def shot(page: Page, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("HUB_CONSOLE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.png"
    page.screenshot(path=str(target))
    assert target.stat().st_size > 5_000


def login(page: Page, base: str, username: str = "ana", password: str = PASSWORD) -> None:
    page.goto(base + "/console/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_login_refuses_a_wrong_password_then_locks_out(
    page: Page, stack: tuple[str, Hub, Seeded], tmp_path: Path
) -> None:
    base = stack[0]
    for _ in range(3):
        login(page, base, "khoa", "not the password")
    assert "tạm khóa" in page.inner_text("#login-error")
    shot(page, "login-locked", tmp_path)
    login(page, base, "khoa", PASSWORD)
    assert "tạm khóa" in page.inner_text("#login-error")  # even the right password, while locked
    login(page, base, "ana", "wrong")
    assert page.inner_text("#login-error") == "Sai tên đăng nhập hoặc mật khẩu."


def test_the_overview(page: Page, stack: tuple[str, Hub, Seeded], tmp_path: Path) -> None:
    login(page, stack[0])
    page.wait_for_url("**/console/overview")
    assert page.inner_text("h1") == "Tổng quan"
    page.wait_for_selector(".uplot canvas")
    assert page.locator(".uplot").count() == 2  # one chart per connector (uPlot drew them)
    assert page.inner_text("section.connector[data-connector=national_portal] dd.bad") == "9"
    shot(page, "overview", tmp_path)


def test_failures_group_message_and_replay_one(page: Page, stack: tuple[str, Hub, Seeded], tmp_path: Path) -> None:
    base, hub, _ = stack
    login(page, base)
    page.click("nav.main >> text=Lỗi")
    page.wait_for_selector("table.groups")
    shot(page, "failures", tmp_path)
    page.click("a.group >> text=Thiếu trường MaTTHC")
    page.wait_for_selector("#group-messages")
    assert page.locator("#group-messages tbody tr").count() == 6
    shot(page, "group", tmp_path)
    page.click("#group-messages a.message >> nth=0")
    page.wait_for_selector("#replay-form")
    mid = page.url.rsplit("/", 1)[1]
    assert "Nguyễn Văn An" not in page.content()  # the payload is masked
    shot(page, "message", tmp_path)
    page.fill("#replay-form textarea[name=reason]", "Đã bổ sung MaTTHC vào bảng ánh xạ")
    page.click("#replay-form button[type=submit]")
    page.wait_for_selector("#notice")
    assert page.inner_text("#notice") == "Đã xếp hàng gửi lại."
    assert page.inner_text("#message-state") == "Chờ gửi"
    with hub.engine.connect() as c:
        assert c.execute(select(messages.c.state).where(messages.c.id == mid)).scalar_one() == "queued"
        row = c.execute(select(operator_actions).where(operator_actions.c.target == mid)).one()
    assert (row.operator, row.action, row.outcome, row.reason) == (
        "ana",
        "message.replay",
        "ok",
        "Đã bổ sung MaTTHC vào bảng ánh xạ",
    )
    page.click("nav.main >> text=Nhật ký thao tác")
    page.wait_for_selector("#audit-rows")
    assert "Đã bổ sung MaTTHC vào bảng ánh xạ" in page.inner_text("#audit-rows")
    shot(page, "audit", tmp_path)


def test_the_dossier_page(page: Page, stack: tuple[str, Hub, Seeded], tmp_path: Path) -> None:
    base, _, seeded = stack
    login(page, base)
    page.fill("form.find input[name=q]", seeded.journey)
    page.press("form.find input[name=q]", "Enter")
    page.wait_for_selector("#timeline")
    assert page.locator("#timeline > li").count() == 4  # three status changes and a payment
    assert "Đã xử lý xong" in page.inner_text("#timeline") and "150.000 VND" in page.inner_text("#timeline")
    shot(page, "dossier", tmp_path)


def test_the_language_switch(page: Page, stack: tuple[str, Hub, Seeded]) -> None:
    login(page, stack[0])
    page.goto(stack[0] + "/console/failures")
    page.click("button[name=lang][value=en]")
    page.wait_for_selector("html[lang=en]")
    assert page.inner_text("h1") == "Failures by partner and cause"
    assert page.inner_text("nav.main").startswith("Overview")
    page.click("button[name=lang][value=vi]")
    page.wait_for_selector("html[lang=vi]")
    assert page.inner_text("h1") == "Lỗi theo đối tác và nguyên nhân"


def test_a_tablet_gets_the_page_without_sideways_scrolling(
    page: Page, stack: tuple[str, Hub, Seeded], tmp_path: Path
) -> None:
    page.set_viewport_size({"width": 820, "height": 1180})
    login(page, stack[0])
    page.wait_for_selector(".uplot canvas")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.goto(stack[0] + f"/console/messages/{stack[2].outage_dead[0]}")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "message-tablet", tmp_path)


def test_a_forged_post_from_another_origin_is_refused(browser: Browser, stack: tuple[str, Hub, Seeded]) -> None:
    base, hub, seeded = stack
    mid = seeded.validation_dead[1]
    forged = (
        f'<form method="post" action="{base}/console/messages/{mid}/replay">'
        '<input name="reason" value="forged"><input name="csrf" value="guess"></form>'
        "<script>document.forms[0].submit()</script>"
    )

    def attacker(_url: str) -> Any:
        from starlette.applications import Starlette
        from starlette.responses import HTMLResponse
        from starlette.routing import Route

        return Starlette(routes=[Route("/", lambda _r: HTMLResponse(forged))])

    browser.clear_cookies()
    p = browser.new_page()
    login(p, base)
    p.wait_for_url("**/console/overview")
    with serve(attacker, "attacker") as evil:
        p.goto(evil + "/")
        p.wait_for_url(f"**/console/messages/{mid}/replay")
        assert "Yêu cầu bị từ chối" in p.inner_text("h1")
    p.close()
    with hub.engine.connect() as c:
        assert c.execute(select(messages.c.state).where(messages.c.id == mid)).scalar_one() == "dead"
        last = c.execute(select(operator_actions).order_by(operator_actions.c.id.desc()).limit(1)).one()
    assert (last.operator, last.action, last.outcome) == ("ana", "csrf.refused", "refused")


def test_docs_and_redoc_work_offline(page: Page, stack: tuple[str, Hub, Seeded]) -> None:
    page.goto(stack[0] + "/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "LGSP Hub" in page.inner_text(".swagger-ui .info .title")
    page.goto(stack[0] + "/redoc")
    page.wait_for_selector("h1")
    assert "LGSP Hub" in page.inner_text("h1")
