"""The console's Reports page (Báo cáo): the registry of ``hub/reports.py`` over days of the province's
zone, as a table and as a CSV download; viewers may read it, nobody logged out may."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

from hub import reports
from tests.console.conftest import login
from tests.console.seed import Seeded


def test_reports_page_shows_every_report_and_downloads_csv(seeded: Seeded, client: TestClient) -> None:
    assert client.get("/console/reports", follow_redirects=False).status_code == 303  # log in first
    viewer = login(client, "vy")
    page = viewer.get("/console/reports")
    assert page.status_code == 200 and "Báo cáo" in page.text and 'id="report-rows"' in page.text
    for name in reports.REPORTS:  # each report is offered, in Vietnamese
        assert f'value="{name}"' in page.text
    assert "Đã nhận" in page.text  # the exchanges' column "accepted", translated
    assert "national_portal" in page.text  # the seeded ledger's partner is counted

    viewer.cookies.set("lgsp_console_lang", "en")
    english = viewer.get("/console/reports?name=portal_sync")
    assert english.status_code == 200 and "Share synced" in english.text

    got = viewer.get("/console/reports.csv?name=exchanges")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert "attachment" in got.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert rows and set(rows[0]) == set(reports.REPORTS["exchanges"].columns)
    seeded_ids = seeded.journey_messages + seeded.validation_dead + seeded.outage_dead + seeded.retrying
    assert sum(int(r["accepted"]) for r in rows) >= len(seeded_ids) > 0


def test_reports_page_names_a_bad_period(seeded: Seeded, client: TestClient) -> None:
    viewer = login(client, "vy")
    not_a_day = viewer.get("/console/reports?since=2026-02-30")
    assert not_a_day.status_code == 422 and "yyyy-mm-dd" in not_a_day.text
    backwards = viewer.get("/console/reports?since=2026-03-02&until=2026-03-01")
    assert backwards.status_code == 422 and 'role="alert"' in backwards.text
    assert viewer.get("/console/reports.csv?name=nothing").status_code == 422
    assert viewer.get("/console/reports.csv?since=1999-01-01&until=2026-01-01").status_code == 422  # over a year
