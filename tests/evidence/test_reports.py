"""Reports: exchanges per day/agency/client/partner/type, the portal sync KPI (synced share, on time), payments
settled, parcels that reached a final status; from the CLI and the admin API, as CSV and JSON."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, update
from typer.testing import CliRunner

from hub import reports
from hub.api.app import create_app
from hub.bootstrap import bootstrap
from hub.cli import app as lgsp
from hub.clients import ADMIN
from hub.db.schema import clients, messages, payments, postal_orders
from hub.ledger import make_ledger
from hub.settings import Settings
from tests.factories import create_client, dossier_code, model, new_message

TZ = "Asia/Ho_Chi_Minh"


def accept(engine: Engine, *changes: dict[str, Any]) -> list[str]:
    items = [new_message(model(**c)) for c in changes]
    accepted, _ = make_ledger(engine).accept("ONEGATE", items)
    return [r.message_id for r in accepted]


def state(engine: Engine, ids: list[str], value: str) -> None:
    with engine.begin() as c:
        c.execute(update(messages).where(messages.c.id.in_(ids)).values(state=value))


def window() -> reports.Window:
    now = datetime.now(tz=UTC)
    return reports.Window.of(now - timedelta(days=1), now + timedelta(days=1))


def seed(engine: Engine) -> None:
    on_time, late, open_ = dossier_code(), dossier_code(), dossier_code("000.00.00.K99")
    a = accept(engine, {"code": on_time, "status": 2}, {"code": on_time, "status": 9, "minutes_ago": 30})
    due = (datetime.now(tz=UTC) - timedelta(days=1)).isoformat()  # after received_at, before finished_at
    b = accept(engine, {"code": late, "status": 2}, {"code": late, "status": 9, "appointment_at": due})
    c = accept(engine, {"code": open_, "status": 2, "agency_code": "000.00.00.K99"})
    state(engine, a + b[:1] + c, "delivered")
    state(engine, b[1:], "dead")
    with engine.begin() as conn:
        client_id = conn.execute(
            insert(clients).values(
                code="PAYER", name="p", key_hash="x" * 64, grants=[], created_at=datetime.now(tz=UTC)
            )
        ).inserted_primary_key
        assert client_id is not None
        client_id = client_id[0]
        now = datetime.now(tz=UTC)
        for i, (profile, st, amount) in enumerate(
            (("napas", "paid", 150000), ("napas", "paid", 50000), ("paygov", "failed", 70000))
        ):
            conn.execute(
                insert(payments).values(
                    id=f"01PAY{i:021d}",
                    client_id=client_id,
                    client_reference=f"r{i}",
                    request_hash="h",
                    profile=profile,
                    dossier_code=on_time,
                    amount=amount,
                    currency="VND",
                    details={},
                    state=st,
                    created_at=now,
                    updated_at=now,
                    settled_at=now,
                )
            )
        # parcels: two results delivered (COD collected), one returned, one still moving, one final long ago
        for i, (kind, status, hours, cod) in enumerate(
            (
                ("delivery", "delivered", 20, 30000),
                ("delivery", "delivered", 40, 0),
                ("delivery", "returned", 100, 25000),
                ("pickup", "in_transit", 5, 0),
                ("pickup", "delivered", 24 * 10 + 1, 0),
            )
        ):
            at = now - timedelta(hours=1) if i < 4 else now - timedelta(days=10)
            conn.execute(
                insert(postal_orders).values(
                    id=f"01PAR{i:021d}",
                    client_id=client_id,
                    dossier_code=f"{on_time}{i}",
                    kind=kind,
                    agency_code="000.00.00.H56",
                    customer_code="BCCI_H56",
                    details={"cod_amount": cod},
                    status=status,
                    status_at=at,
                    order_message_id=f"01MSG{i:021d}",
                    created_at=at - timedelta(hours=hours),
                    updated_at=at,
                )
            )


def test_the_reports(engine: Engine) -> None:
    seed(engine)
    ex = reports.run(engine, "exchanges", window(), TZ).rows
    assert sum(r["accepted"] for r in ex) == 5 and sum(r["dead"] for r in ex) == 1
    h56 = [r for r in ex if r["agency"] == "000.00.00.H56"]
    assert {(r["client"], r["partner"], r["type"]) for r in h56} == {
        ("ONEGATE", "national_portal", "dossier.status.changed")
    }
    assert all(len(r["day"]) == 10 for r in ex)

    kpi = {r["agency"]: r for r in reports.run(engine, "portal_sync", window(), TZ).rows}
    assert kpi["*"]["dossiers"] == 3 and kpi["*"]["synced"] == 2 and kpi["*"]["synced_share"] == "0.6667"
    assert (kpi["000.00.00.H56"]["finished"], kpi["000.00.00.H56"]["on_time"]) == (2, 1)
    assert kpi["000.00.00.K99"]["finished"] == 0 and kpi["000.00.00.K99"]["on_time_share"] == ""

    pays = reports.run(engine, "payments", window(), TZ).rows
    assert {(r["profile"], r["state"]): (r["payments"], r["amount"]) for r in pays} == {
        ("napas", "paid"): (2, 200000),
        ("paygov", "failed"): (1, 70000),
    }
    parcels = reports.run(engine, "parcels", window(), TZ).rows
    assert {(r["kind"], r["status"]): (r["parcels"], r["cod_collected"], r["median_hours"]) for r in parcels} == {
        ("delivery", "delivered"): (2, 30000, "30.0"),
        ("delivery", "returned"): (1, 0, "100.0"),  # nothing collected from a parcel that came back
    }  # the parcel in transit is not final; the one delivered ten days ago is outside the window
    text = reports.to_csv(reports.run(engine, "payments", window(), TZ))
    assert next(csv.reader(io.StringIO(text))) == ["day", "profile", "state", "payments", "amount"]


def test_reports_from_the_admin_api_and_the_cli(db_url: str, monkeypatch: Any) -> None:
    hub = bootstrap(Settings(database_url=db_url, api_publishes=False))
    seed(hub.engine)
    admin = create_client(hub.engine, "OPS", "ops", [ADMIN])
    other = create_client(hub.engine, "ONEGATE-X", "x", ["dossier.status.changed"])
    w = window()
    params = {"since": w.since.isoformat(), "until": w.until.isoformat()}
    with TestClient(create_app(hub, pipeline=False)) as api:
        assert api.get("/v1/reports/exchanges", params=params, headers={"X-API-Key": other}).status_code == 403
        got = api.get("/v1/reports/portal_sync", params=params, headers={"X-API-Key": admin})
        assert got.status_code == 200 and got.json()["rows"][-1]["agency"] == "*"
        as_csv = api.get("/v1/reports/payments", params=params | {"format": "csv"}, headers={"X-API-Key": admin})
        assert as_csv.headers["content-type"].startswith("text/csv") and "napas,paid,2,200000" in as_csv.text
        backwards = {"since": params["until"], "until": params["since"]}
        assert api.get("/v1/reports/payments", params=backwards, headers={"X-API-Key": admin}).status_code == 422
        assert api.get("/v1/reports/weights", params=params, headers={"X-API-Key": admin}).status_code == 404
        delivered = api.get("/v1/reports/parcels", params=params | {"format": "csv"}, headers={"X-API-Key": admin})
        assert delivered.status_code == 200 and ",delivery,delivered,2,30000,30.0" in delivered.text
        assert [r["name"] for r in api.get("/v1/reports", headers={"X-API-Key": admin}).json()["reports"]] == [
            "exchanges",
            "portal_sync",
            "payments",
            "parcels",
        ]
    hub.close()
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)
    out = CliRunner().invoke(lgsp, ["reports", "exchanges", "--since", params["since"], "--until", params["until"]])
    assert out.exit_code == 0 and out.output.startswith("day,agency,client,partner,type,accepted")
    js = CliRunner().invoke(
        lgsp, ["reports", "payments", "--since", params["since"], "--until", params["until"], "--format", "json"]
    )
    assert js.exit_code == 0 and '"rows"' in js.output
    assert (
        CliRunner()
        .invoke(lgsp, ["reports", "weights", "--since", params["since"], "--until", params["until"]])
        .exit_code
        == 2
    )


def test_the_cli_names_every_report() -> None:
    from hub.reports_cli import NAMES

    assert tuple(reports.REPORTS) == NAMES
