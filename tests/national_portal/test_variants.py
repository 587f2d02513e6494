"""The LGSP-fronted shapes of the portal (§1.1) as configured variants of the one connector, with
pluggable authentication, end to end against the mock serving the same variant: through the connector,
and through the hub's pipeline (ingress -> ledger -> in-process transport -> worker -> mock)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from connectors.national_portal import NationalPortalSettings
from connectors.national_portal import translate as tr
from connectors.national_portal.client import NationalPortalConnector
from connectors.national_portal.config import AuthScheme, Variant
from connectors.national_portal.mock import create_app
from hub.api.app import create_app as create_hub_app
from hub.bootstrap import Hub, bootstrap
from hub.pipeline import Pipeline
from hub.ports import OutcomeKind
from hub.settings import Settings
from hub.transports.inprocess import InProcessTransport
from hub.transports.rabbitmq import RabbitMQTransport
from tests.factories import create_client, dossier_code, status_change
from tests.support.broker import random_prefix, require_broker
from tests.support.wait import all_in, until

from .conftest import change, item

CREDENTIALS: dict[str, dict[str, Any]] = {
    "none": {},
    "bearer": {"token": SecretStr("lgsp-static-token")},
    "header_token": {"token": SecretStr("lgsp-static-token"), "auth_header": "access_token"},
    "lgsp_access_token": {"access_key": SecretStr("AK"), "secret_key": SecretStr("SK"), "app_name": "MOTCUA"},
    "oauth2": {"client_id": "motcua", "client_secret": SecretStr("s3cret")},
}
CASES: list[tuple[Variant, AuthScheme]] = [
    ("lgsp_hagiang", "bearer"),
    ("lgsp_hagiang", "header_token"),
    ("lgsp_hagiang", "lgsp_access_token"),
    ("lgsp_hagiang", "oauth2"),
    ("lgsp_thanhhoa", "none"),
    ("lgsp_thanhhoa", "bearer"),
]
IDS = [f"{v.removeprefix('lgsp_')}-{a}" for v, a in CASES]


def portal_settings(variant: Variant, auth: AuthScheme, **over: Any) -> NationalPortalSettings:
    return NationalPortalSettings(
        base_url="http://testserver", variant=variant, auth_scheme=auth, **{**CREDENTIALS[auth], **over}
    )


@pytest.fixture(params=CASES, ids=IDS)
def rig(request: pytest.FixtureRequest) -> Iterator[tuple[NationalPortalSettings, TestClient, NationalPortalConnector]]:
    variant, auth = request.param
    settings = portal_settings(variant, auth)
    with TestClient(create_app(settings=settings), base_url="http://testserver") as mock:
        yield settings, mock, NationalPortalConnector(settings, http=mock)


def test_variant_delivers_a_dossier_lifecycle_end_to_end(
    rig: tuple[NationalPortalSettings, TestClient, NationalPortalConnector],
) -> None:
    settings, mock, connector = rig
    first = change(status=1)
    number = int(first["dossier_code"][-4:])
    for step, status in enumerate((1, 2, 4, 9, 10)):
        [outcome] = connector.deliver([item(change(number, status=status, minute=step), known=step > 0)])
        assert outcome.kind is OutcomeKind.DELIVERED, outcome
    view = mock.get(f"/_mock/dossiers/{first['dossier_code']}").json()
    assert view["HoSo"]["TrangThaiHoSo"] == "10" and view["HoSo"]["HinhThuc"] == "0"
    assert [e["TrangThai"] for e in view[tr.PROGRESS_LIST_KEY]] == ["1", "2", "4", "9", "10"]
    calls = mock.get("/_mock/stats").json()["calls"]
    assert "auth" not in calls and tr.SYNC_SERVICE not in calls  # no login, no envelope: the LGSP's URLs
    assert calls[settings.path("progress")] == 5
    # a change in doubt is looked up at the LGSP's lookup URL and not sent twice
    again = change(number, status=10, minute=4)
    [outcome] = connector.deliver([item(again, known=True, in_doubt=True, attempt=2)])
    assert outcome.kind is OutcomeKind.DELIVERED and "TraCuuHoSo" in outcome.detail
    assert mock.get("/_mock/stats").json()["duplicate_progress_entries"] == 0


def test_an_insert_of_a_known_dossier_goes_again_as_an_update(
    rig: tuple[NationalPortalSettings, TestClient, NationalPortalConnector],
) -> None:
    _, mock, connector = rig
    payload = change()
    assert connector.deliver([item(payload)])[0].kind is OutcomeKind.DELIVERED
    later = change(int(payload["dossier_code"][-4:]), status=4)
    [outcome] = connector.deliver([item(later, known=False)])  # the ledger did not know it landed
    assert outcome.kind is OutcomeKind.DELIVERED and "update" in outcome.detail
    assert mock.get("/_mock/stats").json()["rejected_by_code"] == {"3": 1}


@pytest.mark.parametrize(
    ("variant", "auth"), [c for c in CASES if c[1] != "none"], ids=[i for i in IDS if "none" not in i]
)
def test_calls_without_the_variants_credentials_are_refused(variant: Variant, auth: AuthScheme) -> None:
    with TestClient(create_app(settings=portal_settings(variant, auth)), base_url="http://testserver") as mock:
        wrong = portal_settings(
            variant, auth, token=SecretStr("wrong"), access_key=SecretStr("wrong"), client_secret=SecretStr("wrong")
        )
        [outcome] = NationalPortalConnector(wrong, http=mock).deliver([item(change())])
        assert outcome.kind is OutcomeKind.RETRY and "401" in outcome.detail  # the operator's to fix, not the message's
        s = portal_settings(variant, auth)
        r = mock.post(
            s.path("sync"), json=[tr.to_hoso(change())], params={"MaDinhDanhDV": s.madonvi, "isUpdating": "False"}
        )
        assert r.status_code == 401
        assert mock.get("/_mock/stats").json()["dossiers"] == 0


def test_an_oauth2_token_is_fetched_once_and_renewed_when_refused() -> None:
    settings = portal_settings("lgsp_hagiang", "oauth2")
    with TestClient(create_app(settings=settings), base_url="http://testserver") as mock:
        connector = NationalPortalConnector(settings, http=mock)
        for _ in range(3):
            assert connector.deliver([item(change())])[0].kind is OutcomeKind.DELIVERED
        assert connector.client.tokens_fetched == 1 and mock.get("/_mock/stats").json()["tokens_issued"] == 1
        mock.post("/_mock/faults", json={"expire_sessions": True}).raise_for_status()  # the LGSP forgot it
        assert connector.deliver([item(change())])[0].kind is OutcomeKind.DELIVERED  # 401, a new token, once more
        assert connector.client.tokens_fetched == 2


def test_an_oauth2_token_due_for_renewal_is_renewed_before_use() -> None:
    settings = portal_settings("lgsp_hagiang", "oauth2", token_renew_before=10_000.0)  # every token is "due"
    with TestClient(create_app(settings=settings), base_url="http://testserver") as mock:
        connector = NationalPortalConnector(settings, http=mock)
        for _ in range(2):
            assert connector.deliver([item(change())])[0].kind is OutcomeKind.DELIVERED
        assert mock.get("/_mock/stats").json()["tokens_issued"] == 4  # sync and progress, twice
        token = mock.post("/token", data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"})
        assert token.status_code == 401 and token.json() == {"error": "invalid_client"}


def _lgsp_access_token_header(settings: NationalPortalSettings) -> dict[str, Any]:
    return dict(json.loads(base64.b64decode(settings.auth_headers()["lgspaccesstoken"])))


def test_the_lgsp_access_token_carries_the_documented_fields() -> None:
    creds = _lgsp_access_token_header(portal_settings("lgsp_hagiang", "lgsp_access_token"))
    assert list(creds) == ["AccessKey", "SecretKey", "AppName", "PartnerCode", "PartnerCodeCus"]


@pytest.mark.parametrize(
    ("body", "query", "what"),
    [
        ({"session": "x", "data": []}, {"MaDinhDanhDV": "000.00.00.H56", "isUpdating": "False"}, "JSON array"),
        ([], {"isUpdating": "False"}, "MaDinhDanhDV"),
        ([], {"MaDinhDanhDV": "H56", "isUpdating": "False"}, "MaDinhDanhDV"),
        ([], {"MaDinhDanhDV": "000.00.00.H56"}, "isUpdating"),
        ([], {"MaDinhDanhDV": "000.00.00.H56", "isUpdating": "true"}, "isUpdating"),
    ],
)
def test_the_hagiang_front_refuses_another_shape(body: Any, query: dict[str, str], what: str) -> None:
    settings = portal_settings("lgsp_hagiang", "bearer")
    with TestClient(create_app(settings=settings), base_url="http://testserver") as mock:
        r = mock.post(settings.path("sync"), json=body, params=query, headers=settings.auth_headers())
        assert r.status_code == 400 and what in r.json()["message"]
        assert mock.get("/_mock/stats").json()["rejected_by_rule"] == {"lgsp-shape": 1}


def test_the_thanhhoa_progress_reply_is_text() -> None:
    settings = portal_settings("lgsp_thanhhoa", "none")
    with TestClient(create_app(settings=settings), base_url="http://testserver") as mock:
        payload = change()
        assert mock.post(settings.path("sync"), json=[tr.to_hoso(payload)]).json()["error_code"] == "0"
        reply = mock.post(settings.path("progress"), json=[tr.to_progress(payload)]).json()
        assert isinstance(reply, str) and "thành công" in reply


def test_settings_a_variant_cannot_work_with_fail_at_start() -> None:
    with pytest.raises(ValidationError, match="HUB_PORTAL_AUTH_SCHEME"):
        NationalPortalSettings(variant="lgsp_hagiang", auth_scheme="session")
    with pytest.raises(ValidationError, match="HUB_PORTAL_AUTH_SCHEME"):
        NationalPortalSettings(auth_scheme="bearer")
    with pytest.raises(ValidationError, match="HUB_PORTAL_MADONVI"):
        NationalPortalSettings(madonvi="H56")


@pytest.fixture(params=["inprocess", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
def hub(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Hub]:
    transport: InProcessTransport | RabbitMQTransport
    if request.param == "rabbitmq":
        transport = RabbitMQTransport(require_broker(), prefix=random_prefix())
    else:
        transport = InProcessTransport()
    h = bootstrap(Settings(database_url=f"sqlite:///{tmp_path}/v.db"), transport=transport)
    try:
        yield h
    finally:
        if isinstance(transport, RabbitMQTransport):
            transport.delete_topology()
        h.close()


@pytest.mark.parametrize(("variant", "auth"), [("lgsp_hagiang", "bearer"), ("lgsp_thanhhoa", "none")])
def test_variant_through_the_pipeline(hub: Hub, variant: Variant, auth: AuthScheme) -> None:
    """A one-stop system's changes through the hub's API, ledger, transport (in process, and RabbitMQ)
    and worker to the mock LGSP."""
    settings = portal_settings(variant, auth)
    with TestClient(create_app(settings=settings), base_url="http://testserver") as mock:
        connector = NationalPortalConnector(settings, http=mock)
        pipe = Pipeline(hub, workers=1, connector_names=["national_portal"], connector_factory=lambda _: connector)
        pipe.start()
        try:
            key = create_client(hub.engine, "ONEGATE", "one-stop", ["dossier.status.changed"])
            codes = [dossier_code() for _ in range(3)]
            bodies = [status_change(code=c, status=s, minutes_ago=100 - s) for c in codes for s in (2, 4, 9)]
            with TestClient(create_hub_app(hub, pipeline=False)) as api:
                r = api.post("/v1/dossiers/status-changes", json=bodies, headers={"X-API-Key": key})
                assert r.status_code == 202 and r.json()["accepted"] == 9, r.text
            until(all_in(hub.engine, "delivered"), what=f"{variant} deliveries")
        finally:
            pipe.stop()
        for code in codes:
            view = mock.get(f"/_mock/dossiers/{code}").json()
            assert [e["TrangThai"] for e in view[tr.PROGRESS_LIST_KEY]] == ["2", "4", "9"]
