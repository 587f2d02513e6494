"""The postal service through the API, on SQLite and PostgreSQL, against the mock VNPost served on a
loopback port (its clock driven by the test): orders through the ledger and the vnpost worker,
idempotent per dossier and kind; the feed polled from its durable cursor (duplicates and
out-of-order entries applied once, monotonically); pushes signed and de-duplicated; each new
status once and in order at a subscriber's webhook and as a portal step; cancel refused after
pickup; unmappable units and bad input as problem details."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import select

from hub.clients import create_client
from hub.db.schema import postal_cursors
from hub.postal.api import signature
from hub.postal.rules import PHASE, ParcelStatus
from tests.factories import dossier_code, status_change
from tests.postal.conftest import AGENCY, CITIZEN, CUSTOMER, SECRET, Env, order_body, portal_steps
from tests.support.problems import problem
from tests.support.wait import until


def test_a_delivery_is_followed_to_delivered_with_each_status_once_and_in_order(env: Env) -> None:
    code = dossier_code()
    oid = env.order(code)
    again = env.http.post("/v1/postal/orders", json=order_body(code))
    assert again.status_code == 200 and again.json()["id"] == oid and again.json()["duplicate"] is True
    env.faults(duplicate_rate=0.5, reorder_rate=0.5)  # the feed repeats entries and swaps neighbours
    for _ in range(7):
        env.advance(1)
        env.poll()
    order = env.get(oid)
    assert order["status"] == "delivered" and order["final"] is True
    applied = [h["status"] for h in order["history"] if h["verdict"] == "applied"]
    assert applied[0] == "accepted" and applied[-1] == "delivered"
    keys = [PHASE[ParcelStatus(s)] for s in applied]
    assert keys == sorted(keys)  # monotonic
    until(lambda: env.webhook_statuses(oid)[-1:] == ["delivered"], what="the subscriber told of the delivery")
    seen = env.webhook_statuses(oid)
    assert seen == [s for i, s in enumerate(applied) if i == 0 or s != applied[i - 1]]  # each new status, in order
    assert len({wid for wid, _ in env.receiver.events}) == len(env.receiver.events)  # no webhook twice
    # polled again from the stored cursor: nothing new, nothing applied twice
    before = len(env.get(oid)["history"])
    env.poll()
    assert len(env.get(oid)["history"]) == before
    with env.hub.engine.connect() as c:
        assert c.execute(select(postal_cursors.c.cursor)).scalar_one() != "0" * 24
    steps = portal_steps(env.hub, code)
    assert [s["status"] for s in steps] == seen
    assert steps[-1]["returned_at"] is not None and "VNPost" in steps[0]["text"]
    timeline = env.http.get(f"/v1/dossiers/{code}/timeline")
    assert timeline.status_code == 200
    (parcel,) = timeline.json()["parcels"]
    assert parcel["id"] == oid and parcel["status"] == "delivered"


def test_a_pickup_returned_after_failed_attempts_and_a_late_event_never_overwrites_it(env: Env) -> None:
    code = dossier_code()
    oid = env.order(code, "pickup", scenario="returned")
    for _ in range(9):
        env.advance(1)
        env.poll()
    order = env.get(oid)
    assert order["status"] == "returned"
    until(lambda: env.webhook_statuses(oid)[-1:] == ["returned"], what="the subscriber told of the return")
    assert env.webhook_statuses(oid).count("delivery_failed") == 2  # two attempts, each announced once
    # a late "in transit" pushed after the parcel is back changes nothing
    late = {
        "_id": {"$oid": "ffffffff0000000000000001"},
        "CustomerCode": CUSTOMER,
        "OrderNumber": code,
        "StatusCode": "3",
        "EventTime": "2020-01-01T00:00:00+07:00",
    }
    body = json.dumps(late).encode()
    pushed = env.http.post("/v1/callbacks/vnpost", content=body, headers={"X-Lgsp-Signature": signature(SECRET, body)})
    assert pushed.status_code == 200 and pushed.json()["Status"] == "100", pushed.text
    assert env.get(oid)["status"] == "returned"
    assert env.get(oid)["history"][0]["verdict"] == "after_final"  # the late event, kept in the history


def test_pushes_are_signed_and_applied_once(env: Env) -> None:
    code = dossier_code()
    oid = env.order(code)
    docs = [
        {
            "_id": {"$oid": f"aaaaaaaa00000000000000{n:02x}"},
            "CustomerCode": CUSTOMER,
            "OrderNumber": code,
            "StatusCode": raw,
            "EventTime": f"2030-01-01T0{n}:00:00+07:00",
        }
        for n, raw in enumerate(["1", "2", "3", "5", "4"], start=1)  # accepted ... out for delivery, delivered
    ]
    page = json.dumps({"_embedded": {"rh:doc": [docs[1], docs[0], docs[2]]}}).encode()  # two swapped
    unsigned = env.http.post("/v1/callbacks/vnpost", content=page)
    assert unsigned.status_code == 401 and unsigned.json()["Status"] == "401"
    wrong = env.http.post("/v1/callbacks/vnpost", content=page, headers={"X-Lgsp-Signature": "sha256=00"})
    assert wrong.status_code == 401
    for _ in range(2):  # the LGSP pushes the same page twice
        r = env.http.post("/v1/callbacks/vnpost", content=page, headers={"X-Lgsp-Signature": signature(SECRET, page)})
        assert r.status_code == 200, r.text
    rest = json.dumps(docs[3:]).encode()
    assert (
        env.http.post(
            "/v1/callbacks/vnpost", content=rest, headers={"X-Lgsp-Signature": signature(SECRET, rest)}
        ).status_code
        == 200
    )
    assert env.get(oid)["status"] == "delivered"
    until(lambda: env.webhook_statuses(oid)[-1:] == ["delivered"], what="the subscriber told of the delivery")
    assert env.webhook_statuses(oid) == ["accepted", "picked_up", "in_transit", "out_for_delivery", "delivered"]
    bad = b'{"_embedded": {"rh:doc": [{"CustomerCode": 1}]}}'
    r = env.http.post("/v1/callbacks/vnpost", content=bad, headers={"X-Lgsp-Signature": signature(SECRET, bad)})
    assert r.status_code == 400 and r.json()["Status"] == "102"


def test_cancel_before_pickup_and_refused_after(env: Env) -> None:
    early, late = dossier_code(), dossier_code()
    first = env.order(early)
    second = env.order(late)
    env.advance(1.5)  # both picked up? no: accepted at once, picked up one step later
    env.poll()
    r = env.http.post(f"/v1/postal/orders/{first}/cancel", json={"reason": "công dân nhận trực tiếp"})
    assert r.status_code == 409 and r.json()["type"].endswith("postal_cancel_refused"), r.text
    problem(r, 409)
    env.faults()
    other = dossier_code()
    third = env.order(other)
    env.poll()
    r = env.http.post(f"/v1/postal/orders/{third}/cancel")
    assert r.status_code == 202 and r.json()["cancel_requested"] is True, r.text
    until(lambda: [m["state"] for m in env.get(third)["messages"]] == ["delivered", "delivered"], what="cancel sent")
    env.poll()
    assert env.get(third)["status"] == "cancelled"
    assert env.get(second)["status"] == "picked_up"


def test_bad_orders_get_clear_problems(env: Env) -> None:
    code = dossier_code()
    spans = env.http.post("/v1/postal/orders", json=order_body(code, receiver=CITIZEN | {"commune_code": "99999"}))
    p = problem(spans, 422)
    assert p["type"].endswith("unmappable_unit") and p["errors"][0]["field"] == "receiver.commune_code"
    assert "99999" in p["errors"][0]["message"]
    province = env.http.post("/v1/postal/orders", json=order_body(code, receiver=CITIZEN | {"province_code": "99"}))
    assert problem(province, 422)["errors"][0]["field"] == "receiver.province_code"
    unknown = env.http.post("/v1/postal/orders", json=order_body(code, agency_code="000.00.00.H99"))
    assert problem(unknown, 422)["errors"][0]["field"] == "agency_code"
    no_citizen = env.http.post("/v1/postal/orders", json={**order_body(code), "receiver": None})
    problem(no_citizen, 422)
    cod = env.http.post("/v1/postal/orders", json=order_body(code, "pickup", cod_amount=1000))
    problem(cod, 422)
    assert env.http.get("/v1/postal/orders/01KAQ3Z5X7E8R9T0Y1V2W3X4Y5").status_code == 404
    # an order of the other kind while this one is on its way: VNPost takes one per dossier code
    env.order(code)
    clash = env.http.post("/v1/postal/orders", json=order_body(code, "pickup"))
    assert problem(clash, 409)["type"].endswith("postal_order_open")
    # another client's order of the dossier is not this one's to see
    other = create_client(env.hub.engine, "OTHER", "another one-stop system", ["postal.order"])
    theirs = env.http.post("/v1/postal/orders", json=order_body(code), headers={"X-API-Key": other})
    assert problem(theirs, 409)["type"].endswith("conflict") and "id" not in theirs.json()


def test_the_status_change_of_a_dossier_goes_with_its_postal_steps(env: Env) -> None:
    """The portal step carries the dossier's latest change, marked result-by-post."""
    code = dossier_code()
    from hub.dossiers.service import Dossiers  # noqa: F401 - the ingress is the API's

    grant = create_client(env.hub.engine, "PUBLISHER", "publisher", ["dossier.status.changed"], agencies=[AGENCY])
    r = env.http.post(
        "/v1/dossiers/status-changes", json=status_change(code=code, status=9), headers={"X-API-Key": grant}
    )
    assert r.status_code == 202, r.text
    env.order(code)
    for _ in range(6):
        env.advance(1)
        env.poll()
    steps = portal_steps(env.hub, code)
    assert steps[0]["dossier"]["dossier_code"] == code and steps[0]["kind"] == "delivery"

    def at_portal() -> list[dict[str, Any]]:
        (dossier,) = [d for d in httpx.get(f"{env.portal}/_mock/dossiers").json() if d["MaHoSo"] == code]
        return [e for e in dossier["QuaTrinhXuLy"] if e["TrangThai"] == "9" and "VNPost" in e["NguoiXuLy"]]

    until(lambda: len(at_portal()) == len(steps), what=f"{len(steps)} postal steps at the portal")
    (dossier,) = [d for d in httpx.get(f"{env.portal}/_mock/dossiers").json() if d["MaHoSo"] == code]
    assert dossier["HoSo"]["HinhThuc"] == "1" and dossier["HoSo"]["NgayTra"]
    assert at_portal()[0]["NoiDungXuLy"].startswith("Chuyển thông tin nhận kết quả sang hệ thống VNPost")
