"""Per-agency configuration, for operators (grant ``admin``): the same as ``lgsp agencies``.

One province has many agencies; each partner is configured per agency (``hub.agencies.port``): the
national portal's unit code (``madonvi``) and connector profile, the payment gateway profile, the
PayGov beneficiary account and unit name, the VNPost customer code, variant and sender. A service
that needs a section the agency lacks refuses with ``agency_not_configured`` naming the agency and the section.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Body, Depends, Path, Response
from starlette.concurrency import run_in_threadpool

from hub.agencies.directory import AgencyExists, AgencyNotFound, DbAgencies
from hub.agencies.port import AGENCY_CODE, Agency, AgencyDirectory
from hub.api.bodies import HubRoute
from hub.api.deps import get_agencies, get_client, require
from hub.api.openapi import errors
from hub.api.problems import ProblemError, field_error
from hub.clients import ADMIN, Client

router = APIRouter(prefix="/v1/admin/agencies", tags=["admin"], route_class=HubRoute)
T = TypeVar("T")
_403 = "The client is not granted `admin`"
_404 = "No such agency"
EXAMPLE = {
    "code": "000.00.00.H56",
    "name": "Sở Xây dựng tỉnh Thanh Hóa",
    "province_codes": ["H56"],
    "portal": {"madonvi": "000.00.00.H56", "profile": "default"},
    "payment": {"profile": "paygov"},
    "paygov": {
        "account": "3511.0.1234567",
        "bank_code": "KBNN",
        "account_name": "Sở Xây dựng tỉnh Thanh Hóa",
        "unit_name": "Sở Xây dựng tỉnh Thanh Hóa",
    },
}
CodePath = Annotated[str, Path(pattern=AGENCY_CODE, examples=["000.00.00.H56"])]


def _admin(client: Client = Depends(get_client)) -> Client:
    require(ADMIN, client)
    return client


async def _call(fn: Callable[[], T]) -> T:
    try:
        return await run_in_threadpool(fn)
    except AgencyNotFound:
        raise ProblemError("not_found", "no such agency") from None


def _directory(directory: AgencyDirectory) -> DbAgencies:
    if not isinstance(directory, DbAgencies):  # a fixed directory (HUB_AGENCIES_FILE): read only
        raise ProblemError("conflict", "the agency directory is a file (HUB_AGENCIES_FILE): edit the file")
    return directory


@router.get("", summary="Every agency and its partner configuration", response_model=list[Agency])
async def list_agencies(
    directory: AgencyDirectory = Depends(get_agencies), _: Client = Depends(_admin)
) -> list[Agency]:
    return await run_in_threadpool(directory.all)


@router.post(
    "",
    status_code=201,
    summary="Add an agency",
    response_model=Agency,
    responses=errors(403, 409, _403=_403, _409="An agency with this code exists (PUT replaces it)"),
)
async def add_agency(
    body: Annotated[Agency, Body(openapi_examples={"thanhhoa": {"value": EXAMPLE}})],
    directory: AgencyDirectory = Depends(get_agencies),
    _: Client = Depends(_admin),
) -> Agency:
    db = _directory(directory)
    try:
        return await run_in_threadpool(db.add, body)
    except AgencyExists:
        raise ProblemError("agency_exists", "an agency with this code exists; PUT replaces it") from None


@router.get("/{code}", summary="One agency", response_model=Agency, responses=errors(403, 404, _403=_403, _404=_404))
async def get_agency(
    code: CodePath, directory: AgencyDirectory = Depends(get_agencies), _: Client = Depends(_admin)
) -> Agency:
    agency = await run_in_threadpool(directory.get, code)
    if agency is None:
        raise ProblemError("not_found", "no such agency")
    return agency


@router.put(
    "/{code}",
    summary="Replace an agency's configuration (every section: one left out is removed)",
    response_model=Agency,
    responses=errors(403, 404, 409, _403=_403, _404=_404, _409="The directory is a file (read only)"),
)
async def replace_agency(
    code: CodePath,
    body: Annotated[Agency, Body(openapi_examples={"thanhhoa": {"value": EXAMPLE}})],
    directory: AgencyDirectory = Depends(get_agencies),
    _: Client = Depends(_admin),
) -> Agency:
    db = _directory(directory)
    if body.code != code:
        error = field_error("code", "path_mismatch", "the body's code must be the code in the path")
        raise ProblemError("validation_failed", "the body names another agency than the path", errors=[error])
    return await _call(lambda: db.replace(body))


@router.delete(
    "/{code}",
    status_code=204,
    summary="Remove an agency (clients bound to it keep the binding; its services refuse until it is added again)",
    responses={204: {"description": "Removed"}, **errors(403, 404, 409, _403=_403, _404=_404)},
)
async def remove_agency(
    code: CodePath, directory: AgencyDirectory = Depends(get_agencies), _: Client = Depends(_admin)
) -> Response:
    db = _directory(directory)
    await _call(lambda: db.remove(code))
    return Response(status_code=204)
