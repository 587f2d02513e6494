"""The postal service: orders through the ledger, tracking applied once and in order, announced.

- **Ordering** (:meth:`Postal.order`): the agency's VNPost sender (``hub.agencies``), the parties'
  official unit codes resolved to VNPost's ids (``hub.postal.units``; an address that cannot be
  mapped is ``UnmappableUnit``, never a guess), then, in one transaction, the order's row and its
  ``postal.order.requested`` ledger message (delivered by the vnpost connector with retries, dead
  letters, replay and trace, like every partner call). One order per dossier and kind: the same
  request again returns the first order.
- **Cancelling** (:meth:`Postal.cancel`): only before the parcel is picked up
  (``rules.cancel_decision``); a ``postal.order.cancel_requested`` message on the order's ordering
  key, so it never overtakes its order. The parcel shows "cancelled" once VNPost's feed says so.
- **Tracking** (:meth:`Postal.ingest`, from the poller, :mod:`hub.postal.poller`, and the push
  callback): each event is matched to its order (by waybill, else by dossier code), recorded once
  per (customer code, feed id) — an event seen before changes nothing, whoever brings it again —
  and applied by ``rules.apply`` (monotonic; final statuses stay). Each new status, in the same
  transaction: one ``postal.status.changed`` per subscription of the ordering client (ordering key
  subscription + order, so each subscriber gets a parcel's statuses in order) and one
  ``dossier.postal.step`` for the national portal (ordering key the dossier code: in order with
  the dossier's status changes). Their ``occurred_at`` only grows per order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import Connection, Engine, Row, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from hub.agencies.port import AgencyDirectory, AgencyNotConfigured, require
from hub.canonical import VN_TZ, DossierStatusChange
from hub.db.schema import messages, postal_cursors, postal_events, postal_orders
from hub.envelope import iso, new_id, utcnow
from hub.ledger import Ledger, NewMessage, UnitOfWork
from hub.messages import (
    DOSSIER_POSTAL_STEP,
    DOSSIER_STATUS_CHANGED,
    POSTAL_CANCEL_REQUESTED,
    POSTAL_ORDER_REQUESTED,
    POSTAL_STATUS_CHANGED,
    new_message,
)
from hub.subscriptions import subscribed

from . import waybills
from .messages import DossierPostalStep, PostalStatusChanged, order_key, step_text
from .models import PartyIn, PostalOrderIn
from .port import (
    INITIAL_CURSOR,
    CancelRequest,
    PostalGateway,
    PostalOrderRequest,
    PostalParty,
    TrackingEvent,
    order_number,
)
from .rules import FINAL, CancelDecision, ParcelState, ParcelStatus, apply, cancel_decision
from .units import UnitCodes, UnitMap, UnmappableUnit

log = structlog.get_logger("hub.postal")
TICK = timedelta(milliseconds=1)  # the least step between two announcements of one parcel
UNIT_FIELDS = {"province": "province_code", "district": "district_code", "commune": "commune_code"}


class OrderOpen(Exception):
    """The dossier's order of the other kind is still on its way (a dossier's result goes out
    after its pickup is done, or the other way round)."""

    def __init__(self, order_id: str, kind: str) -> None:
        super().__init__(f"the dossier's {kind} order {order_id} is not finished: one parcel of a dossier at a time")
        self.order_id, self.kind = order_id, kind


class OrderedByAnother(Exception):
    """The dossier was ordered (for this kind) by another client system: not this one's to see."""


class CancelNotAllowed(Exception):
    def __init__(self, status: str) -> None:
        super().__init__(f"the parcel is {status}: an order can be cancelled only before it is picked up")
        self.status = status


class AgencyUnusable(ValueError):
    """The agency's configured VNPost sender does not make a valid party (operator's data)."""


@dataclass(frozen=True)
class PostalRoutes:
    """The connectors that deliver what the service records (from the connectors' own types)."""

    orders: str  # postal.order.requested / cancel_requested: vnpost
    events: str  # postal.status.changed: webhooks
    portal: str  # dossier.postal.step: national_portal


@dataclass(frozen=True)
class Placed:
    created: bool
    order: dict[str, Any]


class Postal:
    def __init__(
        self,
        engine: Engine,
        ledger: Ledger,
        agencies: AgencyDirectory,
        routes: PostalRoutes,
        gateways: Mapping[str, PostalGateway] | Callable[[], Mapping[str, PostalGateway]],
        units: Callable[[], UnitMap],
        clock: Callable[[], datetime] = utcnow,
        page_size: int = 50,
        max_pages: int = 200,
        push_parser: Callable[[Any], Sequence[TrackingEvent]] | None = None,
        push_customers: Iterable[str] = (),
        batch_ingest: bool = True,
    ) -> None:
        self.engine, self.ledger, self.agencies, self.routes = engine, ledger, agencies, routes
        # customer code -> the partner its feed is read from; a factory is called on first use (it
        # may read the agency directory, which the composition root must not do)
        self._gateways_of = gateways if callable(gateways) else (lambda: gateways)
        self._gateways: dict[str, PostalGateway] | None = None
        self.units = cache(units)  # loaded on first use: the lists are large, most processes never map
        self.now, self.page_size, self.max_pages = clock, page_size, max_pages
        self.push_parser = push_parser
        self.push_customers = frozenset(push_customers)  # their LGSP pushes: never polled
        self._numbered: dict[str, bool] = {}  # customer code -> its variant sends ItemCode
        self.batch_ingest = batch_ingest  # a page's reads and writes in a few statements (False: per event)

    @property
    def gateways(self) -> dict[str, PostalGateway]:
        if self._gateways is None:
            self._gateways = dict(self._gateways_of())
        return self._gateways

    def close(self) -> None:
        for gateway in {id(g): g for g in (self._gateways or {}).values()}.values():
            gateway.close()

    # ------------------------------------------------------------------ order
    def _party(self, party: PartyIn, role: str, on: date) -> tuple[PostalParty, dict[str, Any]]:
        codes = UnitCodes(party.province_code, party.district_code, party.commune_code)
        try:
            unit = self.units().resolve(codes, on=on, field=role)
        except UnmappableUnit as exc:
            exc.field = f"{role}.{UNIT_FIELDS.get(exc.level, 'province_code')}"
            raise
        postal = PostalParty(
            name=party.name,
            phone=party.phone,
            email=party.email,
            address=party.address,
            province_id=unit.province_id,
            district_id=unit.district_id,
        )
        return postal, {
            "province_id": unit.province_id,
            "district_id": unit.district_id,
            "provenance": unit.provenance,
            "via": unit.via,
        }

    def build(self, req: PostalOrderIn) -> tuple[PostalOrderRequest, dict[str, Any]]:
        """The partner order of a request (raises ``AgencyNotConfigured``, ``UnmappableUnit``)."""
        agency = require(self.agencies, req.agency_code, "postal")
        sender = agency.postal
        assert sender is not None  # require() checked it
        on = self.now().astimezone(VN_TZ).date()
        citizen_in, agency_in = (req.receiver, req.sender) if req.kind == "delivery" else (req.sender, req.receiver)
        citizen_role, agency_role = ("receiver", "sender") if req.kind == "delivery" else ("sender", "receiver")
        assert citizen_in is not None  # the model requires the citizen's side
        citizen, citizen_units = self._party(citizen_in, citizen_role, on)
        if agency_in is not None:
            agency_party, agency_units = self._party(agency_in, agency_role, on)
        else:
            try:
                agency_party = PostalParty(
                    name=sender.name,
                    phone=sender.phone,
                    email=sender.email,
                    address=sender.address,
                    province_id=sender.province_id,
                    district_id=sender.district_id,
                )
            except ValidationError as exc:
                fields = sorted({str(e["loc"][0]) for e in exc.errors()})
                raise AgencyUnusable(f"the agency's VNPost sender is invalid: {', '.join(fields)}") from None
            agency_units = {"province_id": sender.province_id, "district_id": sender.district_id, "via": "agency"}
        order = PostalOrderRequest(
            customer_code=sender.customer_code,
            order_number=req.dossier_code,
            kind=req.kind,
            agency=agency_party,
            citizen=citizen,
            cod_amount=req.cod_amount,
            description=req.description,
            note=req.note,
            item_code=req.item_code,
        )
        self._numbered[sender.customer_code] = sender.variant != "direct"  # MITC's MOrder has no ItemCode
        return order, {"agency": agency_units, "citizen": citizen_units}

    def order(self, client_id: int, client_code: str, req: PostalOrderIn) -> Placed:
        """Record the order and its message, or return the dossier's order of this kind."""
        existing = self._find(req.dossier_code, req.kind)
        if existing is not None:
            if existing["client_id"] != client_id:
                raise OrderedByAnother(req.dossier_code)
            return Placed(False, existing)
        order, units = self.build(req)
        try:
            oid = self._record(client_id, client_code, req.agency_code, order, units)
        except IntegrityError:  # the same order, sent twice at once: the other request recorded it
            found = self._find(req.dossier_code, req.kind)
            if found is None:
                raise
            if found["client_id"] != client_id:
                raise OrderedByAnother(req.dossier_code) from None
            return Placed(False, found)
        log.info("postal.ordered", order_id=oid, kind=req.kind, customer=order.customer_code)
        return Placed(True, self.get(oid) or {})

    def _find(self, dossier_code: str, kind: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(
                select(postal_orders.c.id).where(
                    postal_orders.c.dossier_code == dossier_code, postal_orders.c.kind == kind
                )
            ).first()
        return None if row is None else self.get(row.id)

    def _record(
        self, client_id: int, client_code: str, agency_code: str, order: PostalOrderRequest, units: dict[str, Any]
    ) -> str:
        now = self.now()
        oid = new_id()
        dossier_code = order.order_number  # build() sends the dossier code; _record makes the OrderNumber
        with self.ledger.unit_of_work() as uow:
            c = uow.connection
            other = c.execute(
                select(postal_orders.c.id, postal_orders.c.kind, postal_orders.c.status).where(
                    postal_orders.c.dossier_code == order.order_number, postal_orders.c.kind != order.kind
                )
            ).first()
            if other is not None and (other.status is None or ParcelStatus(other.status) not in FINAL):
                raise OrderOpen(other.id, other.kind)
            # one VNPost order per (CustomerCode, OrderNumber): the dossier's second kind has its own
            order = order.model_copy(
                update={"order_number": order_number(order.order_number, order.kind, other is not None)}
            )
            if self._numbered.get(order.customer_code, True):
                if order.item_code:
                    waybills.claim_given(c, order.customer_code, order.item_code, oid, now)
                else:
                    item = waybills.claim_next(c, order.customer_code, oid, now)
                    if item is not None:
                        order = order.model_copy(update={"item_code": item})
            message = new_message(
                POSTAL_ORDER_REQUESTED,
                key=order_key(order.customer_code, order.order_number),
                occurred_at=now,
                natural_key=f"{oid}:order",
                connector=self.routes.orders,
                payload=order.model_dump(mode="json"),
                correlation_id=oid,
            )
            (accepted,) = uow.add(client_code, [message])
            c.execute(
                insert(postal_orders).values(
                    id=oid,
                    client_id=client_id,
                    dossier_code=dossier_code,
                    order_number=order.order_number,
                    kind=order.kind,
                    agency_code=agency_code,
                    customer_code=order.customer_code,
                    item_code=order.item_code,
                    details={"cod_amount": order.cod_amount, "description": order.description, "units": units},
                    order_message_id=accepted.message_id,
                    created_at=now,
                    updated_at=now,
                )
            )
        return oid

    # ------------------------------------------------------------------ cancel
    def cancel(self, order_id: str, client_code: str, reason: str | None = None) -> dict[str, Any] | None:
        """Ask VNPost to cancel (``CancelNotAllowed`` once picked up); None: no such order."""
        now = self.now()
        with self.ledger.unit_of_work() as uow:
            c = uow.connection
            row = c.execute(select(postal_orders).where(postal_orders.c.id == order_id).with_for_update()).first()
            if row is None:
                return None
            status = ParcelStatus(row.status) if row.status else None
            decision = cancel_decision(status)
            if decision is CancelDecision.REFUSED:
                raise CancelNotAllowed(str(status))
            if decision is CancelDecision.ALLOWED and row.cancel_message_id is None:
                number = row.order_number or row.dossier_code
                request = CancelRequest(customer_code=row.customer_code, order_number=number, reason=reason)
                message = new_message(
                    POSTAL_CANCEL_REQUESTED,
                    key=order_key(row.customer_code, number),
                    occurred_at=max(now, row.created_at + TICK),  # after its order, on the same key
                    natural_key=f"{order_id}:cancel",
                    connector=self.routes.orders,
                    payload=request.model_dump(mode="json"),
                    correlation_id=order_id,
                )
                (accepted,) = uow.add(client_code, [message])
                c.execute(
                    update(postal_orders)
                    .where(postal_orders.c.id == order_id)
                    .values(cancel_message_id=accepted.message_id, updated_at=now)
                )
        log.info("postal.cancel_requested", order_id=order_id, decision=decision.value)
        return self.get(order_id)

    # ------------------------------------------------------------------ tracking
    def ingest(self, events: Iterable[TrackingEvent], source: str) -> Counter[str]:
        """Apply tracking events (a feed page, a push), each once; returns the verdicts counted.
        Events are taken in event-time order, so a page whose entries came swapped applies whole.
        One transaction for them all (``batch_ingest``: the page's orders locked and its seen feed
        ids read in one query each, its events, order updates and announcements written in one
        statement each); if another poller or a push recorded one of them first (or the two took
        their order locks in another order), each again in its own transaction."""
        ordered = sorted(events, key=lambda e: (e.occurred_at, e.feed_id))
        verdicts: Counter[str] = Counter()
        try:
            with self.ledger.unit_of_work() as uow:
                if self.batch_ingest:
                    changed = list(zip(ordered, self._apply_page(uow, ordered, source), strict=True))
                else:
                    changed = [(e, self._apply_in(uow, e, source)) for e in ordered]
        except (IntegrityError, OperationalError):
            for event in ordered:
                try:
                    with self.ledger.unit_of_work() as uow:
                        verdicts[self._logged(event, self._apply_in(uow, event, source), source)] += 1
                except IntegrityError:  # recorded by the other one meanwhile
                    verdicts["duplicate"] += 1
            return verdicts
        for event, verdict in changed:
            verdicts[self._logged(event, verdict, source)] += 1
        return verdicts

    @staticmethod
    def _logged(e: TrackingEvent, verdict: tuple[str, str | None], source: str) -> str:
        name, order_id = verdict
        if name == "applied*":  # a new status
            log.info("postal.status", order_id=order_id, status=e.status.value if e.status else None, source=source)
            return "applied"
        return name

    def _match(self, c: Connection, e: TrackingEvent) -> Row[Any] | None:
        """The order of an event: by its OrderNumber (and waybill, when both are known: a released
        number may be another order's since). Orders from before OrderNumbers had kind suffixes
        may share a dossier code: the open one, else the latest."""
        q = select(postal_orders).where(
            postal_orders.c.customer_code == e.customer_code, postal_orders.c.order_number == e.order_number
        )
        if e.item_code:
            row = c.execute(q.where(postal_orders.c.item_code == e.item_code).with_for_update()).first()
            if row is not None:
                return row
        rows = c.execute(q.order_by(postal_orders.c.created_at.desc())).all()
        if not rows:
            return None
        open_ = [r for r in rows if r.status is None or ParcelStatus(r.status) not in FINAL]
        chosen = (open_ or rows)[0]
        return c.execute(select(postal_orders).where(postal_orders.c.id == chosen.id).with_for_update()).first()

    def _apply_in(self, uow: UnitOfWork, e: TrackingEvent, source: str) -> tuple[str, str | None]:
        """In the caller's transaction: (verdict, order id); verdict ``applied*`` for a new status."""
        c, now = uow.connection, self.now()
        order = self._match(c, e)
        if order is None:
            return "unknown_order", None  # not ordered through the hub (another system's, same customer code)
        seen = c.execute(
            select(postal_events.c.id).where(
                postal_events.c.customer_code == e.customer_code, postal_events.c.feed_id == e.feed_id
            )
        ).first()
        if seen is not None:
            return "duplicate", order.id
        current = (
            ParcelState(ParcelStatus(order.status), order.status_at, order.status_feed_id or "")
            if order.status
            else None
        )
        result = apply(current, e)
        c.execute(
            insert(postal_events).values(
                customer_code=e.customer_code,
                feed_id=e.feed_id,
                order_id=order.id,
                order_number=e.order_number,
                item_code=e.item_code,
                raw_status=e.raw_status,
                status=e.status.value if e.status else None,
                occurred_at=e.occurred_at,
                post_office=e.post_office,
                note=e.note,
                verdict=result.verdict,
                source=source,
                received_at=now,
            )
        )
        if result.verdict != "applied" or result.state is None:
            return result.verdict, order.id
        values: dict[str, Any] = {
            "status": result.state.status.value,
            "status_at": result.state.occurred_at,
            "status_feed_id": e.feed_id,
            "updated_at": now,
        }
        if order.item_code is None and e.item_code:
            values["item_code"] = e.item_code
        spent = _waybill_change(current, result.state.status) if order.item_code else None
        if spent == "released":
            waybills.release(c, order.id, now)  # back to the pool, once
        elif spent == "used":
            waybills.mark_used(c, order.id, now)  # picked up: the number is spent
        if result.status_changed:
            values["announced_at"] = self._announce(uow, order, e, current, values.get("item_code"))
        c.execute(update(postal_orders).where(postal_orders.c.id == order.id).values(**values))
        return ("applied*" if result.status_changed else "applied"), order.id

    def _apply_page(
        self, uow: UnitOfWork, events: Sequence[TrackingEvent], source: str
    ) -> list[tuple[str, str | None]]:
        """``_apply_in`` for a whole page, in the caller's transaction, with the same verdicts: the
        page's orders read (and locked, in id order) in one query per customer code, its seen feed
        ids in one, the dossiers' latest status changes in one; then its events inserted, its
        orders updated and its announcements recorded in one statement each."""
        c, now = uow.connection, self.now()
        candidates: dict[tuple[str, str], list[dict[str, Any]]] = {}
        numbers: dict[str, set[str]] = {}
        for e in events:
            numbers.setdefault(e.customer_code, set()).add(e.order_number)
        for customer, wanted in numbers.items():
            rows = c.execute(
                select(postal_orders)
                .where(postal_orders.c.customer_code == customer, postal_orders.c.order_number.in_(sorted(wanted)))
                .order_by(postal_orders.c.id)
                .with_for_update()
            )
            for r in rows:
                candidates.setdefault((customer, r.order_number), []).append(dict(r._mapping))
        seen: set[tuple[str, str]] = set()
        for customer in numbers:
            ids = sorted({e.feed_id for e in events if e.customer_code == customer})
            found = c.execute(
                select(postal_events.c.feed_id).where(
                    postal_events.c.customer_code == customer, postal_events.c.feed_id.in_(ids)
                )
            ).scalars()
            seen.update((customer, f) for f in found)
        dossiers = sorted({o["dossier_code"] for rows in candidates.values() for o in rows})
        latest = _latest_payloads(c, dossiers, DOSSIER_STATUS_CHANGED) if dossiers else {}
        subscribers: dict[int, list[str]] = {}
        results: list[tuple[str, str | None]] = []
        inserts: list[dict[str, Any]] = []
        changed: dict[str, dict[str, Any]] = {}
        spent: dict[str, list[str]] = {"used": [], "released": []}
        out: list[NewMessage] = []
        for e in events:
            order = _pick(candidates.get((e.customer_code, e.order_number), []), e)
            if order is None:
                results.append(("unknown_order", None))
                continue
            if (e.customer_code, e.feed_id) in seen:
                results.append(("duplicate", order["id"]))
                continue
            seen.add((e.customer_code, e.feed_id))
            current = (
                ParcelState(ParcelStatus(order["status"]), order["status_at"], order["status_feed_id"] or "")
                if order["status"]
                else None
            )
            result = apply(current, e)
            inserts.append(_event_row(e, order["id"], result.verdict, source, now))
            if result.verdict != "applied" or result.state is None:
                results.append((result.verdict, order["id"]))
                continue
            values: dict[str, Any] = {
                "status": result.state.status.value,
                "status_at": result.state.occurred_at,
                "status_feed_id": e.feed_id,
                "updated_at": now,
            }
            if order["item_code"] is None and e.item_code:
                values["item_code"] = e.item_code
            change = _waybill_change(current, result.state.status)
            if change is not None and order["item_code"] is not None:  # none: no number of the pool
                spent[change].append(order["id"])
            if result.status_changed:
                client = order["client_id"]
                if client not in subscribers:
                    subscribers[client] = subscribed(c, client, POSTAL_STATUS_CHANGED)
                values["announced_at"] = self._announce(
                    uow,
                    _Order(order),
                    e,
                    current,
                    values.get("item_code"),
                    sink=out,
                    subscribers=subscribers[client],
                    latest=latest.get(order["dossier_code"]),
                )
            order.update(values)
            changed[order["id"]] = order
            results.append(("applied*" if result.status_changed else "applied", order["id"]))
        if inserts:
            c.execute(insert(postal_events), inserts)
        if changed:
            fields = ("status", "status_at", "status_feed_id", "item_code", "announced_at", "updated_at")
            c.execute(
                update(postal_orders)
                .where(postal_orders.c.id == bindparam("oid"))
                .values({f: bindparam(f"v_{f}") for f in fields}),
                [{"oid": oid, **{f"v_{f}": o[f] for f in fields}} for oid, o in changed.items()],
            )
        waybills.release(c, spent["released"], now)
        waybills.mark_used(c, spent["used"], now)
        if out:
            uow.add("hub", out)
        return results

    def _announce(
        self,
        uow: UnitOfWork,
        order: Any,
        e: TrackingEvent,
        previous: ParcelState | None,
        item: str | None,
        sink: list[NewMessage] | None = None,
        subscribers: Sequence[str] | None = None,
        latest: Any = None,
    ) -> datetime:
        """The new status to the ordering client's subscribers and to the portal; returns the
        announcements' occurred_at (never earlier than the parcel's previous one). ``sink``: the
        messages are appended there (the caller records them), else recorded now; ``subscribers``
        and ``latest`` (the dossier's latest status change): as read by the caller, else read here."""
        assert e.status is not None
        at = e.occurred_at if order.announced_at is None else max(e.occurred_at, order.announced_at + TICK)
        item_code = item or order.item_code
        event = PostalStatusChanged(
            order_id=order.id,
            dossier_code=order.dossier_code,
            kind=order.kind,
            item_code=item_code,
            status=e.status,
            previous_status=previous.status if previous else None,
            occurred_at=e.occurred_at,
            post_office=e.post_office,
            raw_status=e.raw_status,
            final=e.status in FINAL,
        ).model_dump(mode="json")
        items = [
            new_message(
                POSTAL_STATUS_CHANGED,
                key=f"{sub}:{order.id}",  # one receiver gets one parcel's statuses in order
                occurred_at=at,
                natural_key=f"{order.id}:{e.feed_id}:{sub}",
                connector=self.routes.events,
                payload={"subscription_id": sub, "event": event},
                correlation_id=order.id,
            )
            for sub in (
                subscribed(uow.connection, order.client_id, POSTAL_STATUS_CHANGED)
                if subscribers is None
                else subscribers
            )
        ]
        if sink is None:
            latest = uow.latest_payload(order.dossier_code, DOSSIER_STATUS_CHANGED)
        try:
            dossier = DossierStatusChange.model_validate(latest) if latest else None
        except ValidationError:  # e.g. its personal data was redacted since: the progress entry alone
            dossier = None
        step = DossierPostalStep(
            dossier_code=order.dossier_code,
            agency_code=order.agency_code,
            order_id=order.id,
            feed_id=e.feed_id,
            kind=order.kind,
            status=e.status,
            item_code=item_code,
            occurred_at=e.occurred_at,
            text=step_text(order.kind, e.status, item_code),
            returned_at=e.occurred_at if order.kind == "delivery" and e.status is ParcelStatus.DELIVERED else None,
            dossier=dossier,
        )
        items.append(
            new_message(
                DOSSIER_POSTAL_STEP,
                key=order.dossier_code,  # the dossier's ordering key: in order with its status changes
                occurred_at=at,
                natural_key=step.natural_key(),
                connector=self.routes.portal,
                payload=step.model_dump(mode="json"),
                correlation_id=order.id,
            )
        )
        if sink is None:
            uow.add("hub", items)
        else:
            sink.extend(items)
        return at

    # ------------------------------------------------------------------ the feed
    def customers(self) -> list[str]:
        """The customer codes whose feeds are polled: every gateway's, but those pushed to the hub."""
        return sorted(set(self.gateways) - self.push_customers)

    def cursor(self, customer: str) -> str:
        with self.engine.connect() as c:
            row = c.execute(select(postal_cursors.c.cursor).where(postal_cursors.c.customer_code == customer)).first()
        return row.cursor if row is not None else INITIAL_CURSOR

    def _save_cursor(self, customer: str, cursor: str) -> None:
        now = self.now()
        with self.engine.begin() as c:
            moved = c.execute(
                update(postal_cursors)
                .where(postal_cursors.c.customer_code == customer, postal_cursors.c.cursor < cursor)
                .values(cursor=cursor, updated_at=now)
            ).rowcount
            if not moved:
                exists = c.execute(
                    select(postal_cursors.c.cursor).where(postal_cursors.c.customer_code == customer)
                ).first()
                if exists is None:
                    c.execute(insert(postal_cursors).values(customer_code=customer, cursor=cursor, updated_at=now))

    def poll(self, customer: str) -> Counter[str]:
        """Read the customer's feed from the stored cursor to its end (at most ``max_pages``
        pages), applying each page, then storing the cursor after it. A page that fails
        (``PostalError``) stops the run: the next run reads it again from the same cursor."""
        gateway = self.gateways[customer]
        cursor = self.cursor(customer)
        verdicts: Counter[str] = Counter()
        for _ in range(self.max_pages):
            page = gateway.tracking(customer, cursor, self.page_size)
            verdicts += self.ingest(page.events, "poll")
            if page.next_cursor > cursor:
                with suppress(IntegrityError):  # another poller stored it first
                    self._save_cursor(customer, page.next_cursor)
                cursor = page.next_cursor
            if len(page.events) + len(page.skipped) < self.page_size:
                break
        return verdicts

    def parse_push(self, body: Any) -> Sequence[TrackingEvent]:
        if self.push_parser is None:
            raise ValueError("no push parser")
        return self.push_parser(body)

    # ------------------------------------------------------------------ read
    def get(self, order_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(select(postal_orders).where(postal_orders.c.id == order_id)).first()
            if row is None:
                return None
            events = c.execute(
                select(postal_events)
                .where(postal_events.c.order_id == order_id)
                .order_by(postal_events.c.occurred_at, postal_events.c.id)
            ).all()
            ids = [m for m in (row.order_message_id, row.cancel_message_id) if m]
            msgs = c.execute(
                select(messages.c.id, messages.c.type, messages.c.state, messages.c.last_error).where(
                    messages.c.id.in_(ids)
                )
            ).all()
        return view(dict(row._mapping), [dict(e._mapping) for e in events], [dict(m._mapping) for m in msgs])


class _Order:
    """A page's order row (a dict) read by attribute, as ``_announce`` reads a row."""

    def __init__(self, row: dict[str, Any]) -> None:
        self._row = row

    def __getattr__(self, name: str) -> Any:
        try:
            return self._row[name]
        except KeyError:
            raise AttributeError(name) from None


def _pick(rows: Sequence[dict[str, Any]], e: TrackingEvent) -> dict[str, Any] | None:
    """``Postal._match`` over the rows of the event's OrderNumber: by waybill when it names one of
    them, else the open one, else the latest."""
    if e.item_code:
        for row in rows:
            if row["item_code"] == e.item_code:
                return row
    if not rows:
        return None
    latest = sorted(rows, key=lambda r: r["created_at"], reverse=True)
    open_ = [r for r in latest if r["status"] is None or ParcelStatus(r["status"]) not in FINAL]
    return (open_ or latest)[0]


def _waybill_change(previous: ParcelState | None, status: ParcelStatus) -> str | None:
    """What a new status does to the order's pool number: "released" (cancelled), "used" (the
    first status past pickup), or nothing."""
    if status is ParcelStatus.CANCELLED:
        return "released"
    was_open = previous is None or cancel_decision(previous.status) is not CancelDecision.REFUSED
    return "used" if was_open and cancel_decision(status) is CancelDecision.REFUSED else None


def _event_row(e: TrackingEvent, order_id: str, verdict: str, source: str, now: datetime) -> dict[str, Any]:
    return {
        "customer_code": e.customer_code,
        "feed_id": e.feed_id,
        "order_id": order_id,
        "order_number": e.order_number,
        "item_code": e.item_code,
        "raw_status": e.raw_status,
        "status": e.status.value if e.status else None,
        "occurred_at": e.occurred_at,
        "post_office": e.post_office,
        "note": e.note,
        "verdict": verdict,
        "source": source,
        "received_at": now,
    }


def _latest_payloads(c: Connection, keys: Sequence[str], message_type: str) -> dict[str, Any]:
    """``hub.ledger.reads.latest_payload`` for many ordering keys in one query."""
    best: dict[str, tuple[Any, str, Any]] = {}
    for i in range(0, len(keys), 500):
        rows = c.execute(
            select(messages.c.key, messages.c.occurred_at, messages.c.id, messages.c.payload).where(
                messages.c.type == message_type, messages.c.key.in_(keys[i : i + 500])
            )
        )
        for key, at, mid, payload in rows:
            if key not in best or (at, mid) > best[key][:2]:
                best[key] = (at, mid, payload)
    return {k: v[2] for k, v in best.items()}


def view(
    row: Mapping[str, Any], events: Sequence[Mapping[str, Any]] = (), msgs: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    status = row["status"]
    details = row["details"] or {}
    return {
        "id": row["id"],
        "client_id": row["client_id"],
        "dossier_code": row["dossier_code"],
        "agency_code": row["agency_code"],
        "kind": row["kind"],
        "order_number": row["order_number"] or row["dossier_code"],
        "customer_code": row["customer_code"],
        "item_code": row["item_code"],
        "status": status,
        "status_at": iso(row["status_at"]),
        "final": status is not None and ParcelStatus(status) in FINAL,
        "cancel_requested": row["cancel_message_id"] is not None,
        "created_at": iso(row["created_at"]),
        "cod_amount": details.get("cod_amount", 0),
        "description": details.get("description", ""),
        "units": details.get("units", {}),
        "messages": [
            {"id": m["id"], "type": m["type"], "state": m["state"], "last_error": m["last_error"]} for m in msgs
        ],
        "history": [
            {
                "feed_id": e["feed_id"],
                "status": e["status"],
                "raw_status": e["raw_status"],
                "occurred_at": iso(e["occurred_at"]),
                "post_office": e["post_office"],
                "note": e["note"],
                "verdict": e["verdict"],
                "source": e["source"],
                "received_at": iso(e["received_at"]),
            }
            for e in events
        ],
    }


__all__ = [
    "AgencyNotConfigured",
    "AgencyUnusable",
    "CancelNotAllowed",
    "OrderOpen",
    "OrderedByAnother",
    "Placed",
    "Postal",
    "PostalRoutes",
    "UnmappableUnit",
    "view",
]
