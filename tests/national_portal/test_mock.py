"""The mock portal rejects what the real one would, stores atomically, and injects faults."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connectors.national_portal import translate as tr
from connectors.national_portal.mock import Faults, create_app

from .conftest import change

DST = {"dstcode": "DVCQG"}
MADONVI = "000.00.00.H56"


def login(client: TestClient) -> str:
    answer = client.post("/auth", json={"username": "lgsp", "password": "lgsp-dev-password"}, headers=DST).json()
    assert answer["error_code"] == 0
    return str(answer["session"])


def call(client: TestClient, session: str, service: str, endpoint: str = "/integration", **body: Any) -> dict[str, Any]:
    response = client.post(
        endpoint, json={"session": session, "madonvi": MADONVI, "service": service} | body, headers=DST
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def sync(
    client: TestClient, session: str, hosos: list[dict[str, Any]], updating: str = "False", madonvi: str = MADONVI
) -> dict[str, Any]:
    return call(client, session, tr.SYNC_SERVICE, isUpdating=updating, data=hosos, madonvi=madonvi)


def hoso(**overrides: Any) -> dict[str, Any]:
    return tr.to_hoso(change()) | overrides


def stats(client: TestClient) -> dict[str, Any]:
    return dict(client.get("/_mock/stats").json())


@pytest.fixture
def session(mock_client: TestClient) -> str:
    return login(mock_client)


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"username": "lgsp", "password": "wrong"}, DST),
        ({"username": "someone", "password": "lgsp-dev-password"}, DST),
        ({"username": "lgsp", "password": "lgsp-dev-password"}, {"dstcode": "OTHER"}),
        ({"username": "lgsp", "password": "lgsp-dev-password"}, {}),
    ],
    ids=["password", "username", "dstcode", "no-dstcode"],
)
def test_auth_refuses_wrong_credentials_or_dstcode(mock_client: TestClient, body: Any, headers: Any) -> None:
    answer = mock_client.post("/auth", json=body, headers=headers).json()
    assert answer["error_code"] == "-1" and "session" not in answer


@pytest.mark.parametrize("token", ["", "made-up-token", None])
def test_calls_need_a_session_it_issued(mock_client: TestClient, token: str | None) -> None:
    # token None on purpose: a call with no session at all
    answer = call(mock_client, token, tr.SYNC_SERVICE, isUpdating="False", data=[hoso()])  # type: ignore[arg-type]
    assert answer["error_code"] == "-2" and "Phiên đăng nhập" in answer["message"]
    assert stats(mock_client)["dossiers"] == 0


def test_sessions_expire_after_their_ttl() -> None:
    with TestClient(create_app(Faults(session_ttl_seconds=0.05)), base_url="http://testserver") as client:
        session = login(client)
        assert sync(client, session, [hoso()])["error_code"] == "0"
        time.sleep(0.1)
        assert sync(client, session, [hoso()])["error_code"] == "-2"


def test_expire_sessions_now(mock_client: TestClient, session: str) -> None:
    mock_client.post("/_mock/faults", json={"expire_sessions": True}).raise_for_status()
    assert sync(mock_client, session, [hoso()])["error_code"] == "-2"
    assert sync(mock_client, login(mock_client), [hoso()])["error_code"] == "0"


def test_wrong_dstcode_or_madonvi_on_a_data_call(mock_client: TestClient, session: str) -> None:
    body = {"session": session, "madonvi": MADONVI, "service": tr.SYNC_SERVICE, "isUpdating": "False", "data": [hoso()]}
    assert mock_client.post("/integration", json=body, headers={"dstcode": "X"}).json()["error_code"] == "-1"
    bad = body | {"madonvi": "H56"}
    answer = mock_client.post("/integration", json=bad, headers=DST).json()
    assert answer["error_code"] == "1" and "madonvi" in answer["message"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"MaHoSo": "HS-0001"}, "MaHoSo"),
        ({"MaHoSo": ""}, "MaHoSo"),
        ({"MaTTHC": None}, "MaTTHC"),
        ({"TenTTHC": "  "}, "TenTTHC"),
        ({"HinhThuc": None}, "HinhThuc"),
        ({"KenhThucHien": None}, "KenhThucHien"),
        ({"LoaiDoiTuong": None}, "LoaiDoiTuong"),
        ({"DonViXuLy": None}, "DonViXuLy"),
        ({"MaHoSo": "000.00.00.H56-250230-0001"}, "MaHoSo"),
        ({"TrangThaiHoSo": "11"}, "TrangThaiHoSo"),
        ({"TrangThaiHoSo": "đang xử lý"}, "TrangThaiHoSo"),
        ({"NgayTiepNhan": ""}, "NgayTiepNhan"),
        ({"NgayTiepNhan": "2025-02-25 08:30:00"}, "NgayTiepNhan"),
        ({"NgayHenTra": "20251345083000"}, "NgayHenTra"),
        ({"TrangThaiHoSo": "9"}, "NgayKetThucXuLy"),
        ({"TrangThaiHoSo": "10", "NgayKetThucXuLy": "20250301090000"}, "NgayTra"),
        ({"KenhThucHien": "7"}, "KenhThucHien"),
        ({"LoaiDoiTuong": "5"}, "LoaiDoiTuong"),
        ({"DanhSachLePhi": {"TenPhiLePhi": "x", "Gia": "1"}}, "DanhSachLePhi"),
        ({"DanhSachLePhi": [{"TenPhiLePhi": "Lệ phí", "Gia": "-5"}]}, "DanhSachLePhi[0]"),
    ],
)
def test_invalid_hoso_is_rejected_naming_the_field(
    mock_client: TestClient, session: str, overrides: dict[str, Any], field: str
) -> None:
    answer = sync(mock_client, session, [hoso(), hoso(**overrides)])
    assert answer["error_code"] == "1"
    assert f"data[1].{field}:" in answer["message"]
    assert stats(mock_client)["dossiers"] == 0  # all or nothing: the valid first HoSo is not stored either


def test_status_1_needs_no_reception_date_and_codes_may_be_ints(mock_client: TestClient, session: str) -> None:
    record = hoso(TrangThaiHoSo=1, KenhThucHien=2)
    del record["NgayTiepNhan"]
    assert sync(mock_client, session, [record])["error_code"] == "0"


@pytest.mark.parametrize("flag", [None, "true", True, "1"])
def test_is_updating_must_be_the_string_true_or_false(mock_client: TestClient, session: str, flag: Any) -> None:
    body: dict[str, Any] = {"data": [hoso()]} | ({} if flag is None else {"isUpdating": flag})
    answer = call(mock_client, session, tr.SYNC_SERVICE, **body)
    assert answer["error_code"] == "1" and "isUpdating" in answer["message"]


@pytest.mark.parametrize("data", [[], None, "x", [1]])
def test_data_must_be_a_non_empty_list_of_objects(mock_client: TestClient, session: str, data: Any) -> None:
    answer = call(mock_client, session, tr.PROGRESS_SERVICE, data=data)
    assert answer["error_code"] == "1" and answer["message"].startswith("Dữ liệu không hợp lệ (invalid data): data:")


def test_insert_of_an_existing_dossier_says_already_exists(mock_client: TestClient, session: str) -> None:
    first = hoso()
    assert sync(mock_client, session, [first])["error_code"] == "0"
    other = hoso()
    answer = sync(mock_client, session, [other, first | {"TrangThaiHoSo": "4"}])
    assert answer["error_code"] == "3" and "đã tồn tại" in answer["message"]
    stored = mock_client.get("/_mock/dossiers").json()
    assert [d["MaHoSo"] for d in stored] == [first["MaHoSo"]]  # the new one in the same call was not stored
    assert stored[0]["HoSo"]["TrangThaiHoSo"] == "2"


def test_the_same_dossier_twice_in_one_insert_is_already_exists(mock_client: TestClient, session: str) -> None:
    record = hoso()
    assert sync(mock_client, session, [record, record])["error_code"] == "3"


def test_update_replaces_the_record_and_needs_a_known_dossier(mock_client: TestClient, session: str) -> None:
    record = hoso()
    assert sync(mock_client, session, [record], updating="True")["error_code"] == "4"
    assert sync(mock_client, session, [record])["error_code"] == "0"
    assert sync(mock_client, session, [record | {"TrangThaiHoSo": "4"}], updating="True")["error_code"] == "0"
    assert mock_client.get(f"/_mock/dossiers/{record['MaHoSo']}").json()["HoSo"]["TrangThaiHoSo"] == "4"


def test_progress_is_validated_and_needs_a_known_dossier(mock_client: TestClient, session: str) -> None:
    payload = change()
    entry = tr.to_progress(payload)
    assert call(mock_client, session, tr.PROGRESS_SERVICE, data=[entry])["error_code"] == "4"
    sync(mock_client, session, [tr.to_hoso(payload)])
    for field in ("ThoiDiemXuLy", "NguoiXuLy", "TrangThai"):
        answer = call(mock_client, session, tr.PROGRESS_SERVICE, data=[entry | {field: ""}])
        assert answer["error_code"] == "1" and f"data[0].{field}:" in answer["message"]
    assert call(mock_client, session, tr.PROGRESS_SERVICE, data=[entry])["error_code"] == "0"
    assert stats(mock_client)["progress_entries"] == 1


def test_duplicate_progress_entries_are_counted(mock_client: TestClient, session: str) -> None:
    payload = change()
    sync(mock_client, session, [tr.to_hoso(payload)])
    entry = tr.to_progress(payload)
    later = entry | {"TrangThai": "4", "ThoiDiemXuLy": "20300101000000"}
    for batch in ([entry], [later], [entry | {"NoiDungXuLy": "lần 2"}]):
        assert call(mock_client, session, tr.PROGRESS_SERVICE, data=batch)["error_code"] == "0"
    counters = stats(mock_client)
    assert (counters["progress_entries"], counters["duplicate_progress_entries"]) == (3, 1)
    view = mock_client.get(f"/_mock/dossiers/{payload['dossier_code']}").json()
    assert [e["TrangThai"] for e in view[tr.PROGRESS_LIST_KEY]] == ["2", "4", "2"]  # arrival order


def test_lookup_returns_the_record_with_its_progress(mock_client: TestClient, session: str) -> None:
    payload = change()
    empty = call(mock_client, session, tr.LOOKUP_SERVICE, "/share", mahoso=payload["dossier_code"])
    assert (empty["error_code"], empty["result"]) == ("0", [])
    sync(mock_client, session, [tr.to_hoso(payload)])
    call(mock_client, session, tr.PROGRESS_SERVICE, data=[tr.to_progress(payload)])
    [found] = call(mock_client, session, tr.LOOKUP_SERVICE, "/share", mahoso=payload["dossier_code"])["result"]
    assert found["MaHoSo"] == payload["dossier_code"] and found[tr.PROGRESS_LIST_KEY] == [tr.to_progress(payload)]
    assert call(mock_client, session, tr.LOOKUP_SERVICE, "/share")["error_code"] == "1"


@pytest.mark.parametrize(("endpoint", "service"), [("/integration", "DongBoHoSo"), ("/share", "LayThuTuc")])
def test_unknown_or_unsimulated_service(mock_client: TestClient, session: str, endpoint: str, service: str) -> None:
    assert call(mock_client, session, service, endpoint)["error_code"] == "2"


def test_rejections_and_calls_are_counted(mock_client: TestClient, session: str) -> None:
    sync(mock_client, session, [hoso(MaTTHC="")])
    sync(mock_client, session, [hoso()])
    counters = stats(mock_client)
    assert counters["calls"] == {"auth": 1, tr.SYNC_SERVICE: 2}
    assert (counters["rejected_calls"], counters["rejected_by_code"]) == (1, {"1": 1})


@pytest.mark.parametrize(
    ("faults", "status"), [({"failure_rate": 1.0}, 500), ({"error_5xx_rate": 1.0}, 502), ({"outage_seconds": 30}, 503)]
)
def test_faults_answer_5xx_and_store_nothing(
    mock_client: TestClient, session: str, faults: dict[str, Any], status: int
) -> None:
    mock_client.post("/_mock/faults", json=faults).raise_for_status()
    body = {"session": session, "madonvi": MADONVI, "service": tr.SYNC_SERVICE, "isUpdating": "False", "data": [hoso()]}
    assert mock_client.post("/integration", json=body, headers=DST).status_code == status
    assert mock_client.post("/auth", json={}, headers=DST).status_code == status
    counters = stats(mock_client)
    assert counters["dossiers"] == 0 and sum(counters["faults_injected"].values()) == 2
    mock_client.post("/_mock/faults", json={"failure_rate": 0, "error_5xx_rate": 0, "outage_seconds": 0})
    assert sync(mock_client, session, [hoso()])["error_code"] == "0"


def test_fault_rates_are_probabilities_and_seeded() -> None:
    def run() -> list[int]:
        with TestClient(create_app(Faults(failure_rate=0.5, seed=7)), base_url="http://testserver") as client:
            return [client.post("/auth", json={}, headers=DST).status_code for _ in range(40)]

    first = run()
    assert first == run() and 5 < first.count(500) < 35 and 500 in first and 200 in first


def test_latency_and_hang(mock_client: TestClient) -> None:
    mock_client.post("/_mock/faults", json={"latency_ms": 60}).raise_for_status()
    started = time.monotonic()
    login(mock_client)
    assert time.monotonic() - started >= 0.06
    mock_client.post("/_mock/faults", json={"latency_ms": 0, "timeout_rate": 1.0, "hang_seconds": 0.05})
    started = time.monotonic()
    assert mock_client.post("/auth", json={}, headers=DST).status_code == 504
    assert time.monotonic() - started >= 0.05


def test_fault_settings_are_validated_and_readable(mock_client: TestClient) -> None:
    assert mock_client.post("/_mock/faults", json={"failure_rate": 2}).status_code == 422
    assert mock_client.post("/_mock/faults", json={"no_such_fault": 1}).status_code == 422
    current = mock_client.post("/_mock/faults", json={"latency_ms": 5}).json()
    assert current["latency_ms"] == 5 and current["failure_rate"] == 0.0
    assert mock_client.get("/_mock/faults").json()["latency_ms"] == 5


def test_reset_clears_storage_faults_and_sessions(mock_client: TestClient, session: str) -> None:
    sync(mock_client, session, [hoso()])
    mock_client.post("/_mock/faults", json={"latency_ms": 5})
    mock_client.post("/_mock/reset").raise_for_status()
    assert mock_client.get("/_mock/dossiers").json() == []
    assert mock_client.get("/_mock/faults").json()["latency_ms"] == 0
    assert sync(mock_client, session, [hoso()])["error_code"] == "-2"
    assert mock_client.get("/_mock/dossiers/000.00.00.H56-250225-9999").status_code == 404
