"""Reports for the province and the ministry, over a time window: one registry, CSV or JSON.

* ``exchanges``: messages accepted per day, agency (the payload's ``agency_code``, madonvi), client
  system, partner (connector) and type, with how many are delivered, dead or still on their way;
* ``portal_sync``: per agency, the dossiers the hub sent to the national portal (DVCQG) whose status
  changes were accepted in the window, the share synced (every change delivered), and of the
  finished ones the share on time (``finished_at`` NgayKetThucXuLy <= ``appointment_at``
  NgayHenTra, the QĐ 766 KPI);
* ``payments``: payments settled per day, gateway profile and outcome, with amounts;
* ``parcels``: VNPost parcels that reached a final status (delivered, returned, cancelled) per day,
  agency and kind (pickup of a dossier, delivery of a result), with the cash collected at the door
  and the median hours from the order to that status.

Days begin in ``HUB_REPORT_TIMEZONE`` (Asia/Ho_Chi_Minh). Only non-personal payload fields are read,
so the reports stay whole after retention has redacted payloads.

**Extension point**: a new report is one :class:`Report` added to :data:`REPORTS` (and its name to
``hub.reports_cli.NAMES``); the CLI (``lgsp reports <name>``), the admin API
(``GET /v1/reports/<name>``) and the console's Reports page pick it up.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, case, func, select
from sqlalchemy.sql import ColumnElement

from hub.db.schema import messages, payments, postal_orders
from hub.messages import DOSSIER_STATUS_CHANGED
from hub.postal.rules import FINAL, ParcelStatus

PORTAL = "national_portal"
FINISHED = {8, 9, 10}  # stopped, finished, returned: processing has ended (external-systems.md §1.4)


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime

    @classmethod
    def of(cls, since: datetime, until: datetime) -> Window:
        if since.tzinfo is None or until.tzinfo is None:
            raise ValueError("since, until: need a time zone")
        if until <= since:
            raise ValueError("until: must be after since")
        return cls(since, until)


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class Report:
    title: str
    columns: tuple[str, ...]
    query: Callable[[Connection, Window, str], list[dict[str, Any]]]


def _day(c: Connection, column: Any, tz: str) -> ColumnElement[Any]:
    if c.dialect.name == "postgresql":
        return func.to_char(func.timezone(tz, column), "YYYY-MM-DD")
    offset = datetime.now(ZoneInfo(tz)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return func.strftime("%Y-%m-%d", column, f"{minutes:+d} minutes")


def _field(name: str) -> ColumnElement[str]:
    # as_string() comes from the JSON type's comparator, which SQLAlchemy reaches dynamically (typed Any)
    text: ColumnElement[str] = messages.c.payload[name].as_string()
    return text


def exchanges(c: Connection, w: Window, tz: str) -> list[dict[str, Any]]:
    m = messages
    day = _day(c, m.c.accepted_at, tz).label("day")
    agency = func.coalesce(_field("agency_code"), "").label("agency")

    def count(*states: str) -> Any:
        return func.sum(case((m.c.state.in_(states), 1), else_=0))

    q = (
        select(
            day,
            agency,
            m.c.source,
            m.c.connector,
            m.c.type,
            func.count().label("accepted"),
            count("delivered").label("delivered"),
            count("dead").label("dead"),
        )
        .where(m.c.accepted_at >= w.since, m.c.accepted_at < w.until)
        .group_by(day, agency, m.c.source, m.c.connector, m.c.type)
        .order_by(day, agency, m.c.source, m.c.connector, m.c.type)
    )
    out = []
    for r in c.execute(q):
        row = dict(r._mapping)
        row["in_progress"] = row["accepted"] - row["delivered"] - row["dead"]
        row["partner"] = row.pop("connector")
        row["client"] = row.pop("source")
        out.append(row)
    return out


def portal_sync(c: Connection, w: Window, tz: str) -> list[dict[str, Any]]:
    m = messages
    q = (
        select(
            m.c.key,
            _field("agency_code"),
            m.c.payload["status"].as_string(),
            m.c.state,
            _field("finished_at"),
            _field("appointment_at"),
        )
        .where(
            m.c.connector == PORTAL,
            m.c.type == DOSSIER_STATUS_CHANGED,
            m.c.accepted_at >= w.since,
            m.c.accepted_at < w.until,
        )
        .order_by(m.c.key, m.c.occurred_at, m.c.id)
    )  # a dossier's changes in order: its latest appointment wins
    dossiers: dict[str, dict[str, Any]] = {}
    for key, agency, status, state, finished_at, appointment_at in c.execute(q):
        d = dossiers.setdefault(key, {"agency": agency or "", "synced": True, "finished": None, "due": None})
        d["synced"] = d["synced"] and state == "delivered"
        if status is not None and int(status) in FINISHED and finished_at:
            d["finished"] = min(filter(None, (d["finished"], _at(finished_at))))
        if appointment_at:
            d["due"] = _at(appointment_at)
    per: dict[str, dict[str, int]] = defaultdict(lambda: {"dossiers": 0, "synced": 0, "finished": 0, "on_time": 0})
    for d in dossiers.values():
        for agency in (d["agency"], "*"):
            a = per[agency]
            a["dossiers"] += 1
            a["synced"] += d["synced"]
            if d["finished"] is not None:
                a["finished"] += 1
                a["on_time"] += d["due"] is not None and d["finished"] <= d["due"]
    return [
        {
            "agency": agency,
            **a,
            "synced_share": _share(a["synced"], a["dossiers"]),
            "on_time_share": _share(a["on_time"], a["finished"]),
        }
        for agency, a in sorted(per.items(), key=lambda kv: (kv[0] == "*", kv[0]))
    ]


def settled_payments(c: Connection, w: Window, tz: str) -> list[dict[str, Any]]:
    p = payments
    day = _day(c, p.c.settled_at, tz).label("day")
    q = (
        select(day, p.c.profile, p.c.state, func.count().label("payments"), func.sum(p.c.amount).label("amount"))
        .where(p.c.settled_at >= w.since, p.c.settled_at < w.until)
        .group_by(day, p.c.profile, p.c.state)
        .order_by(day, p.c.profile, p.c.state)
    )
    return [{**r._mapping, "amount": int(r.amount or 0)} for r in c.execute(q)]


PARCEL_FINAL = sorted(status.value for status in FINAL)  # as stored in postal_orders.status


def parcels(c: Connection, w: Window, tz: str) -> list[dict[str, Any]]:
    o = postal_orders
    day = _day(c, o.c.status_at, tz).label("day")
    q = (
        select(day, o.c.agency_code, o.c.kind, o.c.status, o.c.created_at, o.c.status_at, o.c.details)
        .where(o.c.status.in_(PARCEL_FINAL), o.c.status_at >= w.since, o.c.status_at < w.until)
        .order_by(day, o.c.agency_code, o.c.kind, o.c.status)
    )
    groups: dict[tuple[str, str, str, str], list[tuple[float, int]]] = defaultdict(list)
    for r in c.execute(q):
        hours = max(0.0, (r.status_at - r.created_at).total_seconds() / 3600)
        cod = int((r.details or {}).get("cod_amount") or 0) if r.status == ParcelStatus.DELIVERED else 0
        groups[(r.day, r.agency_code, r.kind, r.status)].append((hours, cod))
    out = []
    for (d, agency, kind, status), items in groups.items():
        median = statistics.median(h for h, _ in items)
        out.append(
            {
                "day": d,
                "agency": agency,
                "kind": kind,
                "status": status,
                "parcels": len(items),
                "cod_collected": sum(cod for _, cod in items),
                "median_hours": f"{median:.1f}",
            }
        )
    return out


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.4f}" if whole else ""


REPORTS: dict[str, Report] = {
    "exchanges": Report(
        "Messages accepted per day, agency, client, partner and type, with their outcome",
        ("day", "agency", "client", "partner", "type", "accepted", "delivered", "dead", "in_progress"),
        exchanges,
    ),
    "portal_sync": Report(
        "Dossiers synced to the national portal and finished on time, per agency (* = all)",
        ("agency", "dossiers", "synced", "synced_share", "finished", "on_time", "on_time_share"),
        portal_sync,
    ),
    "payments": Report(
        "Payments settled per day, gateway profile and outcome",
        ("day", "profile", "state", "payments", "amount"),
        settled_payments,
    ),
    "parcels": Report(
        "VNPost parcels that reached a final status per day, agency and kind",
        ("day", "agency", "kind", "status", "parcels", "cod_collected", "median_hours"),
        parcels,
    ),
}


def run(engine: Engine, name: str, window: Window, tz: str) -> Table:
    report = REPORTS[name]
    with engine.connect() as c:
        rows = report.query(c, window, tz)
    return Table(report.columns, [{k: row.get(k) for k in report.columns} for row in rows])


def to_csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=table.columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table.rows)
    return buf.getvalue()


def to_json(table: Table) -> str:
    return json.dumps({"columns": list(table.columns), "rows": table.rows}, ensure_ascii=False) + "\n"
