"""Citizen verification and lookup against the national population database (synchronous), and its audit."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from hub.agencies import binding
from hub.api.bodies import HubRoute, read_model
from hub.api.deps import forbidden, get_citizens, get_client, require
from hub.api.openapi import errors
from hub.api.problems import ProblemError, field_error
from hub.citizens import audit, grants
from hub.citizens.models import (
    EXAMPLE,
    AuditPage,
    AuditSearch,
    CitizenQueryIn,
    LookupIn,
    LookupOut,
    Since,
    VerifyIn,
    VerifyOut,
)
from hub.citizens.port import LookupRequest, VerifyRequest
from hub.citizens.service import Caller, CitizenQueryFailed, CitizenService
from hub.clients import ADMIN, Client

router = APIRouter(prefix="/v1/citizens", tags=["citizens"], route_class=HubRoute)
M = TypeVar("M", bound=BaseModel)

MESSAGES = {
    "population_db_unavailable": "the national population database is unavailable; try again after retry_after seconds",
    "population_db_refused": "the national population database refused the query",
    "population_db_bad_answer": "the national population database's answer was refused unread (unsafe or malformed); "
    "nothing of it was kept",
    "invalid_for_population_db": "the query breaks a field limit of the national population database; nothing "
    "was sent (`fields` names the field, `reason` the rule)",
    "audit_unavailable": "the query could not be recorded in the audit, so its answer is withheld; try again later",
    "population_db_not_configured": "the agency's population-database profile is not configured in this hub",
}
_FIELD_LIST = "\n".join(f"- `{name}`: {gloss}" for name, gloss in grants.LOOKUP_FIELDS.items())
_ERRORS = errors(
    403,
    502,
    503,
    _403="The client lacks the grant, or names an agency it is not bound to (agency_not_bound); recorded in the audit",
    _502="The database refused the query (population_db_refused), or answered something unsafe "
    "(population_db_bad_answer): `reason` says which",
    _503="The database is unavailable (population_db_unavailable: breaker open, timeout, busy), or the query "
    "could not be audited (audit_unavailable): Retry-After; or the agency's population-database profile is not "
    "configured in this hub (population_db_not_configured: the message names the agency and the profile)",
)


def _body(model: type[BaseModel], example: dict[str, Any] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
    if example is not None:
        content["examples"] = {"query": {"value": example}}
    return {"requestBody": {"required": True, "content": {"application/json": content}}}


async def _read(request: Request, model: type[M]) -> M:
    return await read_model(request, model, "the query is invalid")


def _failed(exc: CitizenQueryFailed) -> ProblemError:
    return ProblemError(
        exc.error,
        exc.message or MESSAGES.get(exc.error, exc.error),
        status=exc.status,
        reason=exc.reason,
        retry_after=exc.retry_after,
        fields=list(exc.fields) if exc.fields else None,
    )


def _forbidden(client: Client, grant: str) -> ProblemError:
    return forbidden(client, grant)


async def _caller(service: CitizenService, client: Client, operation: str, body: CitizenQueryIn) -> Caller:
    """Who asks: the officer's agency must be one of the client's (``hub.agencies.binding``, 403
    agency_not_bound, recorded); none named: the client's only agency, else no agency (the default profile)."""
    agency = body.agency_code
    if agency is None:
        agency = next(iter(client.agencies)) if len(client.agencies) == 1 else None
    else:
        refusal = binding.quick(client.agencies, agency, agency)
        if isinstance(refusal, binding.Refusal):
            await service.forbidden(client.code, operation, agency_code=agency, reason="agency-not-bound")
            raise ProblemError(
                refusal.code,
                "the query names an agency this client is not bound to",
                status=refusal.status,
                errors=[refusal.error()],
            )
    return Caller(client.code, body.purpose, agency)


@router.post(
    "/verify",
    summary="Verify a citizen's ID number, name and birth date (XacThucThongTinCongDan)",
    description="Asks the national population database (CSDL quốc gia về dân cư) whether a citizen with this ID "
    "number exists and which of the given fields match. Nothing else about the citizen is returned. Grant "
    "`citizen.verify`. Every query is audited (client, officer, purpose, outcome, keyed hash of the ID number).",
    openapi_extra=_body(VerifyIn, EXAMPLE),
    response_model=VerifyOut,
    responses=_ERRORS,
)
async def verify(
    request: Request, service: CitizenService = Depends(get_citizens), client: Client = Depends(get_client)
) -> dict[str, Any]:
    if not grants.may_verify(client):
        await service.forbidden(client.code, "verify")
        raise _forbidden(client, grants.VERIFY)
    body = await _read(request, VerifyIn)
    try:
        result = await service.verify(await _caller(service, client, "verify", body), body.to_query(VerifyRequest))
    except CitizenQueryFailed as exc:
        raise _failed(exc) from None
    return {"exists": result.exists, "matches": result.matches, "request_id": result.request_id}


@router.post(
    "/lookup",
    summary="Look up a citizen's record, restricted to the fields granted (TraCuuThongTinCongDan)",
    description="Returns the citizen's record when ID number, name and birth date all match, with only the fields "
    "this client's `citizen.lookup:<field>,...` grants allow (deny by default). Audited like verify. "
    f"Grantable fields:\n\n{_FIELD_LIST}",
    openapi_extra=_body(LookupIn, EXAMPLE),
    response_model=LookupOut,
    responses=_ERRORS,
)
async def lookup(
    request: Request, service: CitizenService = Depends(get_citizens), client: Client = Depends(get_client)
) -> dict[str, Any]:
    fields = grants.lookup_fields(client)
    if not fields:
        await service.forbidden(client.code, "lookup")
        raise _forbidden(client, grants.LOOKUP_PREFIX + "<fields>")
    body = await _read(request, LookupIn)
    try:
        caller = await _caller(service, client, "lookup", body)
        result = await service.lookup(caller, body.to_query(LookupRequest), fields)
    except CitizenQueryFailed as exc:
        raise _failed(exc) from None
    citizen = result.record.restricted(fields) if result.record else None
    return {
        "exists": citizen is not None,
        "fields": sorted(fields),
        "citizen": citizen,
        "request_id": result.request_id,
    }


# ---------------------------------------------------------------- the audit (operators)
async def _search(service: CitizenService, f: AuditSearch) -> dict[str, Any]:
    filters = audit.Filters(
        client_code=f.client,
        agency_code=f.agency,
        officer_code=f.officer,
        operation=f.operation,
        outcome=f.outcome,
        request_id=f.request_id,
        id_hashes=service.hash_id.every(f.id_number) if f.id_number else None,
        since=f.since,
        until=f.until,
        before_id=f.before_id,
        limit=f.limit,
    )
    return {"queries": await run_in_threadpool(audit.search, service.engine, filters)}


@router.get(
    "/queries",
    summary="The audit of citizen queries, newest first (operator)",
    response_model=AuditPage,
    responses=errors(403, _403="The client is not granted `admin`"),
)
async def list_queries(
    request: Request,
    client_code: str | None = Query(default=None, alias="client", max_length=64),
    agency: str | None = Query(default=None, max_length=35, description="The officer's agency (agency code)"),
    officer: str | None = Query(default=None, max_length=20),
    operation: str | None = Query(default=None, pattern=r"^(verify|lookup)$"),
    outcome: str | None = Query(default=None, max_length=16),
    request_id: str | None = Query(default=None, max_length=40),
    since: Since | None = Query(default=None, alias="from", description="At or after (ISO 8601 with a time zone)"),
    until: Since | None = Query(default=None, alias="to", description="Before (ISO 8601 with a time zone)"),
    before_id: int | None = Query(default=None, ge=1, le=2**63 - 1),
    limit: int = Query(default=100, ge=1, le=1000),
    service: CitizenService = Depends(get_citizens),
    client: Client = Depends(get_client),
) -> Any:
    """Grant `admin`. To find the queries about one citizen, POST the ID number to
    `/v1/citizens/queries/search` (an ID number never goes in a URL: URLs end up in logs)."""
    require(ADMIN, client)
    if "id_number" in request.query_params:
        error = field_error("query.id_number", "not_in_url", "POST it to /v1/citizens/queries/search")
        raise ProblemError("validation_failed", "an ID number never goes in a URL", errors=[error])
    f = AuditSearch.model_validate(
        {
            "client": client_code,
            "agency": agency,
            "officer": officer,
            "operation": operation,
            "outcome": outcome,
            "request_id": request_id,
            "from": since,
            "to": until,
            "before_id": before_id,
            "limit": limit,
        }
    )
    return await _search(service, f)


@router.post(
    "/queries/search",
    summary="Search the audit of citizen queries, also by ID number (operator)",
    openapi_extra=_body(AuditSearch, {"id_number": "000090000001", "limit": 20}),
    response_model=AuditPage,
    responses=errors(403, _403="The client is not granted `admin`"),
)
async def search_queries(
    request: Request, service: CitizenService = Depends(get_citizens), client: Client = Depends(get_client)
) -> dict[str, Any]:
    """Grant `admin`. Same filters as `GET /v1/citizens/queries`, plus `id_number`, which the hub hashes with
    its audit key and matches against the stored hashes."""
    require(ADMIN, client)
    f = await _read(request, AuditSearch)
    return await _search(service, f)


def extend_schema(schema: dict[str, Any]) -> None:
    """The bodies the citizen routes read raw."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (VerifyIn, LookupIn, AuditSearch):
        defs = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(defs.pop("$defs", {}))
        components[model.__name__] = defs
