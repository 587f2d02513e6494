"""What the VNPost connector tells the evidence log: each outcome carries what was asked of VNPost
(``request``: the order or the cancel) and what it answered (``answer``, or its error code), so the
attempt's fact holds their keyed digests, as the portal's and the webhooks' outcomes do."""

from __future__ import annotations

from pydantic import SecretStr

from connectors.vnpost import VnpostConnector, VnpostSettings
from hub.envelope import utcnow
from hub.evidence.facts import EvidenceLog
from hub.evidence.keyring import Keyring
from hub.ledger.model import Claim
from hub.postal.port import CancelResult, OrderAccepted, PostalPermanentError
from tests.vnpost.conftest import CUSTOMER, order
from tests.vnpost.test_connector import Gateway, cancel_item, order_item


def test_outcomes_carry_what_was_asked_and_answered_and_the_facts_hold_their_digests() -> None:
    o, refused = order(), order()
    accepted = OrderAccepted(customer_code=CUSTOMER, order_number=o.order_number, partner_code="100")
    cancelled = CancelResult(customer_code=CUSTOMER, order_number=o.order_number, partner_code="100")
    gw = Gateway(accepted, cancelled, PostalPermanentError("order", "SenderTel: bắt buộc", "102"))
    items = [order_item(o), cancel_item(o), order_item(refused)]
    outcomes = VnpostConnector(VnpostSettings(), gw).deliver(items)
    assert outcomes[0].request == o.model_dump(mode="json") and outcomes[0].answer == accepted.model_dump(mode="json")
    assert (outcomes[1].request["customer_code"], outcomes[1].request["order_number"]) == (CUSTOMER, o.order_number)
    assert outcomes[1].answer == cancelled.model_dump(mode="json")
    assert outcomes[2].request == refused.model_dump(mode="json") and outcomes[2].response == "102"

    ring = Keyring({"1": SecretStr("k" * 32)})
    claims = [Claim(i, it, worker="w1") for i, it in enumerate(items)]
    facts = [f for _, f in EvidenceLog(ring).outcomes(claims, outcomes, {}, utcnow())]
    assert [f.digests["request"] for f in facts] == [ring.json(oc.request) for oc in outcomes]
    assert facts[0].digests["answer"] == ring.json(accepted.model_dump(mode="json"))
    assert facts[2].digests["answer"] == ring.bytes(b"102")  # the refusal's code
    assert all(o.order_number not in str(f.digests) for f in facts)  # digests, never the order in clear
