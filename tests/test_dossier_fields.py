"""The canonical dossier asks for what the national portal's DongBoHoSoMC requires (§1.2): a 422 names
each missing field with the portal's name beside ours; the codes the national reports count by
(KenhThucHien, LoaiDoiTuong, HinhThuc) are never defaulted silently: required, or one default per client
in its configuration (HUB_DOSSIER_DEFAULTS)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.api.app import create_app
from hub.bootstrap import Hub, bootstrap
from hub.canonical import DossierDefaults
from hub.db.schema import messages
from hub.ledger import NewMessage
from hub.messages import DOSSIER_FEE_PAID, DOSSIER_STATUS_CHANGED
from hub.settings import Settings
from tests import factories
from tests.factories import create_client, status_change
from tests.support.problems import problem
from tests.test_payments_api import Rig, rig  # noqa: F401  (the payment rig fixture)

URL = "/v1/dossiers/status-changes"
# our field -> the portal's, for every field DongBoHoSoMC needs and a one-stop system may leave out
REQUIRED = {
    "procedure_name": "TenTTHC",
    "field_code": "MaLinhVuc",
    "field_name": "TenLinhVuc",
    "summary": "TrichYeuHoSo",
    "agency_name": "DonViXuLy",
    "channel": "KenhThucHien",
    "result_delivery": "HinhThuc",
    "applicant.type": "LoaiDoiTuong",
}


@pytest.fixture
def hub(tmp_path: Any) -> Iterator[Hub]:
    defaults = {"WALKIN-DESK": DossierDefaults(channel=1, applicant_type=1, result_delivery=0)}
    h = bootstrap(Settings(database_url=f"sqlite:///{tmp_path}/f.db", api_publishes=False, dossier_defaults=defaults))
    yield h
    h.close()


@pytest.fixture
def api(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub, pipeline=False)) as c:
        yield c


def without(body: dict[str, Any], *paths: str) -> dict[str, Any]:
    body = {**body, "applicant": dict(body["applicant"])}
    for path in paths:
        if path.startswith("applicant."):
            del body["applicant"][path.split(".", 1)[1]]
        else:
            del body[path]
    return body


def stored(hub: Hub) -> list[dict[str, Any]]:
    with hub.engine.connect() as c:
        return list(c.execute(select(messages.c.payload).order_by(messages.c.id)).scalars())


@pytest.mark.parametrize("batch", [False, True])
def test_each_missing_field_is_named_with_the_portals_name(hub: Hub, api: TestClient, batch: bool) -> None:
    key = create_client(hub.engine, "ONEGATE", "one-stop", ["dossier.status.changed"])
    body = without(status_change(), *REQUIRED)
    doc = problem(api.post(URL, json=[body] if batch else body, headers={"X-API-Key": key}), 422)
    errors = doc["results"][0]["errors"] if batch else doc["errors"]
    named = {e["field"].removeprefix("0."): e["message"] for e in errors if e["rule"] == "missing"}
    assert set(named) == set(REQUIRED)
    for ours, theirs in REQUIRED.items():
        assert named[ours] == f"Field required (the national portal's {theirs})"
    assert stored(hub) == []


@pytest.mark.parametrize(
    ("status", "field", "portal"), [(4, "appointment_at", "NgayHenTra"), (5, "received_at", "NgayTiepNhan")]
)
def test_dates_the_status_needs_are_required(hub: Hub, api: TestClient, status: int, field: str, portal: str) -> None:
    key = create_client(hub.engine, "ONEGATE", "one-stop", ["dossier.status.changed"])
    doc = problem(api.post(URL, json=without(status_change(status=status), field), headers={"X-API-Key": key}), 422)
    assert any(e["field"] == field and portal in e["message"] for e in doc["errors"]), doc["errors"]


def test_status_1_and_3_need_no_appointment(hub: Hub, api: TestClient) -> None:
    key = create_client(hub.engine, "ONEGATE", "one-stop", ["dossier.status.changed"])
    for status in (1, 3):
        r = api.post(URL, json=without(status_change(status=status), "appointment_at"), headers={"X-API-Key": key})
        assert r.status_code == 202, r.text


def test_a_client_with_defaults_gets_them_only_where_it_sent_nothing(hub: Hub, api: TestClient) -> None:
    desk = create_client(hub.engine, "WALKIN-DESK", "walk-in desk", ["dossier.status.changed"])
    other = create_client(hub.engine, "ONLINE", "online portal", ["dossier.status.changed"])
    bare = without(status_change(), "channel", "result_delivery", "applicant.type")
    assert api.post(URL, json=bare, headers={"X-API-Key": desk}).status_code == 202
    own = status_change(channel=3, result_delivery=1, applicant={"name": "Công ty TNHH An Bình", "type": 2})
    assert api.post(URL, json=[own], headers={"X-API-Key": desk}).status_code == 202
    # a client without configured defaults is refused, naming the fields
    doc = problem(api.post(URL, json=bare, headers={"X-API-Key": other}), 422)
    assert {e["field"] for e in doc["errors"]} == {"channel", "result_delivery", "applicant.type"}
    first, second = stored(hub)
    assert (first["channel"], first["result_delivery"], first["applicant"]["type"]) == (1, 0, 1)
    assert (second["channel"], second["result_delivery"], second["applicant"]["type"]) == (3, 1, 2)


def test_defaults_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DOSSIER_DEFAULTS", '{"ONEGATE-H56": {"channel": 1, "applicant_type": 1}}')
    defaults = Settings().dossier_defaults["ONEGATE-H56"]
    assert (defaults.channel, defaults.applicant_type, defaults.result_delivery) == (1, 1, None)
    monkeypatch.setenv("HUB_DOSSIER_DEFAULTS", '{"ONEGATE-H56": {"channel": 4}}')
    with pytest.raises(ValueError):
        Settings()


def test_a_fee_paid_for_a_dossier_stored_before_the_fields_were_required_is_still_reported(
    rig: Rig,  # noqa: F811
) -> None:
    """A status change stored before this release lacks the portal's fields: the payment is settled and the
    portal still hears of it (its progress entry), without the dossier record it could not validate."""
    code = factories.dossier_code()
    old = without(status_change(code=code), "summary", "result_delivery", "applicant.type")
    message = NewMessage(
        type=DOSSIER_STATUS_CHANGED,
        key=code,
        occurred_at=datetime.now(UTC),
        natural_key=f"{code}|2|old",
        connector="national_portal",
        schema_version=1,
        payload=old,
        correlation_id="old",
    )
    rig.hub.ledger.accept("ONEGATE", [message])
    opened = rig.open("paygov", dossier_code=code)
    assert opened.status_code == 201, opened.text
    rig.act(opened.json()["id"], "pay")
    assert rig.state(opened.json()["id"]) == "paid"
    with rig.hub.engine.connect() as c:
        (fee_paid,) = c.execute(select(messages.c.payload).where(messages.c.type == DOSSIER_FEE_PAID)).scalars()
    assert fee_paid["dossier"] is None and fee_paid["dossier_code"] == code
