"""The real client and connector against scripted portal answers (respx)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from connectors.national_portal import NationalPortalSettings, build_connector
from connectors.national_portal import translate as tr
from connectors.national_portal.client import NationalPortalClient, NationalPortalConnector
from connectors.national_portal.errors import PortalError
from hub.partners import Verdict
from hub.ports import Connector, OutcomeKind

from .conftest import APPLICANT_ID, APPLICANT_NAME, change, item

BASE = "https://portal.test"
OK = {"error_code": "0", "message": "Đồng bộ thành công"}
Answer = Callable[[dict[str, Any]], httpx.Response]


def reply(body: dict[str, Any], status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


class Portal:
    """respx routes for the three endpoints; every request body is recorded by service."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.sessions = iter(f"S{i}" for i in range(1, 100))
        self.bodies: list[dict[str, Any]] = []
        self.auth = router.post("/auth").mock(
            side_effect=lambda r: reply({"error_code": 0, "session": next(self.sessions)})
        )
        self.integration = router.post("/integration").mock(side_effect=self._dispatch)
        self.share = router.post("/share").mock(side_effect=self._dispatch)
        self.answers: dict[str, list[Answer | httpx.Response | Exception]] = {}

    def script(self, service: str, *answers: Answer | httpx.Response | Exception) -> None:
        self.answers[service] = list(answers)

    def sent(self, service: str) -> list[dict[str, Any]]:
        return [b for b in self.bodies if b["service"] == service]

    def _dispatch(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        queue = self.answers.get(body["service"], [])
        answer = queue.pop(0) if len(queue) > 1 else (queue[0] if queue else reply(OK))
        if isinstance(answer, Exception):
            raise answer
        return answer if isinstance(answer, httpx.Response) else answer(body)


@pytest.fixture
def portal() -> Iterator[Portal]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield Portal(router)


@pytest.fixture
def settings() -> NationalPortalSettings:
    return NationalPortalSettings(base_url=BASE, batch_size=50)


@pytest.fixture
def conn(settings: NationalPortalSettings, portal: Portal) -> Iterator[NationalPortalConnector]:
    c = NationalPortalConnector(settings, http=httpx.Client())  # respx scripts httpx traffic
    yield c
    c.close()


def test_connector_satisfies_the_port(settings: NationalPortalSettings) -> None:
    port: Connector = build_connector(settings)
    assert (port.name, port.message_types) == (
        "national_portal",
        ("dossier.status.changed", "dossier.fee.paid", "dossier.postal.step"),
    )
    assert port.policy.batch_size == 50 and port.policy.timeout == 10.0


def test_login_sends_credentials_and_dstcode(settings: NationalPortalSettings, portal: Portal) -> None:
    client = NationalPortalClient(settings, http=httpx.Client())
    assert client.login() == "S1"
    request = portal.auth.calls.last.request
    assert json.loads(request.content) == {"username": "lgsp", "password": "lgsp-dev-password"}
    assert request.headers["dstcode"] == "DVCQG"
    assert "lgsp-dev-password" not in repr(settings)


def test_session_is_cached_and_sent_in_the_body(conn: NationalPortalConnector, portal: Portal) -> None:
    outcomes = conn.deliver([item(change())]) + conn.deliver([item(change())])
    assert [o.kind for o in outcomes] == [OutcomeKind.DELIVERED] * 2
    assert portal.auth.call_count == 1
    assert {b["session"] for b in portal.bodies} == {"S1"}
    assert all(c.request.headers["dstcode"] == "DVCQG" for c in portal.integration.calls)
    assert {b["madonvi"] for b in portal.bodies} == {"000.00.00.H56"}


@pytest.mark.parametrize(
    "expired",
    [
        {"error_code": "-2", "message": "Phiên đăng nhập hết hạn"},
        {"error_code": "99", "message": "Phiên đăng nhập không hợp lệ"},
    ],
)
def test_expired_session_logs_in_once_and_repeats_the_call(
    conn: NationalPortalConnector, portal: Portal, expired: dict[str, Any]
) -> None:
    portal.script(tr.SYNC_SERVICE, reply(expired), reply(OK))
    [outcome] = conn.deliver([item(change())])
    assert outcome.kind is OutcomeKind.DELIVERED
    assert portal.auth.call_count == 2
    assert [b["session"] for b in portal.sent(tr.SYNC_SERVICE)] == ["S1", "S2"]
    assert [b["session"] for b in portal.sent(tr.PROGRESS_SERVICE)] == ["S2"]


def test_session_expired_again_after_relogin_is_retry_not_a_loop(conn: NationalPortalConnector, portal: Portal) -> None:
    portal.script(tr.SYNC_SERVICE, reply({"error_code": "-2", "message": "Phiên đăng nhập hết hạn"}))
    [outcome] = conn.deliver([item(change())])
    assert outcome.kind is OutcomeKind.RETRY
    assert portal.auth.call_count == 2 and len(portal.sent(tr.SYNC_SERVICE)) == 2


def test_refused_login_is_retry_and_sends_nothing(conn: NationalPortalConnector, portal: Portal) -> None:
    portal.auth.mock(side_effect=None, return_value=reply({"error_code": "-1", "message": "Sai mật khẩu"}))
    [outcome] = conn.deliver([item(change())])
    assert outcome.kind is OutcomeKind.RETRY and outcome.detail.startswith("login:")
    assert portal.integration.call_count == 0


@pytest.mark.parametrize("code", [0, "0", "00"])
def test_success_code_is_read_leniently(conn: NationalPortalConnector, portal: Portal, code: Any) -> None:
    portal.script(tr.SYNC_SERVICE, reply({"error_code": code, "message": "ok"}))
    portal.script(tr.PROGRESS_SERVICE, reply({"error_code": code, "message": "ok"}))
    [outcome] = conn.deliver([item(change())])
    assert outcome.kind is OutcomeKind.DELIVERED


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(503, text="Service Unavailable"),
        httpx.Response(500, json={"error_code": "99", "message": "Lỗi hệ thống"}),
        httpx.Response(429),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
    ],
    ids=["503", "500", "429", "timeout", "connect"],
)
def test_transient_failures_are_retry_for_every_item(
    conn: NationalPortalConnector, portal: Portal, failure: httpx.Response | Exception
) -> None:
    portal.script(tr.SYNC_SERVICE, failure)
    outcomes = conn.deliver([item(change()) for _ in range(3)])
    assert [o.kind for o in outcomes] == [OutcomeKind.RETRY] * 3
    assert len(portal.sent(tr.SYNC_SERVICE)) == 1  # no item-by-item fallback for a transient failure
    assert portal.sent(tr.PROGRESS_SERVICE) == []


def test_progress_failure_is_retry(conn: NationalPortalConnector, portal: Portal) -> None:
    portal.script(tr.PROGRESS_SERVICE, httpx.Response(502))
    [outcome] = conn.deliver([item(change())])
    assert outcome.kind is OutcomeKind.RETRY and "CapNhatTienDoHoSoMC" in outcome.detail


def test_validation_rejection_is_dead_without_personal_data(conn: NationalPortalConnector, portal: Portal) -> None:
    echo = f"Dữ liệu không hợp lệ: SoGiayToChuHoSo {APPLICANT_ID} của {APPLICANT_NAME}"
    portal.script(tr.SYNC_SERVICE, reply({"error_code": "1", "message": echo}))
    [outcome] = conn.deliver([item(change())])
    assert outcome.kind is OutcomeKind.DEAD and "error_code 1" in outcome.detail
    assert APPLICANT_ID not in f"{outcome.detail}{outcome.response}"
    assert portal.sent(tr.PROGRESS_SERVICE) == []


def test_insert_that_already_exists_is_resent_as_update(conn: NationalPortalConnector, portal: Portal) -> None:
    portal.script(tr.SYNC_SERVICE, reply({"error_code": "3", "message": "Hồ sơ đã tồn tại"}), reply(OK))
    payload = change()
    [outcome] = conn.deliver([item(payload)])
    assert outcome.kind is OutcomeKind.DELIVERED and "update" in outcome.detail
    assert [b["isUpdating"] for b in portal.sent(tr.SYNC_SERVICE)] == ["False", "True"]
    assert outcome.partner_ref == "|".join(tr.progress_key(tr.to_progress(payload)))


def test_update_of_an_unknown_dossier_is_resent_as_insert(conn: NationalPortalConnector, portal: Portal) -> None:
    portal.script(tr.SYNC_SERVICE, reply({"error_code": "4", "message": "Hồ sơ không tồn tại"}), reply(OK))
    [outcome] = conn.deliver([item(change(), known=True)])
    assert outcome.kind is OutcomeKind.DELIVERED
    assert [b["isUpdating"] for b in portal.sent(tr.SYNC_SERVICE)] == ["True", "False"]


def test_is_updating_follows_what_the_ledger_knows_one_call_per_value(
    conn: NationalPortalConnector, portal: Portal
) -> None:
    items = [item(change(), known=k) for k in (False, True, False, True)]
    assert all(o.kind is OutcomeKind.DELIVERED for o in conn.deliver(items))
    calls = {b["isUpdating"]: [h["MaHoSo"] for h in b["data"]] for b in portal.sent(tr.SYNC_SERVICE)}
    assert calls == {"False": [items[0].key, items[2].key], "True": [items[1].key, items[3].key]}
    [progress] = portal.sent(tr.PROGRESS_SERVICE)
    assert sorted(e["MaHoSo"] for e in progress["data"]) == sorted(i.key for i in items)


def test_batches_are_cut_at_batch_size(portal: Portal) -> None:
    conn = NationalPortalConnector(NationalPortalSettings(base_url=BASE, batch_size=2), http=httpx.Client())
    outcomes = conn.deliver([item(change()) for _ in range(5)])
    assert all(o.kind is OutcomeKind.DELIVERED for o in outcomes)
    # the chunks of one round go side by side: they may reach the portal in any order
    assert sorted(len(b["data"]) for b in portal.sent(tr.SYNC_SERVICE)) == [1, 2, 2]
    assert sorted(len(b["data"]) for b in portal.sent(tr.PROGRESS_SERVICE)) == [1, 2, 2]


def test_rejected_batch_falls_back_to_one_call_per_item(conn: NationalPortalConnector, portal: Portal) -> None:
    bad = change(procedure_code="1.000001")

    def answer(body: dict[str, Any]) -> httpx.Response:
        if any(h["MaTTHC"] == "1.000001" for h in body["data"]):
            return reply({"error_code": "1", "message": "data[0].MaTTHC: không tồn tại trong CSDL TTHC"})
        return reply(OK)

    portal.script(tr.SYNC_SERVICE, answer)
    outcomes = conn.deliver([item(change()), item(bad), item(change())])
    assert [o.kind for o in outcomes] == [OutcomeKind.DELIVERED, OutcomeKind.DEAD, OutcomeKind.DELIVERED]
    assert [len(b["data"]) for b in portal.sent(tr.SYNC_SERVICE)] == [3, 1, 1, 1]
    [progress] = portal.sent(tr.PROGRESS_SERVICE)
    assert bad["dossier_code"] not in {e["MaHoSo"] for e in progress["data"]}


def test_rejected_progress_batch_falls_back_to_one_call_per_item(conn: NationalPortalConnector, portal: Portal) -> None:
    def answer(body: dict[str, Any]) -> httpx.Response:
        if any(e["TrangThai"] == "4" for e in body["data"]):
            return reply({"error_code": "1", "message": "data[0].NoiDungXuLy: bắt buộc"})
        return reply(OK)

    portal.script(tr.PROGRESS_SERVICE, answer)
    outcomes = conn.deliver([item(change(status=2)), item(change(status=4)), item(change(status=9))])
    assert [o.kind for o in outcomes] == [OutcomeKind.DELIVERED, OutcomeKind.DEAD, OutcomeKind.DELIVERED]
    assert [len(b["data"]) for b in portal.sent(tr.PROGRESS_SERVICE)] == [3, 1, 1, 1]


def test_in_doubt_item_already_at_the_portal_is_not_resent(conn: NationalPortalConnector, portal: Portal) -> None:
    payload = change()
    stored = tr.to_hoso(payload) | {tr.PROGRESS_LIST_KEY: [tr.to_progress(payload)]}
    portal.script(tr.LOOKUP_SERVICE, reply({"error_code": "0", "result": [stored]}))
    [outcome] = conn.deliver([item(payload, in_doubt=True)])
    assert outcome.kind is OutcomeKind.DELIVERED and "TraCuuHoSo" in outcome.detail
    assert [b["mahoso"] for b in portal.sent(tr.LOOKUP_SERVICE)] == [payload["dossier_code"]]
    assert portal.integration.call_count == 0


def test_in_doubt_item_of_a_known_dossier_is_sent_as_update(conn: NationalPortalConnector, portal: Portal) -> None:
    earlier, payload = change(status=2), None
    payload = change(int(earlier["dossier_code"][-4:]), status=4)
    stored = tr.to_hoso(earlier) | {tr.PROGRESS_LIST_KEY: [tr.to_progress(earlier)]}
    portal.script(tr.LOOKUP_SERVICE, reply({"error_code": "0", "result": [stored]}))
    [outcome] = conn.deliver([item(payload, known=False, in_doubt=True)])
    assert outcome.kind is OutcomeKind.DELIVERED
    assert [b["isUpdating"] for b in portal.sent(tr.SYNC_SERVICE)] == ["True"]
    assert [e["TrangThai"] for e in portal.sent(tr.PROGRESS_SERVICE)[0]["data"]] == ["4"]


def test_in_doubt_item_unknown_to_the_portal_is_sent_as_insert(conn: NationalPortalConnector, portal: Portal) -> None:
    portal.script(tr.LOOKUP_SERVICE, reply({"error_code": "0", "message": "Không tìm thấy", "result": []}))
    [outcome] = conn.deliver([item(change(), known=True, in_doubt=True)])
    assert outcome.kind is OutcomeKind.DELIVERED
    assert [b["isUpdating"] for b in portal.sent(tr.SYNC_SERVICE)] == ["False"]


def test_a_retry_is_looked_up_first_only_in_doubt_unless_lookup_on_retry(portal: Portal) -> None:
    NationalPortalConnector(NationalPortalSettings(base_url=BASE), http=httpx.Client()).deliver(
        [item(change(), attempt=2)]
    )
    assert len(portal.sent(tr.LOOKUP_SERVICE)) == 0  # the last attempt had a definite answer
    always = NationalPortalSettings(base_url=BASE, lookup_on_retry=True)
    NationalPortalConnector(always, http=httpx.Client()).deliver([item(change(), attempt=2)])
    assert len(portal.sent(tr.LOOKUP_SERVICE)) == 1


def test_failed_lookup_is_retry_and_sends_nothing(conn: NationalPortalConnector, portal: Portal) -> None:
    portal.script(tr.LOOKUP_SERVICE, httpx.Response(504))
    [outcome] = conn.deliver([item(change(), in_doubt=True)])
    assert outcome.kind is OutcomeKind.RETRY and outcome.detail.startswith("TraCuuHoSo")
    assert portal.integration.call_count == 0


def test_changes_of_one_dossier_go_in_order_in_successive_calls(conn: NationalPortalConnector, portal: Portal) -> None:
    first = change(status=2)
    second = change(int(first["dossier_code"][-4:]), status=4)
    outcomes = conn.deliver([item(first), item(second)])
    assert [o.kind for o in outcomes] == [OutcomeKind.DELIVERED] * 2
    assert [b["isUpdating"] for b in portal.sent(tr.SYNC_SERVICE)] == ["False", "True"]
    assert [[e["TrangThai"] for e in b["data"]] for b in portal.sent(tr.PROGRESS_SERVICE)] == [["2"], ["4"]]


def test_a_later_change_waits_when_an_earlier_one_must_be_retried(
    conn: NationalPortalConnector, portal: Portal
) -> None:
    first = change(status=2)
    second = change(int(first["dossier_code"][-4:]), status=4)
    portal.script(tr.SYNC_SERVICE, httpx.Response(503))
    outcomes = conn.deliver([item(first), item(second)])
    assert [o.kind for o in outcomes] == [OutcomeKind.RETRY, OutcomeKind.RETRY]
    assert len(portal.sent(tr.SYNC_SERVICE)) == 1


def test_unhandled_message_type_is_dead(conn: NationalPortalConnector, portal: Portal) -> None:
    [outcome] = conn.deliver([item(change(), type="payment.confirmed")])
    assert outcome.kind is OutcomeKind.DEAD
    assert portal.integration.call_count == 0


def test_lookup_dossier_returns_the_stored_record_or_none(settings: NationalPortalSettings, portal: Portal) -> None:
    client = NationalPortalClient(settings, http=httpx.Client())
    portal.script(tr.LOOKUP_SERVICE, reply({"error_code": "0", "result": []}))
    assert client.lookup_dossier("000.00.00.H56-250225-0001") is None
    portal.script(tr.LOOKUP_SERVICE, reply({"error_code": "0", "result": [{"MaHoSo": "000.00.00.H56-250225-0001"}]}))
    assert client.lookup_dossier("000.00.00.H56-250225-0001") == {"MaHoSo": "000.00.00.H56-250225-0001"}
    portal.script(tr.LOOKUP_SERVICE, reply({"error_code": "1", "message": "mahoso: bắt buộc"}))
    with pytest.raises(PortalError) as raised:
        client.lookup_dossier("")
    assert raised.value.verdict is Verdict.PERMANENT
