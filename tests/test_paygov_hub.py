"""PayGov through the whole hub against the strict mock (in process): a failed payment found by
reconciliation is failed and announced (queried with its opening time, TrangThaiGD 4); a citizen who
takes twenty minutes to pay is paid; the receipt comes from the agency directory; the payer's ID number
is never logged or stored."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from structlog.testing import capture_logs

from connectors.payment_napas import PayGovGateway
from hub.db.schema import messages, payment_events, payments
from hub.payments.port import OrderCreated, PaymentOrder
from hub.payments.reconcile import reconcile
from tests import factories
from tests.factories import TEST_AGENCY
from tests.test_payments_api import Rig, rig  # noqa: F401  (the fixture)

ID_NUMBER = "038090001234"


def _subscribe(rig: Rig) -> None:  # noqa: F811
    rig.api.post(
        "/v1/subscriptions",
        json={"url": "http://127.0.0.1:9/hooks", "event_types": ["payment.status.changed"]},
        headers=rig.auth,
    ).raise_for_status()


def test_a_failed_payment_is_found_by_reconciliation_marked_failed_and_announced(rig: Rig) -> None:  # noqa: F811
    _subscribe(rig)
    rig.faults(drop_callbacks=True)  # the gateway's confirm never comes
    p = rig.open("paygov").json()
    rig.act(p["id"], "decline")
    assert rig.state(p["id"]) == "pending"
    # the query carries the INIT time (the strict mock refuses another) and reads TrangThaiGD 4 as failed
    assert reconcile(rig.hub.payments, older_than=0) == 1
    assert rig.state(p["id"]) == "failed"
    history = rig.api.get(f"/v1/payments/{p['id']}", headers=rig.auth).json()["history"]
    assert [(e["kind"], e["outcome"]) for e in history][-2:] == [("query", "failed"), ("announce", "queued")]
    assert rig.count(messages, type="payment.status.changed") == 1
    assert rig.count(messages, type="dossier.fee.paid", key=p["dossier_code"]) == 0
    assert rig.gateway.get("/_mock/stats").json()["rejected_by_code"] == {}  # no query was refused


def test_a_pending_payment_stays_pending_and_is_asked_again(rig: Rig) -> None:  # noqa: F811
    p = rig.open("paygov").json()
    assert reconcile(rig.hub.payments, older_than=0) == 0
    with rig.hub.engine.connect() as c:
        outcome = c.execute(
            select(payment_events.c.outcome, payment_events.c.detail).where(payment_events.c.kind == "query")
        ).one()
    assert tuple(outcome) == ("pending", "code 00/3") and rig.state(p["id"]) == "pending"


def test_a_citizen_who_takes_twenty_minutes_to_pay_is_paid_and_answered_with_the_echo(rig: Rig) -> None:  # noqa: F811
    p = rig.open("paygov").json()
    rig.clock.offset = timedelta(minutes=20)  # the confirm signs the opening time, now twenty minutes old
    rig.act(p["id"], "pay")
    [cb] = rig.callbacks(p["id"])
    assert cb["status"] == 200 and cb["echoed"] is True and cb["answer"]["MaLoi"] == "00"
    assert rig.state(p["id"]) == "paid"


def test_the_receipt_comes_from_the_agency_directory_and_the_id_number_stays_out_of_logs(rig: Rig) -> None:  # noqa: F811
    gateway = rig.hub.payments.gateways["paygov"]
    assert isinstance(gateway, PayGovGateway)
    sent: list[PaymentOrder] = []
    real = gateway.create_order

    def spy(order: PaymentOrder) -> OrderCreated:
        sent.append(order)
        return real(order)

    gateway.create_order = spy  # type: ignore[method-assign]
    with capture_logs() as logs:
        r = rig.open("paygov", payer={"name": "Nguyễn Văn An", "id_number": ID_NUMBER})
        assert r.status_code == 201, r.text
        rig.act(r.json()["id"], "pay")
    [order] = sent
    assert order.beneficiary == TEST_AGENCY.paygov and order.opened_at is not None
    bill: dict[str, Any] = gateway.format.init_body(order, order.opened_at)["ThongTinBienLai"]
    assert (bill["TKThuHuong"], bill["TenDonVi"], bill["SoCMNDNguoiNop"], bill["TenTTHC"]) == (
        TEST_AGENCY.paygov.account,  # type: ignore[union-attr]
        TEST_AGENCY.paygov.unit_name,  # type: ignore[union-attr]
        ID_NUMBER,
        "Cấp giấy phép xây dựng",
    )
    assert ID_NUMBER not in repr(order) and ID_NUMBER not in json.dumps(logs, default=str, ensure_ascii=False)
    with rig.hub.engine.connect() as c:
        stored = c.execute(select(payments)).one()
        opened_at = stored.opened_at
    assert ID_NUMBER not in json.dumps(dict(stored._mapping), default=str, ensure_ascii=False)
    assert opened_at is not None and abs((opened_at - order.opened_at).total_seconds()) < 1


def test_a_repeat_of_an_opened_payment_is_that_payment_even_after_its_agency_lost_its_configuration(
    rig: Rig,  # noqa: F811
) -> None:
    from hub.agencies.directory import DbAgencies

    body = {"client_reference": "REPEAT-1", "dossier_code": factories.dossier_code()}
    first = rig.open("paygov", **body)
    assert first.status_code == 201, first.text
    DbAgencies(rig.hub.engine).change(TEST_AGENCY.code, {}, unset=("paygov",))
    again = rig.open("paygov", **body)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]  # accepted is never lost
    other = rig.open("paygov", client_reference="REPEAT-2")
    assert other.status_code == 422 and other.json()["type"].endswith("agency_not_configured")
