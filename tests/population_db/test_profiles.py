"""``HUB_POPDB_PROFILES``: named population-database configurations, each checked at start-up like the
settings themselves, secrets settable apart and never echoed in an error."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from connectors.population_db import PopulationDbSettings


def test_a_profile_overrides_the_settings_and_keeps_the_rest() -> None:
    s = PopulationDbSettings(
        service_code="VPCP",
        profiles={"thanhhoa": {"variant": "lgsp_thanhhoa", "base_url": "http://127.0.0.1:9", "breaker_failures": "2"}},
    )
    p = s.for_profile("thanhhoa")
    assert (p.variant, p.base_url, p.breaker_failures, p.service_code) == (
        "lgsp_thanhhoa",
        "http://127.0.0.1:9",
        2,
        "VPCP",
    )
    assert p.endpoint("TraCuuThongTinCongDan") == "http://127.0.0.1:9/lgsp/csdldancu/TraCuuThongTinCongDan"
    assert p.profiles == {} and s.for_profile("default") is s and s.variant == "soap"
    with pytest.raises(KeyError):
        s.for_profile("elsewhere")


def test_profiles_and_their_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "HUB_POPDB_PROFILES", '{"dongthap": {"variant": "lgsp_dongthap", "service_username": "STTTT_DT"}}'
    )
    monkeypatch.setenv("HUB_POPDB_PROFILES__DONGTHAP__TOKEN", "st4tic-t0ken")
    monkeypatch.setenv("HUB_POPDB_PROFILES__HAGIANG__VARIANT", "lgsp_hagiang")
    monkeypatch.setenv("HUB_POPDB_PROFILES__HAGIANG__AUTH_SCHEME", "oauth2")
    monkeypatch.setenv("HUB_POPDB_PROFILES__HAGIANG__STAFF_KEY_PASS", "staff-p4ss")
    monkeypatch.setenv("HUB_POPDB_PROFILES__HAGIANG__LIMITS__HOVATEN", "80")
    s = PopulationDbSettings()
    assert s.for_profile("hagiang").limits.HoVaTen == 80 and s.limits.HoVaTen == 100
    dt, hg = s.for_profile("dongthap"), s.for_profile("hagiang")
    assert dt.variant == "lgsp_dongthap" and dt.token.get_secret_value() == "st4tic-t0ken"
    assert dt.auth_headers() == {"Authorization": "Bearer st4tic-t0ken"}
    assert hg.variant == "lgsp_hagiang" and hg.staff_key_pass.get_secret_value() == "staff-p4ss"
    assert "st4tic-t0ken" not in repr(s) and "staff-p4ss" not in repr(hg)


@pytest.mark.parametrize(
    ("profile", "said"),
    [
        ({"variant": "lgsp_dongthap", "token": "s3cret-t0ken"}, "HUB_POPDB_PROFILES.dt: HUB_POPDB_SERVICE_USERNAME"),
        (
            {"variant": "lgsp_hagiang", "auth_scheme": "bearer", "token": "s3cret-t0ken"},
            "HUB_POPDB_PROFILES.dt: HUB_POPDB_AUTH_SCHEME",
        ),
        ({"variant": "ndxp"}, "HUB_POPDB_PROFILES.dt: variant"),
        ({"tokn": "s3cret-t0ken"}, "HUB_POPDB_PROFILES.dt: tokn: not a setting"),
        ({"breaker_failures": 0, "token": "s3cret-t0ken"}, "HUB_POPDB_PROFILES.dt: breaker_failures"),
        ({"agency_code": "H56"}, "HUB_POPDB_PROFILES.dt: HUB_POPDB_AGENCY_CODE"),
        ({"profiles": {}}, "HUB_POPDB_PROFILES.dt: profiles: not a setting"),
    ],
    ids=["dongthap-user", "hagiang-token", "variant", "unknown-key", "breaker", "madonvi", "nested"],
)
def test_a_profile_that_cannot_work_fails_at_start_up_naming_it(profile: dict[str, Any], said: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PopulationDbSettings(profiles={"dt": profile})
    assert said in str(caught.value)
    assert "s3cret-t0ken" not in str(caught.value)  # a refused configuration never echoes its values


@pytest.mark.parametrize("name", ["default", "Thanh-Hoa", ""])
def test_a_profile_name_must_be_a_name(name: str) -> None:
    with pytest.raises(ValidationError, match="is not a profile name"):
        PopulationDbSettings(profiles={name: {"variant": "lgsp_thanhhoa"}})
