"""The hub's waybill pool: numbers (``ItemCode``) VNPost allocated to a customer code, each used once.

VNPost issues waybill numbers to a customer (mã khách hàng, the agency's ``postal.customer_code``);
provinces keep them in a local pool ("MaVanDonBuuDien", §3.2) and send one with each order. Here
an operator loads them (``lgsp postal waybills add``, ``POST /v1/admin/postal/waybills``), and:

- an order without an ``item_code`` takes the customer's next free number, in the order's own
  transaction (one statement: ``UPDATE ... WHERE id = (SELECT ... LIMIT 1 FOR UPDATE SKIP LOCKED)``
  on PostgreSQL; SQLite's transactions are serial, ``BEGIN IMMEDIATE``): two orders never get one
  number, and an order that is not recorded keeps none;
- an order with an ``item_code`` must name a free number of the customer's pool (``WaybillRefused``,
  naming the field), which it takes;
- a customer with no pool at all is not the hub's to number: its orders go without ``ItemCode``
  and VNPost numbers the parcel (the ``…WithoutItemCode`` path of §3.2), and a number the caller
  brings from its own pool is sent as it is (VNPost refuses one it did not issue);
- a pool with no free number left is ``PoolExhausted`` (THH: "waybill pool exhausted");
- the parcel picked up (or any later step): the number is ``used``, for good;
- the order cancelled before pickup (VNPost's feed says so): ``released``, exactly once: only an
  ``assigned`` number of that very order moves, so a second release changes nothing, and a used
  number, or one assigned since to another order, is never released. A released number is
  assigned again after the free ones.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, and_, case, func, insert, select, update

from hub.db.schema import postal_waybills as w

State = Literal["free", "assigned", "used", "released"]
STATES: tuple[State, ...] = ("free", "assigned", "used", "released")
MAX_ADD = 10_000  # numbers one call loads


class PoolExhausted(Exception):
    def __init__(self, customer_code: str) -> None:
        super().__init__(
            f"the waybill pool of VNPost customer {customer_code} has no free number left: "
            "load more (lgsp postal waybills add)"
        )
        self.customer_code = customer_code


class WaybillRefused(ValueError):
    """The caller's ``item_code`` is not a free number of the customer's pool."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True)
class Added:
    customer_code: str
    added: int
    existing: int  # already in this customer's pool: left as they are

    def as_dict(self) -> dict[str, Any]:
        return {"customer_code": self.customer_code, "added": self.added, "existing": self.existing}


class WaybillTaken(ValueError):
    """A number to add is in another customer's pool."""


def has_pool(c: Connection, customer: str) -> bool:
    return c.execute(select(w.c.id).where(w.c.customer_code == customer).limit(1)).first() is not None


def claim_next(c: Connection, customer: str, order_id: str, now: datetime) -> str | None:
    """The customer's next free number, now assigned to ``order_id``; None: the customer has no
    pool (VNPost numbers the parcel). ``PoolExhausted`` when it has one with nothing free."""
    open_ = w.c.state.in_(("free", "released"))
    pick = (
        select(w.c.id)
        .where(w.c.customer_code == customer, open_)
        .order_by(case((w.c.state == "released", 1), else_=0), w.c.item_code)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    row = c.execute(
        update(w)
        .where(w.c.id == pick, open_)
        .values(state="assigned", order_id=order_id, assigned_at=now)
        .returning(w.c.item_code)
    ).first()
    if row is not None:
        return str(row.item_code)
    if has_pool(c, customer):
        raise PoolExhausted(customer)
    return None


def claim_given(c: Connection, customer: str, item_code: str, order_id: str, now: datetime) -> None:
    """Assign the caller's number to ``order_id`` (``WaybillRefused`` when it is not a free number
    of the customer's pool). A customer without a pool: nothing to check here."""
    taken = c.execute(
        update(w)
        .where(w.c.customer_code == customer, w.c.item_code == item_code, w.c.state.in_(("free", "released")))
        .values(state="assigned", order_id=order_id, assigned_at=now)
    ).rowcount
    if taken:
        return
    row = c.execute(select(w.c.customer_code, w.c.state).where(w.c.item_code == item_code)).first()
    if row is not None and row.customer_code == customer:
        raise WaybillRefused(
            "waybill_in_use", f"the waybill number is {row.state} (by another order): each is used once"
        )
    if row is not None or has_pool(c, customer):
        raise WaybillRefused("waybill_not_in_pool", f"not a waybill number of VNPost customer {customer}'s pool")


def mark_used(c: Connection, order_ids: str | Collection[str], now: datetime) -> int:
    """The orders' parcels were picked up: their numbers are used, for good."""
    return _leave_assigned(c, order_ids, state="used", used_at=now)


def release(c: Connection, order_ids: str | Collection[str], now: datetime) -> int:
    """The orders were cancelled before pickup: their numbers back to the pool, each once (the
    count of numbers released; a second release counts 0)."""
    return _leave_assigned(c, order_ids, state="released", released_at=now)


def _leave_assigned(c: Connection, order_ids: str | Collection[str], **values: Any) -> int:
    """The numbers the orders hold that are still ``assigned`` take ``values``; how many did."""
    ids = [order_ids] if isinstance(order_ids, str) else sorted(order_ids)
    if not ids:
        return 0
    return c.execute(update(w).where(w.c.order_id.in_(ids), w.c.state == "assigned").values(**values)).rowcount


class RevokeRefused(Exception):
    """The number cannot be released: its parcel was picked up, or its order is still alive."""


class Waybills:
    """The operator's side: load numbers, count and list them, revoke one."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, customer: str, item_codes: Iterable[str], now: datetime) -> Added:
        codes = list(dict.fromkeys(item_codes))
        if len(codes) > MAX_ADD:
            raise ValueError(f"at most {MAX_ADD} numbers at a time")
        with self.engine.begin() as c:
            known: dict[str, str] = {}
            for i in range(0, len(codes), 500):
                chunk = codes[i : i + 500]
                rows = c.execute(select(w.c.item_code, w.c.customer_code).where(w.c.item_code.in_(chunk))).all()
                known.update({r.item_code: r.customer_code for r in rows})
            others = sorted(k for k, v in known.items() if v != customer)
            if others:
                raise WaybillTaken(f"{len(others)} of the numbers are in another customer's pool, e.g. {others[0]}")
            new = [k for k in codes if k not in known]
            if new:
                c.execute(
                    insert(w),
                    [{"customer_code": customer, "item_code": k, "state": "free", "added_at": now} for k in new],
                )
        return Added(customer, len(new), len(codes) - len(new))

    def revoke(self, item_code: str, now: datetime) -> dict[str, Any] | None:
        """The operator takes back the number of an order VNPost never took (THH's
        ``ThuHoiMaVanDonBuuDien``): only when that order's message to VNPost is ``dead`` (refused,
        or its retry budget spent) and VNPost never reported the parcel; then ``released``, once.
        A number free or released already: nothing changes (``released`` false). None: no such
        number; ``RevokeRefused``: used, or its order still on its way."""
        from hub.db.schema import messages, postal_orders

        with self.engine.begin() as c:
            row = c.execute(select(w).where(w.c.item_code == item_code).with_for_update()).first()
            if row is None:
                return None
            if row.state in ("free", "released"):
                return {"item_code": item_code, "state": row.state, "released": False}
            if row.state == "used":
                raise RevokeRefused("the number was used by a parcel VNPost picked up: never released")
            order = c.execute(
                select(postal_orders.c.status, messages.c.state)
                .select_from(postal_orders.join(messages, messages.c.id == postal_orders.c.order_message_id))
                .where(postal_orders.c.id == row.order_id)
            ).first()
            if order is not None and (order.status is not None or order.state != "dead"):
                raise RevokeRefused(
                    "its order is on its way or known to VNPost: cancel the order (its number then comes back)"
                )
            released = release(c, str(row.order_id), now)
        return {"item_code": item_code, "state": "released", "released": bool(released)}

    def counts(self, customer: str | None = None) -> dict[str, dict[str, int]]:
        q = select(w.c.customer_code, w.c.state, func.count()).group_by(w.c.customer_code, w.c.state)
        if customer is not None:
            q = q.where(w.c.customer_code == customer)
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as c:
            for code, state, n in c.execute(q):
                out.setdefault(code, dict.fromkeys(STATES, 0))[state] = n
        return out

    def list(
        self, customer: str | None = None, state: str | None = None, limit: int = 100, after: str = ""
    ) -> Sequence[dict[str, Any]]:
        conds = [w.c.item_code > after]
        if customer is not None:
            conds.append(w.c.customer_code == customer)
        if state is not None:
            conds.append(w.c.state == state)
        q = select(w).where(and_(*conds)).order_by(w.c.item_code).limit(limit)
        with self.engine.connect() as c:
            return [_row(r._mapping) for r in c.execute(q)]


def _row(r: Any) -> dict[str, Any]:
    def iso(v: datetime | None) -> str | None:
        return v.isoformat() if v is not None else None

    return {
        "customer_code": r["customer_code"],
        "item_code": r["item_code"],
        "state": r["state"],
        "order_id": r["order_id"],
        "added_at": iso(r["added_at"]),
        "assigned_at": iso(r["assigned_at"]),
        "used_at": iso(r["used_at"]),
        "released_at": iso(r["released_at"]),
    }
