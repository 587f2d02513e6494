"""The waybill pool, for operators (grant ``admin``): the same as ``lgsp postal waybills``.

``POST /v1/admin/postal/waybills`` loads numbers VNPost allocated to a customer code (named
directly, or as the agency whose ``postal.customer_code`` it is): a list, or a range of UPU S10
serials (``prefix``, ``first`` serial, ``count``; the check digit computed). Numbers the pool
holds already are left as they are (a load repeated changes nothing). ``GET`` counts them per state
and lists them. ``POST …/{item_code}/release`` takes back the number of an order VNPost never took.
See ``hub.postal.waybills`` for how orders take and release them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from hub.agencies.port import AGENCY_CODE
from hub.api.bodies import HubRoute
from hub.api.deps import get_client, get_postal, require
from hub.api.openapi import errors
from hub.api.problems import ProblemError, field_error
from hub.clients import ADMIN, Client
from hub.envelope import utcnow

from .port import CUSTOMER_CODE_PATTERN, ITEM_CODE_PATTERN, s10
from .service import Postal
from .waybills import MAX_ADD, STATES, RevokeRefused, Waybills, WaybillTaken

router = APIRouter(prefix="/v1/admin/postal/waybills", tags=["admin"], route_class=HubRoute)
_403 = "The client is not granted `admin`"
EXAMPLE = {"agency_code": "000.00.00.H56", "range": {"prefix": "EB", "first": 10000001, "count": 100}}


class S10Range(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prefix: str = Field(pattern=r"^[A-Z]{2}$", description="The two letters, e.g. EB.")
    first: int = Field(ge=0, le=99_999_999, description="The first 8-digit serial.")
    count: int = Field(ge=1, le=MAX_ADD)

    def codes(self) -> list[str]:
        last = self.first + self.count - 1
        if last > 99_999_999:
            raise ValueError("range: first + count - 1 must stay within 8 digits")
        return [s10(self.prefix, n) for n in range(self.first, last + 1)]


class WaybillsIn(BaseModel):
    """Waybill numbers VNPost allocated to one customer code."""

    model_config = ConfigDict(extra="forbid")
    customer_code: str | None = Field(default=None, pattern=CUSTOMER_CODE_PATTERN, description="VNPost CustomerCode.")
    agency_code: str | None = Field(default=None, pattern=AGENCY_CODE, description="Or: the agency whose it is.")
    item_codes: list[Annotated[str, Field(pattern=ITEM_CODE_PATTERN)]] = Field(default=[], max_length=MAX_ADD)
    range: S10Range | None = None

    @model_validator(mode="after")
    def _one_of_each(self) -> WaybillsIn:
        if (self.customer_code is None) == (self.agency_code is None):
            raise ValueError("customer_code: give customer_code or agency_code (one of them)")
        if not self.item_codes and self.range is None:
            raise ValueError("item_codes: give item_codes or a range")
        return self


class AddedOut(BaseModel):
    customer_code: str
    added: int = Field(description="New numbers, free.")
    existing: int = Field(description="Numbers the pool held already: left as they were.")


class WaybillOut(BaseModel):
    customer_code: str
    item_code: str
    state: Literal["free", "assigned", "used", "released"]
    order_id: str | None
    added_at: str
    assigned_at: str | None
    used_at: str | None
    released_at: str | None


class PoolOut(BaseModel):
    counts: dict[str, dict[str, int]] = Field(description="customer code -> state -> how many.")
    items: list[WaybillOut] = Field(description="The numbers (by item code, after `after`, at most `limit`).")


def customer_of(postal: Postal, customer_code: str | None, agency_code: str | None) -> str:
    if customer_code is not None:
        return customer_code
    agency = postal.agencies.get(agency_code or "")
    if agency is None or agency.postal is None:
        message = "no such agency, or it has no VNPost configuration (postal.customer_code)"
        raise ProblemError(
            "agency_not_configured", message, errors=[field_error("agency_code", "agency_not_configured", message)]
        )
    return agency.postal.customer_code


def _admin(client: Client = Depends(get_client)) -> Client:
    require(ADMIN, client)
    return client


@router.post(
    "",
    status_code=201,
    summary="Load waybill numbers (ItemCode) VNPost allocated to a customer code",
    response_model=AddedOut,
    responses=errors(403, 409, 422, _403=_403, _409="A number is in another customer's pool"),
)
async def add_waybills(
    body: Annotated[WaybillsIn, Body(openapi_examples={"range": {"value": EXAMPLE}})],
    postal: Postal = Depends(get_postal),
    _: Client = Depends(_admin),
) -> dict[str, Any]:
    customer = customer_of(postal, body.customer_code, body.agency_code)
    try:
        codes = [*body.item_codes, *(body.range.codes() if body.range else [])]
    except ValueError as exc:
        raise ProblemError("validation_failed", str(exc), errors=[field_error("range", "too_long", str(exc))]) from None
    try:
        added = await run_in_threadpool(Waybills(postal.engine).add, customer, codes, utcnow())
    except WaybillTaken as exc:
        raise ProblemError("conflict", str(exc)) from None
    except ValueError as exc:
        raise ProblemError(
            "validation_failed", str(exc), errors=[field_error("item_codes", "too_many", str(exc))]
        ) from None
    return added.as_dict()


@router.get(
    "",
    summary="The waybill pool: counts per state, and the numbers",
    response_model=PoolOut,
    responses=errors(403, 422, _403=_403, _422="An agency without VNPost configuration, or a bad parameter"),
)
async def list_waybills(
    customer_code: Annotated[str | None, Query(pattern=CUSTOMER_CODE_PATTERN)] = None,
    agency_code: Annotated[str | None, Query(pattern=AGENCY_CODE)] = None,
    state: Annotated[str | None, Query(pattern="^(" + "|".join(STATES) + ")$")] = None,
    after: Annotated[str, Query(max_length=20, description="List the numbers after this one.")] = "",
    limit: Annotated[int, Query(ge=0, le=1000)] = 100,
    postal: Postal = Depends(get_postal),
    _: Client = Depends(_admin),
) -> dict[str, Any]:
    customer = (
        None if customer_code is None and agency_code is None else customer_of(postal, customer_code, agency_code)
    )
    pool = Waybills(postal.engine)
    counts = await run_in_threadpool(pool.counts, customer)
    items = await run_in_threadpool(pool.list, customer, state, limit, after) if limit else []
    return {"counts": counts, "items": items}


class RevokedOut(BaseModel):
    item_code: str
    state: Literal["free", "released"]
    released: bool = Field(description="Released now (false: it was free or released already).")


@router.post(
    "/{item_code}/release",
    summary="Take back the number of an order VNPost never took (its order dead, no parcel reported)",
    response_model=RevokedOut,
    responses=errors(
        403,
        404,
        409,
        _403=_403,
        _404="No such number in the pool",
        _409="Used by a parcel VNPost picked up, or its order is on its way (cancel the order instead)",
    ),
)
async def release_waybill(
    item_code: Annotated[str, Path(pattern=ITEM_CODE_PATTERN, examples=["EB100000017VN"])],
    postal: Postal = Depends(get_postal),
    _: Client = Depends(_admin),
) -> dict[str, Any]:
    try:
        done = await run_in_threadpool(Waybills(postal.engine).revoke, item_code, utcnow())
    except RevokeRefused as exc:
        raise ProblemError("conflict", str(exc)) from None
    if done is None:
        raise ProblemError("not_found", "no such waybill number in the pool")
    return done
