"""Waybills and OrderNumbers through the API and the mock VNPost (SQLite and PostgreSQL): orders take
the agency's pool numbers, a caller's number must be a free one of the pool, an exhausted pool is a
clear error, a cancelled order's number goes back once and a picked-up parcel's never; a parcel VNPost
numbered carries its waybill to the portal; a dossier's second kind has its own OrderNumber and
moves to delivered like the first."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from connectors.vnpost.mock_http import raw_codes
from hub.cli import app as lgsp
from hub.clients import create_client
from hub.postal.api import signature
from hub.postal.port import s10
from hub.postal.rules import ParcelStatus
from tests.factories import dossier_code
from tests.postal.conftest import AGENCY, CUSTOMER, SECRET, Env, order_body, portal_steps
from tests.support.problems import problem
from tests.support.wait import until

POOL = "/v1/admin/postal/waybills"


def admin_key(e: Env) -> dict[str, str]:
    return {"X-API-Key": create_client(e.hub.engine, "OPS", "operator", ["admin"])}


def issued(e: Env, count: int) -> list[str]:
    """Numbers the mock VNPost issues to the customer (as VNPost hands a province its ranges)."""
    r = e.mock.post("/_mock/waybills", json={"customer_code": CUSTOMER, "count": count})
    r.raise_for_status()
    return list(r.json()["item_codes"])


def pool(e: Env, admin: dict[str, str]) -> dict[str, str]:
    r = e.http.get(POOL, params={"agency_code": AGENCY, "limit": 100}, headers=admin)
    assert r.status_code == 200, r.text
    return {w["item_code"]: w["state"] for w in r.json()["items"]}


def delivered(e: Env, oid: str, n: int = 1) -> None:
    until(lambda: [m["state"] for m in e.get(oid)["messages"]] == ["delivered"] * n, what=f"{n} message(s) delivered")


def test_orders_take_the_pool_and_give_back_a_cancelled_ones_number_once(env: Env) -> None:
    admin = admin_key(env)
    first, second = issued(env, 2)
    r = env.http.post(POOL, json={"agency_code": AGENCY, "item_codes": [first, second]}, headers=admin)
    assert r.status_code == 201 and r.json() == {"customer_code": CUSTOMER, "added": 2, "existing": 0}, r.text
    a = env.http.post("/v1/postal/orders", json=order_body(dossier_code()))
    assert a.status_code == 202 and a.json()["item_code"] == first, a.text
    a_id = a.json()["id"]
    taken = env.http.post("/v1/postal/orders", json=order_body(dossier_code(), item_code=first))
    doc = problem(taken, 422, "validation_failed")
    assert [(x["field"], x["rule"]) for x in doc["errors"]] == [("item_code", "waybill_in_use")]
    foreign = env.http.post("/v1/postal/orders", json=order_body(dossier_code(), item_code=s10("EB", 12)))
    assert [(x["field"], x["rule"]) for x in problem(foreign, 422)["errors"]] == [("item_code", "waybill_not_in_pool")]
    b_code = dossier_code()
    b = env.http.post("/v1/postal/orders", json=order_body(b_code))
    assert b.status_code == 202 and b.json()["item_code"] == second
    b_id = b.json()["id"]
    empty = env.http.post("/v1/postal/orders", json=order_body(dossier_code()))
    assert "no free number" in problem(empty, 409, "waybill_pool_exhausted")["detail"]
    delivered(env, a_id)
    delivered(env, b_id)
    assert pool(env, admin) == {first: "assigned", second: "assigned"}
    # a cancelled before pickup: its number back, once VNPost's feed says cancelled
    assert env.http.post(f"/v1/postal/orders/{a_id}/cancel").status_code == 202
    delivered(env, a_id, 2)
    env.poll()
    assert env.get(a_id)["status"] == "cancelled" and pool(env, admin)[first] == "released"
    # the next order takes it again (VNPost takes a cancelled order's number again)
    c = env.http.post("/v1/postal/orders", json=order_body(dossier_code()))
    assert c.status_code == 202 and c.json()["item_code"] == first
    delivered(env, c.json()["id"])
    # another "cancelled" of a's, pushed under a new feed id: the number stays c's
    late = {
        "_id": {"$oid": "ffffffff00000000000000c1"},
        "CustomerCode": CUSTOMER,
        "OrderNumber": env.get(a_id)["order_number"],
        "ItemCode": first,
        "StatusCode": raw_codes("lgsp")[ParcelStatus.CANCELLED],
        "EventTime": "2030-01-01T00:00:00+07:00",
    }
    body = json.dumps(late).encode()
    pushed = env.http.post("/v1/callbacks/vnpost", content=body, headers={"X-Lgsp-Signature": signature(SECRET, body)})
    assert pushed.status_code == 200, pushed.text
    assert pool(env, admin)[first] == "assigned"
    # b (and c) picked up: their numbers are used, and a refused cancel changes nothing
    env.advance(1.5)
    env.poll()
    assert env.get(b_id)["status"] == "picked_up" and pool(env, admin)[second] == "used"
    problem(env.http.post(f"/v1/postal/orders/{b_id}/cancel"), 409, "postal_cancel_refused")
    counts = env.http.get(POOL, params={"customer_code": CUSTOMER, "limit": 0}, headers=admin).json()
    assert counts == {"counts": {CUSTOMER: {"free": 0, "assigned": 0, "used": 2, "released": 0}}, "items": []}
    problem(env.http.get(POOL), 403, "forbidden")  # the one-stop system is no operator


def test_a_parcel_vnpost_numbered_carries_its_waybill_to_the_portal(env: Env) -> None:
    code = dossier_code()
    oid = env.order(code)  # the agency has no pool: VNPost numbers the parcel
    env.poll()
    item = env.get(oid)["item_code"]
    assert item is not None and item.endswith("VN")
    until(lambda: portal_steps(env.hub, code), what="the first postal step")
    (step,) = portal_steps(env.hub, code)
    assert step["item_code"] == item and step["text"].endswith(f"với mã vận đơn: {item}")
    # an operator's timeline holds the hub's own messages too: the postal step (a parcel status, not
    # a dossier status) among them
    timeline = env.http.get(f"/v1/dossiers/{code}/timeline", headers=admin_key(env))
    assert timeline.status_code == 200, timeline.text
    steps = [m for m in timeline.json()["messages"] if m["type"] == "dossier.postal.step"]
    assert len(steps) == 1 and steps[0]["status"] is None


def test_the_second_kind_of_a_dossier_is_its_own_vnpost_order(env: Env) -> None:
    code = dossier_code()
    pickup = env.order(code, "pickup")
    for _ in range(6):
        env.advance(1)
        env.poll()
    assert env.get(pickup)["status"] == "delivered" and env.get(pickup)["order_number"] == code
    r = env.http.post("/v1/postal/orders", json=order_body(code, "delivery"))
    assert r.status_code == 202 and r.json()["order_number"] == f"{code}-KQ", r.text
    result = r.json()["id"]
    delivered(env, result)
    state = env.mock.get("/_mock/state").json()
    assert {o["OrderNumber"] for o in state["orders"]} >= {code, f"{code}-KQ"}  # two orders, not "101"
    for _ in range(6):
        env.advance(1)
        env.poll()
    assert env.get(result)["status"] == "delivered"
    until(lambda: env.webhook_statuses(result)[-1:] == ["delivered"], what="the delivery told to the subscriber")
    assert env.webhook_statuses(result)[0] == "accepted"
    item = env.get(result)["item_code"]
    steps = [s for s in portal_steps(env.hub, code) if s["order_id"] == result]
    assert steps[0]["text"].endswith(f"với mã vận đơn: {item}") and steps[-1]["returned_at"] is not None


# ------------------------------------------------------------------ the CLI
def test_the_cli_loads_a_range_and_lists_the_pool(db_url: str, cli: CliRunner) -> None:
    environ = {"HUB_DATABASE_URL": db_url}

    def run(*args: str) -> Any:
        return cli.invoke(lgsp, ["postal", "waybills", *args], env=environ)

    added = run("add", "--customer-code", CUSTOMER, "--prefix", "EB", "--first", "10000001", "--count", "3")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout) == {"customer_code": CUSTOMER, "added": 3, "existing": 0}
    again = run("add", "--customer-code", CUSTOMER, s10("EB", 10000001), s10("EB", 10000009))
    assert json.loads(again.stdout) == {"customer_code": CUSTOMER, "added": 1, "existing": 1}
    assert run("add", "--customer-code", CUSTOMER, "EB123").exit_code == 2
    assert run("add", "--customer-code", "BCCI_H22", s10("EB", 10000001)).exit_code == 1  # another's
    assert run("add", s10("EB", 5)).exit_code == 2  # whose?
    lines = run("list", "--customer-code", CUSTOMER, "--state", "free").stdout.splitlines()
    assert json.loads(lines[0]) == {"counts": {CUSTOMER: {"free": 4, "assigned": 0, "used": 0, "released": 0}}}
    free = sorted(s10("EB", n) for n in (10000001, 10000002, 10000003, 10000009))
    assert [json.loads(x)["item_code"] for x in lines[1:]] == free
    released = run("release", free[0])  # a free number: nothing to take back
    assert released.exit_code == 0 and json.loads(released.stdout)["released"] is False
    assert run("release", s10("EB", 42)).exit_code == 1  # not in the pool


def test_an_unknown_agency_has_no_pool_to_load(env: Env) -> None:
    admin = admin_key(env)
    r = env.http.post(POOL, json={"agency_code": "000.00.00.H99", "item_codes": [s10("EB", 1)]}, headers=admin)
    assert problem(r, 422, "agency_not_configured")["errors"][0]["field"] == "agency_code"
    both = env.http.post(POOL, json={"agency_code": AGENCY, "customer_code": CUSTOMER, "item_codes": []}, headers=admin)
    problem(both, 422)


def test_an_operator_takes_back_the_number_of_an_order_vnpost_refused(env: Env) -> None:
    """Revocation (THH's ThuHoiMaVanDonBuuDien): only the number of an order VNPost never took
    (dead, no parcel reported) comes back, once; a live order's or a used one's never."""
    admin = admin_key(env)
    (good,) = issued(env, 1)
    bad = s10("EB", 5)  # not issued by VNPost: the mock refuses it (103), the order is dead
    r = env.http.post(POOL, json={"customer_code": CUSTOMER, "item_codes": [bad, good]}, headers=admin)
    assert r.status_code == 201, r.text
    refused = env.http.post("/v1/postal/orders", json=order_body(dossier_code(), item_code=bad))
    assert refused.status_code == 202, refused.text
    until(lambda: env.get(refused.json()["id"])["messages"][0]["state"] == "dead", what="VNPost refusing the order")
    live = env.http.post("/v1/postal/orders", json=order_body(dossier_code()))
    assert live.json()["item_code"] == good
    delivered(env, live.json()["id"])
    problem(env.http.post(f"{POOL}/{good}/release", headers=admin), 409, "conflict")  # on its way
    first = env.http.post(f"{POOL}/{bad}/release", headers=admin)
    assert first.status_code == 200 and first.json() == {"item_code": bad, "state": "released", "released": True}
    again = env.http.post(f"{POOL}/{bad}/release", headers=admin)
    assert again.status_code == 200 and again.json()["released"] is False
    env.advance(1.5)
    env.poll()
    assert pool(env, admin)[good] == "used"
    assert "picked up" in problem(env.http.post(f"{POOL}/{good}/release", headers=admin), 409)["detail"]
    problem(env.http.post(f"{POOL}/{s10('EB', 6)}/release", headers=admin), 404, "not_found")
