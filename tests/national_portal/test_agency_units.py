"""Per-agency configuration of the portal connector: each message goes out under its agency's unit code
(``madonvi`` / ``MaDinhDanhDV``) and connector profile, read from the agency directory (``units.py``), one
call per unit code; the strict mock refuses a dossier code of another province than the call's unit code."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from connectors.national_portal import NationalPortalSettings
from connectors.national_portal import translate as tr
from connectors.national_portal.client import NationalPortalConnector
from connectors.national_portal.mock import create_app
from connectors.national_portal.units import AgencyUnits, Problem, Route
from hub.agencies.port import Agency, PortalUnit, StaticAgencies
from hub.ports import OutcomeKind

from .conftest import change, item

SO_XAY_DUNG = "000.00.00.H56"
UBND_XA = "000.17.22.H56"  # another agency of the same province, with its own unit code
TUYEN_QUANG = "000.00.00.H61"  # a merged province: Hà Giang's (H22) dossiers keep their prefix
HA_GIANG_UNIT = "000.00.01.H22"
LGSP: dict[str, Any] = {"variant": "lgsp_hagiang", "auth_scheme": "bearer", "token": "lgsp-static-token"}


def agency(code: str, unit: str | None = None, **portal: Any) -> Agency:
    section = PortalUnit(madonvi=unit or code, **portal) if unit != "" else None
    return Agency(code=code, name=f"Agency {code}", portal=section)


def payload(agency_code: str, number: int | None = None, status: int = 2, prefix: str | None = None) -> dict[str, Any]:
    p = change(number, status=status, agency_code=agency_code)
    if prefix is not None or agency_code != SO_XAY_DUNG:
        p["dossier_code"] = f"{prefix or agency_code}-{p['dossier_code'].split('-', 1)[1]}"
    return p


@pytest.fixture
def mock() -> Iterator[TestClient]:
    """The mock portal (strict), serving the adapter's endpoints and the Hà Giang LGSP's URLs."""
    settings = NationalPortalSettings(base_url="http://testserver", **LGSP)
    with TestClient(create_app(settings=settings), base_url="http://testserver") as client:
        yield client


def connector(mock: TestClient, agencies: list[Agency], **over: Any) -> NationalPortalConnector:
    settings = NationalPortalSettings(base_url="http://testserver", **over)
    return NationalPortalConnector(settings, http=mock, agencies=StaticAgencies(agencies))


def test_two_agencies_in_one_batch_go_out_as_one_call_each_with_their_own_unit(mock: TestClient) -> None:
    portal = connector(mock, [agency(SO_XAY_DUNG), agency(UBND_XA)], madonvi="000.00.99.H56")
    a1, b1, a2 = payload(SO_XAY_DUNG, status=1), payload(UBND_XA, status=1), payload(SO_XAY_DUNG, status=1)
    a1_next = change(int(a1["dossier_code"][-4:]), status=2, minute=30)
    batch = [item(a1), item(b1), item(a2), item(a1_next)]
    outcomes = portal.deliver(batch)
    assert [o.kind for o in outcomes] == [OutcomeKind.DELIVERED] * 4, outcomes
    by_unit = mock.get("/_mock/stats").json()["calls_by_unit"]
    # round 1: one sync and one progress call per unit; round 2 (a1's next change): the first unit again
    assert by_unit == {
        SO_XAY_DUNG: {tr.SYNC_SERVICE: 2, tr.PROGRESS_SERVICE: 2},
        UBND_XA: {tr.SYNC_SERVICE: 1, tr.PROGRESS_SERVICE: 1},
    }
    for p, unit in ((a1, SO_XAY_DUNG), (b1, UBND_XA), (a2, SO_XAY_DUNG)):
        assert mock.get(f"/_mock/dossiers/{p['dossier_code']}").json()["madonvi"] == unit
    view = mock.get(f"/_mock/dossiers/{a1['dossier_code']}").json()
    assert [e["TrangThai"] for e in view[tr.PROGRESS_LIST_KEY]] == ["1", "2"]  # the dossier's order held
    assert outcomes[1].request["madonvi"] == UBND_XA  # what the evidence log digests


def test_a_merged_provinces_old_prefix_goes_under_its_own_unit_and_the_mock_refuses_another(
    mock: TestClient,
) -> None:
    tq = agency(TUYEN_QUANG, madonvi_by_province={"H22": HA_GIANG_UNIT})
    old, new = payload(TUYEN_QUANG, prefix="000.00.00.H22"), payload(TUYEN_QUANG)
    outcomes = connector(mock, [tq]).deliver([item(old), item(new)])
    assert [o.kind for o in outcomes] == [OutcomeKind.DELIVERED] * 2, outcomes
    assert mock.get(f"/_mock/dossiers/{old['dossier_code']}").json()["madonvi"] == HA_GIANG_UNIT
    assert mock.get(f"/_mock/dossiers/{new['dossier_code']}").json()["madonvi"] == TUYEN_QUANG
    # one unit code for both (what a single HUB_PORTAL_MADONVI did): the portal refuses the other province's
    single = agency(TUYEN_QUANG)
    [refused] = connector(mock, [single]).deliver([item(payload(TUYEN_QUANG, prefix="000.00.00.H22"))])
    assert refused.kind is OutcomeKind.DEAD and "province" in refused.detail, refused
    assert mock.get("/_mock/stats").json()["rejected_by_rule"] == {"unit-province": 1}


def test_an_agency_without_a_unit_uses_the_fallback_or_waits_with_a_reason_naming_it(mock: TestClient) -> None:
    fallback = connector(mock, [agency(SO_XAY_DUNG, "")])
    p = payload(SO_XAY_DUNG)
    [outcome] = fallback.deliver([item(p)])
    assert outcome.kind is OutcomeKind.DELIVERED and outcome.request["madonvi"] == "000.00.00.H56"  # HUB_PORTAL_MADONVI
    strict = connector(mock, [agency(SO_XAY_DUNG, "")], unit_fallback=False)
    calls = mock.get("/_mock/stats").json()["calls"]
    [waiting] = strict.deliver([item(payload(SO_XAY_DUNG))])
    assert waiting.kind is OutcomeKind.RETRY and not waiting.in_doubt
    assert f"agency {SO_XAY_DUNG} has no portal unit" in waiting.detail and "lgsp agencies set" in waiting.detail
    assert mock.get("/_mock/stats").json()["calls"] == calls  # nothing was sent
    [unknown] = connector(mock, [], unit_fallback=False).deliver([item(payload(SO_XAY_DUNG))])
    assert unknown.kind is OutcomeKind.RETRY and SO_XAY_DUNG in unknown.detail


def test_a_later_change_of_a_dossier_waiting_for_its_unit_waits_too(mock: TestClient) -> None:
    """A dossier moved to another agency: its first change (the agency without a unit) waits, so the later
    one (an agency with a unit) must not overtake it."""
    portal = connector(mock, [agency(SO_XAY_DUNG, ""), agency(UBND_XA)], unit_fallback=False)
    first = payload(SO_XAY_DUNG, status=1)
    later = change(int(first["dossier_code"][-4:]), status=2, minute=30, agency_code=UBND_XA)
    outcomes = portal.deliver([item(first), item(later)])
    assert [o.kind for o in outcomes] == [OutcomeKind.RETRY, OutcomeKind.RETRY], outcomes
    assert "earlier change of this dossier" in outcomes[1].detail
    assert mock.get("/_mock/stats").json()["calls"] == {}


def test_each_agency_goes_through_its_own_profile(mock: TestClient) -> None:
    """Agency A through the adapter (the default profile), agency B through the province's LGSP."""
    agencies = [agency(SO_XAY_DUNG), agency(TUYEN_QUANG, HA_GIANG_UNIT, profile="hagiang")]
    portal = connector(mock, agencies, profiles={"hagiang": LGSP})
    a, b = payload(SO_XAY_DUNG), payload(TUYEN_QUANG, prefix="000.00.00.H22")
    outcomes = portal.deliver([item(a), item(b)])
    assert [o.kind for o in outcomes] == [OutcomeKind.DELIVERED] * 2, outcomes
    stats = mock.get("/_mock/stats").json()
    assert stats["calls"][tr.SYNC_SERVICE] == 1 and stats["calls"]["auth"] == 1  # the adapter: a session
    assert stats["calls"]["/api/SynsTTHCC/DongBoHoSoMC"] == 1  # the LGSP: a bare array, the unit in the query
    assert stats["calls_by_unit"][HA_GIANG_UNIT] == {tr.SYNC_SERVICE: 1, tr.PROGRESS_SERVICE: 1}
    assert portal.client_for("hagiang").settings.variant == "lgsp_hagiang" and portal.client.settings.enveloped
    wrong = connector(mock, [agency(SO_XAY_DUNG, profile="nowhere")], profiles={"hagiang": LGSP})
    [waiting] = wrong.deliver([item(payload(SO_XAY_DUNG))])
    assert waiting.kind is OutcomeKind.RETRY and "'nowhere' is not configured" in waiting.detail
    assert SO_XAY_DUNG in waiting.detail and "hagiang" in waiting.detail


def test_a_directory_that_cannot_be_read_retries_without_sending(mock: TestClient) -> None:
    class Down(StaticAgencies):
        def get(self, code: str) -> Agency | None:
            raise ConnectionError("database down")

    settings = NationalPortalSettings(base_url="http://testserver")
    [outcome] = NationalPortalConnector(settings, http=mock, agencies=Down()).deliver([item(payload(SO_XAY_DUNG))])
    assert outcome.kind is OutcomeKind.RETRY and "agency directory could not be read" in outcome.detail
    assert mock.get("/_mock/stats").json()["calls"] == {}


def test_a_unit_is_read_once_per_agency_per_period_and_a_change_is_seen_after() -> None:
    now = [0.0]
    directory = StaticAgencies([agency(SO_XAY_DUNG)])
    units = AgencyUnits(NationalPortalSettings(unit_cache_seconds=30), directory, clock=lambda: now[0])
    code = payload(SO_XAY_DUNG)["dossier_code"]
    for _ in range(100):
        assert units.route(SO_XAY_DUNG, code) == Route("default", SO_XAY_DUNG)
    assert units.reads == 1
    directory._by_code[SO_XAY_DUNG] = agency(SO_XAY_DUNG, UBND_XA)  # the operator's change
    assert units.route(SO_XAY_DUNG, code) == Route("default", SO_XAY_DUNG)  # still the cached unit
    now[0] = 31.0
    assert units.route(SO_XAY_DUNG, code) == Route("default", UBND_XA) and units.reads == 2
    assert isinstance(AgencyUnits(NationalPortalSettings(unit_fallback=False), None).route(SO_XAY_DUNG), Problem)


@pytest.mark.parametrize(
    ("profiles", "message"),
    [
        ({"Bad-Name": {}}, "not a profile name"),
        ({"default": {}}, "not a profile name"),
        ({"hg": {"variant": "lgsp_hagiang", "auth_scheme": "session"}}, "HUB_PORTAL_PROFILES.hg"),
        ({"hg": {"variant": "lgsp_hagiang", "timeout": 3}}, "Extra inputs"),
    ],
)
def test_profiles_that_cannot_work_fail_at_start(profiles: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        NationalPortalSettings(profiles=profiles)


def test_profiles_come_from_the_environment_with_their_secrets_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_PORTAL_PROFILES", '{"hagiang": {"variant": "lgsp_hagiang", "base_url": "http://lgsp"}}')
    monkeypatch.setenv("HUB_PORTAL_PROFILES__HAGIANG__TOKEN", "from-a-secret")
    settings = NationalPortalSettings().for_profile("hagiang")
    assert settings.variant == "lgsp_hagiang" and settings.base_url == "http://lgsp"
    assert settings.auth_headers() == {"Authorization": "Bearer from-a-secret"}
    assert settings.timeout == NationalPortalSettings().timeout  # what a profile does not set is the connector's


def test_a_unit_code_of_another_province_in_the_merged_map_is_refused() -> None:
    with pytest.raises(ValidationError, match="must be a unit code of H22"):
        PortalUnit(madonvi=TUYEN_QUANG, madonvi_by_province={"H22": "000.00.01.H23"})
    with pytest.raises(ValidationError):
        PortalUnit(madonvi="H56")
