"""The connector under a lease: no call the attempt's budget does not allow, in-doubt only
when the portal may hold a change without having said so, lookups side by side (respx)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

import httpx
import pytest

from connectors.national_portal import NationalPortalSettings
from connectors.national_portal import translate as tr
from connectors.national_portal.client import NationalPortalConnector
from hub.ports import NOT_ATTEMPTED, LeaseBudget, OutcomeKind

from .conftest import change, item
from .test_client import BASE, Portal, conn, portal, reply, settings  # noqa: F401 (fixtures)


class Ticks:
    """A monotonic clock that moves on by ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.t, self.step = 0.0, step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


def test_a_revoked_budget_sends_nothing(conn: NationalPortalConnector, portal: Portal) -> None:  # noqa: F811
    budget = LeaseBudget(deadline=1e9)
    budget.revoke()
    outcomes = conn.deliver([replace(item(change(), in_doubt=True), budget=budget)])
    assert [(o.kind, o.in_doubt) for o in outcomes] == [(OutcomeKind.RETRY, True)]  # still in doubt
    assert NOT_ATTEMPTED in outcomes[0].detail
    assert portal.bodies == [] and portal.auth.call_count == 0


def test_no_call_starts_that_could_outlive_the_lease(conn: NationalPortalConnector, portal: Portal) -> None:  # noqa: F811
    """Timeout 10 s, margin 2 s, the clock moves 1 s per look: the login and the sync fit, the
    progress call would not (it could end after the lease): not sent, and not in doubt."""
    budget = LeaseBudget(deadline=14.5, margin=2.0, clock=Ticks(1.0))
    [outcome] = conn.deliver([replace(item(change()), budget=budget)])
    assert outcome.kind is OutcomeKind.RETRY and not outcome.in_doubt
    assert NOT_ATTEMPTED in outcome.detail
    assert [b["service"] for b in portal.bodies] == [tr.SYNC_SERVICE]


@pytest.mark.parametrize(
    ("answer", "in_doubt"),
    [
        (httpx.ReadTimeout("read timed out"), True),  # sent, no answer: it may have landed
        (httpx.RemoteProtocolError("server disconnected"), True),
        (httpx.Response(500, json={"error_code": "99"}), True),  # a server error after it got the call
        (httpx.Response(504), True),
        (httpx.ConnectError("connection refused"), False),  # nothing left this machine
        (httpx.Response(503), False),  # refused before any work
        (httpx.Response(429), False),
    ],
)
def test_a_failed_progress_call_is_in_doubt_only_if_the_portal_may_have_acted(
    conn: NationalPortalConnector,  # noqa: F811
    portal: Portal,  # noqa: F811
    answer: httpx.Response | Exception,
    in_doubt: bool,
) -> None:
    portal.script(tr.PROGRESS_SERVICE, answer)
    [outcome] = conn.deliver([item(change())])
    assert (outcome.kind, outcome.in_doubt) == (OutcomeKind.RETRY, in_doubt)


def test_a_failed_sync_leaves_the_doubt_as_it_was(conn: NationalPortalConnector, portal: Portal) -> None:  # noqa: F811
    portal.script(tr.SYNC_SERVICE, httpx.ReadTimeout("read timed out"))  # an upsert: harmless to repeat
    [outcome] = conn.deliver([item(change())])
    assert (outcome.kind, outcome.in_doubt) == (OutcomeKind.RETRY, False)


def test_a_lookup_settles_the_doubt(conn: NationalPortalConnector, portal: Portal) -> None:  # noqa: F811
    portal.script(tr.LOOKUP_SERVICE, reply({"error_code": "0", "result": []}))
    portal.script(tr.SYNC_SERVICE, httpx.Response(503))
    [outcome] = conn.deliver([item(change(), in_doubt=True)])
    assert (outcome.kind, outcome.in_doubt) == (OutcomeKind.RETRY, False)  # not there, then refused
    portal.script(tr.LOOKUP_SERVICE, httpx.Response(503))
    [outcome] = conn.deliver([item(change(), in_doubt=True)])
    assert (outcome.kind, outcome.in_doubt) == (OutcomeKind.RETRY, True)  # nothing settled it


def test_lookups_run_side_by_side_bounded(portal: Portal) -> None:  # noqa: F811
    in_flight, most, lock = [0], [0], threading.Lock()

    def slow_lookup(body: dict[str, Any]) -> httpx.Response:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.05)
        with lock:
            in_flight[0] -= 1
        return reply({"error_code": "0", "result": []})

    portal.script(tr.LOOKUP_SERVICE, slow_lookup)
    connector = NationalPortalConnector(
        NationalPortalSettings(base_url=BASE, lookup_concurrency=4), http=httpx.Client()
    )
    try:
        outcomes = connector.deliver([item(change(), in_doubt=True) for _ in range(12)])
    finally:
        connector.close()
    assert [o.kind for o in outcomes] == [OutcomeKind.DELIVERED] * 12
    assert len(portal.sent(tr.LOOKUP_SERVICE)) == 12
    assert 2 <= most[0] <= 4, most[0]
