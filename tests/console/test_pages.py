"""The console's pages over a seeded ledger, on SQLite and PostgreSQL (in-process client; the
browser tests drive the same pages in Chromium)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.bootstrap import Hub
from hub.console import queries
from hub.console.operators import Operators
from hub.db.schema import messages, operator_actions
from tests.console.conftest import CONNECTORS, PASSWORD, csrf_of, login
from tests.console.seed import OUTAGE, TIMEOUT, VALIDATION, Seeded


def actions(hub: Hub) -> list[dict[str, Any]]:
    with hub.engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(select(operator_actions).order_by(operator_actions.c.id))]


def state_of(hub: Hub, mid: str) -> str:
    with hub.engine.connect() as c:
        state: str = c.execute(select(messages.c.state).where(messages.c.id == mid)).scalar_one()
        return state


def test_pages_need_a_login_and_send_the_security_headers(client: TestClient) -> None:
    r = client.get("/console/failures?state=dead", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login?next=%2Ffailures%3Fstate%3Ddead"
    page = client.get("/console/login")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    cookie = r.headers["set-cookie"]  # the anonymous session (its CSRF token), from the first answer
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie and "Secure" not in cookie
    assert 'lang="vi"' in page.text and "Đăng nhập" in page.text


def test_cookies_are_secure_over_https(console_app: FastAPI) -> None:
    page = TestClient(console_app, base_url="https://hub.example").get("/console/login")
    assert "Secure" in page.headers["set-cookie"]


def test_login_refuses_a_wrong_password_and_locks_out(client: TestClient, hub: Hub) -> None:
    for _ in range(3):  # max_failures=3 in these tests
        page = client.get("/console/login")
        r = client.post("/console/login", data={"csrf": csrf_of(page.text), "username": "ana", "password": "nope"})
        assert r.status_code == 401
    assert "tạm khóa" in r.text
    page = client.get("/console/login")
    r = client.post("/console/login", data={"csrf": csrf_of(page.text), "username": "ana", "password": PASSWORD})
    assert r.status_code == 401 and "tạm khóa" in r.text  # locked: even the right password
    rows = [(a["operator"], a["action"], a["outcome"], a["detail"]) for a in actions(hub)]
    assert rows[:3] == [("ana", "login", "refused", "bad_password")] * 3
    assert rows[3][:3] == ("ana", "lockout", "ok") and rows[4] == ("ana", "login", "refused", "locked")


def test_a_login_without_the_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/console/login")
    r = client.post("/console/login", data={"username": "ana", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403


def test_failures_grouped_by_connector_and_class(hub: Hub, seeded: Seeded, as_operator: TestClient) -> None:
    groups = queries.failure_groups(hub.engine, queries.FailureFilters())
    got = {(g.connector, g.error.label): (g.dead, g.retrying, g.exhausted) for g in groups}
    assert got == {
        ("national_portal", VALIDATION): (6, 0, 0),
        ("national_portal", OUTAGE): (3, 0, 3),
        ("national_portal", TIMEOUT): (0, 2, 0),
    }
    assert all(g.first_seen and g.last_seen and g.first_seen <= g.last_seen for g in groups)
    page = as_operator.get("/console/failures")
    assert page.status_code == 200 and "Thiếu trường MaTTHC" in page.text and "error_code 1" in page.text

    def count(f: queries.FailureFilters) -> dict[str, int]:
        return {g.error.label: g.count for g in queries.failure_groups(hub.engine, f)}

    assert count(queries.FailureFilters(agency="000.00.00.H57")) == {VALIDATION: 3}
    assert count(queries.FailureFilters(source="ONEGATE-H57")) == {VALIDATION: 2}
    assert count(queries.FailureFilters(state="retrying")) == {TIMEOUT: 2}
    assert count(queries.FailureFilters(connector="webhooks")) == {}
    assert count(queries.FailureFilters(type="payment.status.changed")) == {}


def test_a_group_pages_through_its_messages(hub: Hub, seeded: Seeded, as_operator: TestClient) -> None:
    group = next(g for g in queries.failure_groups(hub.engine, queries.FailureFilters()) if g.dead == 6)
    seen: list[str] = []
    cursor = None
    while True:
        page = queries.group_messages(
            hub.engine, "national_portal", group.error.id, queries.FailureFilters(), cursor, 4
        )
        seen += [m["id"] for m in page.messages]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(seeded.validation_dead) and len(seen) == 6
    html = as_operator.get(f"/console/failures/national_portal/{group.error.id}").text
    assert all(mid in html for mid in seeded.validation_dead)
    assert as_operator.get("/console/failures/national_portal/0000000000000000").status_code == 404


def test_the_message_page_masks_personal_data_and_shows_every_attempt(seeded: Seeded, as_operator: TestClient) -> None:
    mid = seeded.outage_dead[0]
    html = as_operator.get(f"/console/messages/{mid}").text
    assert "Nguyễn Văn An" not in html and "038090001234" not in html and "*********234" in html
    assert html.count("Service Unavailable") == 2  # both attempts, with the partner's answer
    assert "retry budget spent after 2 attempts" in html and 'id="replay-form"' in html


def test_replay_one_dead_message_is_audited(hub: Hub, seeded: Seeded, as_operator: TestClient) -> None:
    mid = seeded.validation_dead[0]
    page = as_operator.get(f"/console/messages/{mid}")
    r = as_operator.post(f"/console/messages/{mid}/replay", data={"csrf": csrf_of(page.text), "reason": ""})
    assert r.status_code == 422 and state_of(hub, mid) == "dead"  # a reason is required
    r = as_operator.post(
        f"/console/messages/{mid}/replay",
        data={"csrf": csrf_of(page.text), "reason": "MaTTHC added to the mapping"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/console/messages/{mid}?notice=replayed"
    assert state_of(hub, mid) == "queued"
    row = actions(hub)[-1]
    assert (row["operator"], row["action"], row["target"], row["outcome"]) == ("ana", "message.replay", mid, "ok")
    assert row["reason"] == "MaTTHC added to the mapping"
    again = as_operator.post(f"/console/messages/{mid}/replay", data={"csrf": csrf_of(page.text), "reason": "twice"})
    assert "Chỉ gửi lại được" in again.text and actions(hub)[-1]["outcome"] == "refused"
    assert "MaTTHC added to the mapping" in as_operator.get(f"/console/messages/{mid}").text  # replay history


def test_a_viewer_may_not_replay(hub: Hub, seeded: Seeded, client: TestClient) -> None:
    login(client, "vy")
    mid = seeded.validation_dead[1]
    page = client.get(f"/console/messages/{mid}")
    assert 'id="replay-form"' not in page.text
    r = client.post(f"/console/messages/{mid}/replay", data={"csrf": csrf_of(page.text), "reason": "try"})
    assert r.status_code == 403 and state_of(hub, mid) == "dead"
    assert (actions(hub)[-1]["action"], actions(hub)[-1]["outcome"]) == ("message.replay", "refused")
    assert client.get("/console/audit").status_code == 403


def test_a_forged_post_is_refused_and_recorded(hub: Hub, seeded: Seeded, as_operator: TestClient) -> None:
    mid = seeded.validation_dead[2]
    r = as_operator.post(f"/console/messages/{mid}/replay", data={"csrf": "forged", "reason": "evil"})
    assert r.status_code == 403 and state_of(hub, mid) == "dead"
    token = csrf_of(as_operator.get("/console/overview").text)
    r = as_operator.post(
        f"/console/messages/{mid}/replay",
        data={"csrf": token, "reason": "evil"},
        headers={"Origin": "http://127.0.0.1:9"},  # another origin, even with the right token
    )
    assert r.status_code == 403 and state_of(hub, mid) == "dead"
    assert [a["action"] for a in actions(hub)][-2:] == ["csrf.refused", "csrf.refused"]


def test_the_dossier_page_shows_the_journey(seeded: Seeded, as_operator: TestClient) -> None:
    html = as_operator.get(f"/console/dossiers?code={seeded.journey}").text
    for status in ("Được tiếp nhận", "Đang xử lý", "Đã xử lý xong"):
        assert status in html
    assert all(mid in html for mid in seeded.journey_messages)
    assert "150.000 VND" in html and "Cổng thanh toán báo kết quả" in html and 'id="appointment"' in html
    assert as_operator.get("/console/dossiers?code=000.00.00.H56-990101-0001").status_code == 404
    found = as_operator.get(f"/console/find?q={seeded.journey}", follow_redirects=False)
    assert found.headers["location"].startswith("/console/dossiers?code=")


def test_the_overview_counts(hub: Hub, seeded: Seeded, as_operator: TestClient) -> None:
    from hub.envelope import utcnow

    data = queries.overview(hub.engine, CONNECTORS, utcnow())
    portal = data.connectors[0]
    assert (portal.dead, portal.retrying, portal.backlog_total) == (9, 2, 0)
    assert sum(portal.hourly["accepted"]) == 14 and sum(portal.hourly["delivered"]) == 3
    assert sum(portal.hourly["dead"]) == 9 and portal.last_success is not None and portal.p95_seconds is not None
    assert as_operator.get("/console/overview").status_code == 200


def test_the_language_switch(as_operator: TestClient) -> None:
    token = csrf_of(as_operator.get("/console/overview").text)
    r = as_operator.post(
        "/console/lang", data={"csrf": token, "lang": "en", "next": "/failures"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/console/failures"
    assert "Failures by partner and cause" in as_operator.get("/console/failures").text
    as_operator.post("/console/lang", data={"csrf": token, "lang": "vi", "next": "/failures"})
    assert "Lỗi theo đối tác và nguyên nhân" in as_operator.get("/console/failures").text


def test_a_password_reset_or_a_disable_ends_open_sessions(operators: Operators, client: TestClient) -> None:
    login(client, "ana")
    assert client.get("/console/overview", follow_redirects=False).status_code == 200
    operators.reset_password("ana", "a brand new password")
    assert client.get("/console/overview", follow_redirects=False).status_code == 303
    login(client, "ana", "a brand new password")
    operators.disable("ana")
    assert client.get("/console/overview", follow_redirects=False).status_code == 303


def test_the_audit_page_searches(hub: Hub, seeded: Seeded, as_operator: TestClient) -> None:
    html = as_operator.get("/console/audit?action=login").text
    assert "ana" in html and 'id="audit-rows"' in html
    assert 'id="audit-rows"' not in as_operator.get("/console/audit?operator=nobody").text


def test_the_overview_counts_finished_hours_once(hub: Hub, seeded: Seeded) -> None:
    """Finished hours' accepted / delivered counts are counted once, written to console_hourly
    (zeros too), and read from there after; the hours not final yet are counted live."""
    from datetime import timedelta

    from sqlalchemy import func, select, update

    from hub.db.schema import console_hourly, messages
    from hub.envelope import utcnow

    now = utcnow()
    live = queries.overview(hub.engine, CONNECTORS, now)  # the seeded hour is not final: counted live
    with hub.engine.connect() as c:
        kept = c.execute(select(func.count()).select_from(console_hourly)).scalar_one()
    later = now + timedelta(hours=2)  # the seeded messages' hour is over and final two hours on
    first = queries.overview(hub.engine, CONNECTORS, later)
    by_name = {h.connector: h for h in live.connectors}
    for h in first.connectors:
        for series in ("accepted", "delivered"):
            assert sum(h.hourly[series]) == sum(by_name[h.connector].hourly[series]), (h.connector, series)
    with hub.engine.connect() as c:
        rows = c.execute(select(func.count()).select_from(console_hourly)).scalar_one()
    assert rows - kept >= 2 * len(CONNECTORS)  # every finished hour in view, each connector, zeros included
    with hub.engine.begin() as c:  # a finished hour is read, not counted again: a change to the ledger is not seen
        c.execute(update(messages).values(connector="elsewhere"))
    again = queries.overview(hub.engine, CONNECTORS, later)
    assert [h.hourly["accepted"] for h in again.connectors] == [h.hourly["accepted"] for h in first.connectors]
    assert sum(again.connectors[0].hourly["accepted"]) == 14
