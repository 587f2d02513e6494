"""Citizen verification and lookup against the national population database (synchronous), and its audit."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from connectors.population_db import LookupRequest, VerifyRequest
from hub.api.citizen_models import AuditSearch, LookupIn, LookupOut, Problem, VerifyIn, VerifyOut
from hub.api.deps import get_client, get_hub, require
from hub.api.ingress import field_errors, problem
from hub.bootstrap import Hub
from hub.citizens import audit, grants
from hub.citizens.service import Caller, CitizenQueryFailed
from hub.clients import ADMIN, Client

router = APIRouter(prefix="/v1/citizens", tags=["citizens"])
M = TypeVar("M", bound=BaseModel)

MESSAGES = {
    "population_db_unavailable": "the national population database is unavailable; try again after retry_after seconds",
    "population_db_refused": "the national population database refused the query",
    "population_db_bad_answer": "the national population database's answer was refused unread (unsafe or malformed); "
    "nothing of it was kept",
    "audit_unavailable": "the query could not be recorded in the audit, so its answer is withheld; try again later",
}
_FIELD_LIST = "\n".join(f"- `{name}`: {gloss}" for name, gloss in grants.LOOKUP_FIELDS.items())
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed JSON"},
    401: {"description": "Missing or invalid API key"},
    403: {"description": "The client lacks the grant (recorded in the audit)"},
    415: {"description": "The body is not JSON"},
    422: {"description": "Validation failed: each error names the field and the rule, never the value"},
    502: {"model": Problem, "description": "The database refused the query, or answered something unsafe"},
    503: {"model": Problem, "description": "The database is unavailable (breaker open, timeout, busy): Retry-After"},
}


def _body(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


async def _read(request: Request, model: type[M]) -> M | JSONResponse:
    if "json" not in request.headers.get("content-type", ""):
        return problem(415, "unsupported_media_type", "send the body as application/json")
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            return problem(400, "malformed_json", "the body is not valid JSON")
        return problem(422, "validation_failed", "the query is invalid", errors=field_errors(exc))


def _failed(exc: CitizenQueryFailed) -> JSONResponse:
    body: dict[str, Any] = {"error": exc.error, "reason": exc.reason, "message": MESSAGES.get(exc.error, exc.error)}
    headers = {}
    if exc.retry_after is not None:
        body["retry_after"] = exc.retry_after
        headers["Retry-After"] = str(exc.retry_after)
    if exc.fields:
        body["fields"] = list(exc.fields)
    return JSONResponse(status_code=exc.status, content=body, headers=headers)


def _forbidden(client: Client, grant: str) -> HTTPException:
    return HTTPException(
        status_code=403, detail={"error": "forbidden", "message": f"client {client.code} is not granted {grant!r}"}
    )


@router.post(
    "/verify",
    summary="Verify a citizen's ID number, name and birth date (XacThucThongTinCongDan)",
    description="Asks the national population database (CSDL quốc gia về dân cư) whether a citizen with this ID "
    "number exists and which of the given fields match. Nothing else about the citizen is returned. Grant "
    "`citizen.verify`. Every query is audited (client, officer, purpose, outcome, keyed hash of the ID number).",
    openapi_extra=_body(VerifyIn),
    response_model=VerifyOut,
    responses=_ERRORS,
)
async def verify(request: Request, hub: Hub = Depends(get_hub), client: Client = Depends(get_client)) -> JSONResponse:
    service = hub.citizens
    if not grants.may_verify(client):
        await service.forbidden(client.code, "verify")
        raise _forbidden(client, grants.VERIFY)
    body = await _read(request, VerifyIn)
    if isinstance(body, JSONResponse):
        return body
    try:
        result = await service.verify(Caller(client.code, body.purpose), body.to_query(VerifyRequest))
    except CitizenQueryFailed as exc:
        return _failed(exc)
    return JSONResponse({"exists": result.exists, "matches": result.matches, "request_id": result.request_id})


@router.post(
    "/lookup",
    summary="Look up a citizen's record, restricted to the fields granted (TraCuuThongTinCongDan)",
    description="Returns the citizen's record when ID number, name and birth date all match, with only the fields "
    "this client's `citizen.lookup:<field>,...` grants allow (deny by default). Audited like verify. "
    f"Grantable fields:\n\n{_FIELD_LIST}",
    openapi_extra=_body(LookupIn),
    response_model=LookupOut,
    responses=_ERRORS,
)
async def lookup(request: Request, hub: Hub = Depends(get_hub), client: Client = Depends(get_client)) -> JSONResponse:
    service = hub.citizens
    fields = grants.lookup_fields(client)
    if not fields:
        await service.forbidden(client.code, "lookup")
        raise _forbidden(client, grants.LOOKUP_PREFIX + "<fields>")
    body = await _read(request, LookupIn)
    if isinstance(body, JSONResponse):
        return body
    try:
        result = await service.lookup(Caller(client.code, body.purpose), body.to_query(LookupRequest), fields)
    except CitizenQueryFailed as exc:
        return _failed(exc)
    citizen = result.record.restricted(fields) if result.record else None
    return JSONResponse(
        {"exists": citizen is not None, "fields": sorted(fields), "citizen": citizen, "request_id": result.request_id}
    )


# ---------------------------------------------------------------- the audit (operators)
async def _search(hub: Hub, f: AuditSearch) -> dict[str, Any]:
    filters = audit.Filters(
        client_code=f.client,
        officer_code=f.officer,
        operation=f.operation,
        outcome=f.outcome,
        request_id=f.request_id,
        id_hashes=hub.citizens.hash_id.every(f.id_number) if f.id_number else None,
        since=f.since,
        until=f.until,
        before_id=f.before_id,
        limit=f.limit,
    )
    return {"queries": await run_in_threadpool(audit.search, hub.engine, filters)}


@router.get("/queries", summary="The audit of citizen queries, newest first (operator)")
async def list_queries(
    request: Request,
    client_code: str | None = Query(default=None, alias="client", max_length=64),
    officer: str | None = Query(default=None, max_length=20),
    operation: str | None = Query(default=None, pattern=r"^(verify|lookup)$"),
    outcome: str | None = Query(default=None, max_length=16),
    request_id: str | None = Query(default=None, max_length=40),
    since: AwareDatetime | None = Query(default=None, alias="from"),
    until: AwareDatetime | None = Query(default=None, alias="to"),
    before_id: int | None = Query(default=None, ge=1),
    limit: int = Query(default=100, ge=1, le=1000),
    hub: Hub = Depends(get_hub),
    client: Client = Depends(get_client),
) -> Any:
    """Grant `admin`. To find the queries about one citizen, POST the ID number to
    `/v1/citizens/queries/search` (an ID number never goes in a URL: URLs end up in logs)."""
    require(ADMIN, client)
    if "id_number" in request.query_params:
        error = {"field": "id_number", "rule": "not_in_url", "message": "POST it to /v1/citizens/queries/search"}
        return problem(422, "validation_failed", "an ID number never goes in a URL", errors=[error])
    f = AuditSearch.model_validate(
        {
            "client": client_code,
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
    return await _search(hub, f)


@router.post(
    "/queries/search",
    summary="Search the audit of citizen queries, also by ID number (operator)",
    openapi_extra=_body(AuditSearch),
)
async def search_queries(
    request: Request, hub: Hub = Depends(get_hub), client: Client = Depends(get_client)
) -> JSONResponse:
    """Grant `admin`. Same filters as `GET /v1/citizens/queries`, plus `id_number`, which the hub hashes with
    its audit key and matches against the stored hashes."""
    require(ADMIN, client)
    f = await _read(request, AuditSearch)
    if isinstance(f, JSONResponse):
        return f
    return JSONResponse(await _search(hub, f))
