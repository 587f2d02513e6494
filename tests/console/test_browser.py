"""The console in a real browser: headless Chromium against a real uvicorn on a loopback
port, SQLite, a seeded ledger. The browser can reach nothing but 127.0.0.1, and after each
test every request its pages made is checked to have gone to the hub.

Screenshots of the main pages go to ``HUB_CONSOLE_SCREENSHOTS`` when set (``make
screenshots`` sets it to docs/console/), else to the test's temporary folder."""

from __future__ import annotations

import json
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
from hub.db.schema import message_replays, messages, operator_actions
from hub.ledger.holds import PartnerHolds
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
        ops.create("quan", "Trần Văn Quản", "admin", PASSWORD)
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
    shown = page.locator("section.connector").count()
    assert shown == len(stack[1].routing.names) >= 2  # every connector the hub delivers for
    assert page.locator(".uplot").count() == shown  # one chart per connector (uPlot drew them)
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


def test_the_reports_page(page: Page, stack: tuple[str, Hub, Seeded], tmp_path: Path) -> None:
    login(page, stack[0])
    page.wait_for_url("**/console/overview")
    page.click("nav.main >> text=Báo cáo")
    page.wait_for_selector("#report-rows")
    assert page.inner_text("h1") == "Báo cáo"
    assert "national_portal" in page.inner_text("#report-rows")  # the seeded exchanges, counted
    page.select_option("select[name=name]", "portal_sync")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/console/reports?name=portal_sync*")
    assert "Tỉ lệ đồng bộ" in page.inner_text("#report-rows thead")
    shot(page, "reports", tmp_path)


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
    page.wait_for_selector(".swagger-ui .info .title", timeout=40_000)  # ~10 s on a loaded 2-core machine
    assert "LGSP Hub" in page.inner_text(".swagger-ui .info .title")
    page.goto(stack[0] + "/redoc")
    page.wait_for_selector("h1")
    assert "LGSP Hub" in page.inner_text("h1")


def english(page: Any) -> None:
    page.click("button[name=lang][value=en]")
    page.wait_for_selector("html[lang=en]")


def audited(hub: Hub, action: str) -> list[Any]:
    with hub.engine.connect() as c:
        return list(c.execute(select(operator_actions).where(operator_actions.c.action == action)))


def test_edit_and_replay_with_a_validation_error_then_a_fix(
    page: Any, stack: tuple[str, Hub, Seeded], tmp_path: Path
) -> None:
    base, hub, _ = stack
    login(page, base)
    page.click("nav.main >> text=Lỗi")
    page.click("a.group >> text=Thiếu trường MaTTHC")
    page.click("#group-messages a.message >> nth=0")
    page.wait_for_selector("#edit-form")
    mid = page.url.rsplit("/", 1)[1]
    shown = json.loads(page.input_value("#edit-form textarea[name=payload]"))
    assert "Nguyễn Văn An" not in json.dumps(shown, ensure_ascii=False)  # masked in the editor too
    page.fill("#edit-form textarea[name=payload]", json.dumps({**shown, "status": "mười"}, ensure_ascii=False))
    page.fill("#edit-form textarea[name=reason]", "Bổ sung mã thủ tục")
    page.click("#edit-form button[type=submit]")
    page.wait_for_selector("#edit-errors")
    assert page.locator("#edit-errors li[data-field=status]").count() == 1  # the error names the field
    page.locator("#edit").scroll_into_view_if_needed()
    shot(page, "edit-replay-error", tmp_path)
    with hub.engine.connect() as c:
        assert c.execute(select(message_replays)).all() == []  # nothing queued
    fixed = {**shown, "procedure_code": "1.004227"}
    page.fill("#edit-form textarea[name=payload]", json.dumps(fixed, ensure_ascii=False, indent=2))
    page.click("#edit-form button[type=submit]")
    page.wait_for_selector("#replay-of")
    assert page.inner_text("#notice") == "Đã tạo và xếp hàng thông điệp đã sửa. Thông điệp gốc được giữ nguyên."
    new = page.url.split("/messages/")[1].split("?")[0]
    assert new != mid and page.inner_text("#message-state") == "Chờ gửi"
    shot(page, "message-edited", tmp_path)
    page.click(f"#replay-of a[href$='/messages/{mid}']")
    page.wait_for_selector("#replayed-as")
    assert new in page.inner_text("#replayed-as") and page.inner_text("#message-state") == "Lỗi hẳn"  # kept
    with hub.engine.connect() as c:
        payload = c.execute(select(messages.c.payload).where(messages.c.id == new)).scalar_one()
    assert payload["procedure_code"] == "1.004227" and payload["applicant"]["name"] == "Nguyễn Văn An"
    assert [(a.outcome, a.target) for a in audited(hub, "message.edit_replay")] == [("refused", mid), ("ok", mid)]


def test_bulk_dry_run_then_run_in_english(page: Any, stack: tuple[str, Hub, Seeded], tmp_path: Path) -> None:
    base, hub, seeded = stack
    login(page, base)
    page.goto(base + "/console/failures")
    english(page)
    page.click("a.group >> text=Thiếu trường MaTTHC")
    page.click("#bulk-group")
    page.wait_for_selector("#dry-run")
    total = int(page.inner_text("#dry-total"))
    still_dead = [m for m in seeded.validation_dead if state(hub, m) == "dead"]
    assert total == len(still_dead) >= 3 and page.inner_text("#dry-invalid") == "0"
    assert "national_portal" in page.inner_text("#dry-connectors")
    assert all(state(hub, m) == "dead" for m in still_dead)  # a dry run queues nothing
    shot(page, "bulk-dry-run", tmp_path)
    page.fill("#bulk-form textarea[name=reason]", "MaTTHC mapping fixed for the whole group")
    page.click("#bulk-form button[type=submit]")
    page.wait_for_selector("#progress[data-state=finished]", timeout=20_000)  # htmx polls the progress
    assert "Queued: " + str(total) in page.inner_text("#bulk-counts")
    shot(page, "bulk-run", tmp_path)
    assert all(state(hub, m) == "queued" for m in still_dead)
    assert [a.outcome for a in audited(hub, "bulk.replay")] == ["ok", "ok"]  # its start and its end


def state(hub: Hub, mid: str) -> str:
    with hub.engine.connect() as c:
        return str(c.execute(select(messages.c.state).where(messages.c.id == mid)).scalar_one())


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_hold_and_resume_a_partner(page: Any, stack: tuple[str, Hub, Seeded], tmp_path: Path, lang: str) -> None:
    base, hub, _ = stack
    login(page, base)
    page.click("nav.main >> text=Đối tác")
    if lang == "en":
        english(page)
    card = "#partner-national_portal"
    page.fill(f"{card} textarea[name=reason]", "Cổng quốc gia bảo trì" if lang == "vi" else "Portal maintenance")
    page.click(f"{card} button[type=submit]")
    page.wait_for_selector(f"{card} [data-held=yes]")
    assert PartnerHolds(hub.ledger).is_held("national_portal")
    assert ("Đang tạm dừng" if lang == "vi" else "Held") in page.inner_text(f"{card} h2")
    if lang == "vi":
        shot(page, "partners-held", tmp_path)
    page.fill(f"{card} textarea[name=reason]", "Đã hoạt động lại" if lang == "vi" else "Portal is back")
    page.click(f"{card} button[type=submit]")
    page.wait_for_selector(f"{card} [data-held=no]")
    assert not PartnerHolds(hub.ledger).is_held("national_portal")
    assert ("Đã tiếp tục" if lang == "vi" else "resumed") in page.inner_text("#notice")
    outcomes = [a.outcome for a in audited(hub, "partner.resume")]
    assert outcomes[-1] == "ok" and audited(hub, "partner.hold")[-1].operator == "ana"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_client_creation_and_rotation(page: Any, stack: tuple[str, Hub, Seeded], tmp_path: Path, lang: str) -> None:
    base, hub, _ = stack
    login(page, base, "quan")
    page.click("nav.main >> text=Hệ thống kết nối")
    if lang == "en":
        english(page)
    code = f"DVC-{lang.upper()}"
    page.fill("#create-form input[name=code]", code)
    page.fill("#create-form input[name=name]", "Cổng dịch vụ công")
    page.fill("#create-form input[name=grants]", "dossier.status.changed payment.open")
    page.fill("#create-form input[name=reason]", "Kết nối mới" if lang == "vi" else "New system")
    page.click("#create-form button[type=submit]")
    first = page.inner_text("#api-key").strip()
    assert first.startswith("lgsp_")
    row = f"tr[data-client='{code}']"
    page.select_option(f"{row} form.rotate select[name=grace_hours]", "0")
    page.fill(f"{row} form.rotate input[name=reason]", "Lộ khóa" if lang == "vi" else "Key leaked")
    page.click(f"{row} form.rotate button[type=submit]")
    page.wait_for_selector("#api-key")
    second = page.inner_text("#api-key").strip()
    assert second.startswith("lgsp_") and second != first
    if lang == "en":
        shot(page, "clients", tmp_path)
    page.goto(base + "/console/clients")
    assert first not in page.content() and second not in page.content()  # shown once
    from hub.clients import Authenticator

    auth = Authenticator(hub.engine, ttl=0)
    assert auth.lookup(first) is None and auth.lookup(second) is not None
    assert [a.outcome for a in audited(hub, "client.rotate") if a.target == code] == ["ok"]


def test_an_interrupted_bulk_replay_resumed(page: Any, stack: tuple[str, Hub, Seeded], tmp_path: Path) -> None:
    """A bulk replay whose process stopped (its lease ran out) is listed on the Failures page as
    interrupted; the operator resumes it with a reason and it finishes."""
    from datetime import timedelta

    from sqlalchemy import update

    from hub.console import bulk
    from hub.console.operations import Actor
    from hub.db.schema import bulk_replays
    from hub.envelope import utcnow

    base, hub, _ = stack
    bid, ids = bulk.start(hub.ledger, bulk.Selection(connector="national_portal"), Actor("ana"), "Cổng đã ổn định")
    assert ids  # the run never starts: as if the api had been restarted right after
    with hub.engine.begin() as c:
        old = utcnow() - timedelta(seconds=bulk.LEASE_SECONDS + 5)
        c.execute(update(bulk_replays).where(bulk_replays.c.id == bid).values(heartbeat_at=old))
    login(page, base)
    page.click("nav.main >> text=Lỗi")
    page.wait_for_selector("#bulk-unfinished li[data-state=interrupted]")
    page.click(f"#bulk-unfinished a >> text={bid}")
    page.wait_for_selector("#bulk-resume")
    assert page.get_attribute("#progress", "data-state") == "interrupted"
    shot(page, "bulk-interrupted", tmp_path)
    page.fill("#bulk-resume textarea[name=reason]", "Khởi động lại api, tiếp tục")
    page.click("#bulk-resume button[type=submit]")
    page.wait_for_selector("#progress[data-state=finished]", timeout=20_000)
    assert all(state(hub, m) == "queued" for m in ids)
    assert [a.outcome for a in audited(hub, "bulk.resume")] == ["ok"]
    assert [a.target for a in audited(hub, "bulk.interrupted")] == [bid]
