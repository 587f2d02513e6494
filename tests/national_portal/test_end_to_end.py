"""The real connector against the mock portal: in process (TestClient) and over real sockets (uvicorn)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient

from connectors.national_portal import NationalPortalSettings
from connectors.national_portal import translate as tr
from connectors.national_portal.client import NationalPortalConnector
from connectors.national_portal.mock import Faults, create_app
from hub.ports import DeliveryItem, Outcome, OutcomeKind

from .conftest import APPLICANT_ID, APPLICANT_NAME, change, item


def stats(client: httpx.Client, base: str = "") -> dict[str, Any]:
    return dict(client.get(f"{base}/_mock/stats").json())


def test_a_dossier_lifecycle_reaches_the_portal(connector: NationalPortalConnector, mock_client: TestClient) -> None:
    first = change(status=1)
    number = int(first["dossier_code"][-4:])
    known = False
    for step, status in enumerate((1, 2, 4, 5, 4, 9, 10)):
        payload = change(number, status=status, minute=step)
        [outcome] = connector.deliver([item(payload, known=known)])
        assert outcome.kind is OutcomeKind.DELIVERED, outcome
        known = True
    view = mock_client.get(f"/_mock/dossiers/{first['dossier_code']}").json()
    assert view["HoSo"]["TrangThaiHoSo"] == "10"
    assert [e["TrangThai"] for e in view[tr.PROGRESS_LIST_KEY]] == ["1", "2", "4", "5", "4", "9", "10"]
    assert stats(mock_client)["duplicate_progress_entries"] == 0


def test_a_full_batch_goes_in_one_sync_and_progress_calls_of_ten(
    connector: NationalPortalConnector, mock_client: TestClient
) -> None:
    outcomes = connector.deliver([item(change()) for _ in range(40)])
    assert all(o.kind is OutcomeKind.DELIVERED for o in outcomes)
    counters = stats(mock_client)
    # progress entries go 10 per call (PortalLimits.progress_per_call, THH's chunks)
    assert counters["calls"] == {"auth": 1, tr.SYNC_SERVICE: 1, tr.PROGRESS_SERVICE: 4}
    assert counters["dossiers"] == counters["progress_entries"] == 40


def test_one_invalid_item_does_not_sink_its_batch(connector: NationalPortalConnector, mock_client: TestClient) -> None:
    invalid = change(status=4)  # the portal needs NgayTiepNhan from status 2 on: a message queued before the
    invalid["received_at"] = None  # hub required it lacks one, and the portal refuses it
    outcomes = connector.deliver([item(change()), item(invalid), item(change())])
    assert [o.kind for o in outcomes] == [OutcomeKind.DELIVERED, OutcomeKind.DEAD, OutcomeKind.DELIVERED]
    assert "NgayTiepNhan" in outcomes[1].detail
    for outcome in outcomes:
        assert APPLICANT_NAME not in f"{outcome.detail}{outcome.response}"
        assert APPLICANT_ID not in f"{outcome.detail}{outcome.response}"
    assert stats(mock_client)["dossiers"] == 2


def test_expired_session_is_renewed(connector: NationalPortalConnector, mock_client: TestClient) -> None:
    assert connector.deliver([item(change())])[0].kind is OutcomeKind.DELIVERED
    mock_client.post("/_mock/faults", json={"expire_sessions": True}).raise_for_status()
    assert connector.deliver([item(change())])[0].kind is OutcomeKind.DELIVERED
    assert stats(mock_client)["calls"]["auth"] == 2


def test_redelivery_of_a_landed_change_creates_no_duplicate(
    connector: NationalPortalConnector, mock_client: TestClient
) -> None:
    payload = change()
    assert connector.deliver([item(payload)])[0].kind is OutcomeKind.DELIVERED
    # the hub crashed before recording the outcome: the same message comes back, in doubt
    [again] = connector.deliver([item(payload, in_doubt=True, attempt=2)])
    assert again.kind is OutcomeKind.DELIVERED and "TraCuuHoSo" in again.detail
    counters = stats(mock_client)
    assert (counters["progress_entries"], counters["duplicate_progress_entries"]) == (1, 0)
    # without the check (not in doubt, first attempt) the portal would append it again: the counter sees it
    assert connector.deliver([item(payload, known=True)])[0].kind is OutcomeKind.DELIVERED
    assert stats(mock_client)["duplicate_progress_entries"] == 1


def test_an_insert_the_ledger_did_not_know_about_becomes_an_update(
    connector: NationalPortalConnector, mock_client: TestClient
) -> None:
    first = change(status=2)
    assert connector.deliver([item(first)])[0].kind is OutcomeKind.DELIVERED
    later = change(int(first["dossier_code"][-4:]), status=4)
    [outcome] = connector.deliver([item(later, known=False)])  # e.g. another hub instance sent the first one
    assert outcome.kind is OutcomeKind.DELIVERED and "update" in outcome.detail
    assert stats(mock_client)["rejected_by_code"] == {"3": 1}


def _deliver_until_done(connector: NationalPortalConnector, items: list[DeliveryItem], rounds: int) -> list[Outcome]:
    """What the hub does: redeliver what got RETRY, attempt + 1, until every item has a final outcome."""
    final: dict[str, Outcome] = {}
    pending = items
    for _ in range(rounds):
        outcomes = connector.deliver(pending)
        final.update(
            {i.message_id: o for i, o in zip(pending, outcomes, strict=True) if o.kind is not OutcomeKind.RETRY}
        )
        pending = [
            DeliveryItem(i.message_id, i.type, i.key, i.payload, i.attempt + 1, i.key_known_to_partner, i.in_doubt)
            for i, o in zip(pending, outcomes, strict=True)
            if o.kind is OutcomeKind.RETRY
        ]
        if not pending:
            break
    assert not pending, f"{len(pending)} items still pending"
    return [final[i.message_id] for i in items]


def test_random_server_errors_end_delivered_exactly_once() -> None:
    app = create_app(Faults(failure_rate=0.3, error_5xx_rate=0.1, seed=11))
    with TestClient(app, base_url="http://testserver") as client:
        connector = NationalPortalConnector(
            # one call at a time: the seeded fault dice then fall the same way every run
            NationalPortalSettings(base_url="http://testserver", batch_size=10, lookup_concurrency=1),
            http=client,
        )
        items = [item(change()) for _ in range(60)]
        outcomes = _deliver_until_done(connector, items, rounds=40)
        assert all(o.kind is OutcomeKind.DELIVERED for o in outcomes)
        counters = stats(client)
        assert sum(counters["faults_injected"].values()) > 0
        assert (counters["dossiers"], counters["progress_entries"], counters["duplicate_progress_entries"]) == (
            60,
            60,
            0,
        )


def test_timeouts_and_outage_over_real_sockets(live_url: str) -> None:
    settings = NationalPortalSettings(base_url=live_url, timeout=0.3)
    connector = NationalPortalConnector(settings)
    try:
        httpx.post(f"{live_url}/_mock/faults", json={"timeout_rate": 1.0, "hang_seconds": 1.0}).raise_for_status()
        payload = change()
        [outcome] = connector.deliver([item(payload)])
        assert outcome.kind is OutcomeKind.RETRY and "Timeout" in outcome.detail
        httpx.post(f"{live_url}/_mock/faults", json={"timeout_rate": 0.0, "outage_seconds": 30}).raise_for_status()
        [outcome] = connector.deliver([item(payload, attempt=2)])
        assert outcome.kind is OutcomeKind.RETRY and "HTTP 503" in outcome.detail
        httpx.post(f"{live_url}/_mock/faults", json={"outage_seconds": 0}).raise_for_status()
        [outcome] = connector.deliver([item(payload, attempt=3)])
        assert outcome.kind is OutcomeKind.DELIVERED
        with httpx.Client() as client:
            counters = stats(client, live_url)
        assert (counters["progress_entries"], counters["duplicate_progress_entries"]) == (1, 0)
    finally:
        connector.close()
