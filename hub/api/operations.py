"""Operator actions for admin clients (grant ``admin``), the same as the console's and the CLI's
(``hub.console.operations``): partners' health, hold and resume; edit and replay. Every call is audited with
``client:<code>`` as who."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from hub.api.bodies import HubRoute
from hub.api.deps import get_client, get_ledger, require
from hub.api.openapi import errors
from hub.api.problems import ProblemError
from hub.clients import ADMIN, Client
from hub.console import operations
from hub.console.operations import ActionRefused, Actor
from hub.ledger import Ledger, NotFound
from hub.ledger.edits import InvalidPayload
from hub.services import Hub

router = APIRouter(prefix="/v1/admin", tags=["admin"], route_class=HubRoute)
CONNECTOR = r"^[a-z][a-z0-9_]{0,63}$"
_403 = "The client is not granted `admin`"


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    reason: str = Field(min_length=3, max_length=500, description="Why (written to the audit).")


class PartnerView(BaseModel):
    connector: str
    held: bool
    held_at: str | None
    held_by: str | None
    hold_reason: str | None
    circuit: str = Field(description="closed, half_open, open, or unknown (no worker reported yet)")
    circuit_changed_at: str | None
    backlog: int = Field(description="Messages queued, being delivered, or waiting for an earlier one")
    backlog_by_state: dict[str, int]
    retrying: int
    dead: int
    last_success: str | None


class Resumed(BaseModel):
    connector: str
    queued: int = Field(description="Waiting messages queued again, oldest change first")


class EditReplay(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    payload: dict[str, Any] = Field(description="The corrected payload: validated against the type's canonical schema.")
    reason: str = Field(min_length=3, max_length=500, description="Why (written to the audit).")


class EditReplayed(BaseModel):
    id: str = Field(description="The new message's id")
    replay_of: str = Field(description="The dead message it was made from (kept as it was)")
    state: str = Field(description="The new message's state (queued)")


def _admin(client: Client = Depends(get_client)) -> Client:
    require(ADMIN, client)
    return client


def _names(request: Request) -> list[str]:
    hub: Hub = request.app.state.hub
    return list(hub.routing.names)


def _actor(request: Request, client: Client) -> Actor:
    return Actor(f"client:{client.code}", request.client.host if request.client else None)


def refused(exc: ActionRefused) -> ProblemError:
    code = "not_found" if exc.field == "connector" and "unknown" in exc.rule else "conflict"
    if exc.field == "reason":
        code = "validation_failed"
    errs = [{"field": exc.field, "rule": "invalid", "message": exc.rule}]
    return ProblemError(code, str(exc), errors=errs)


@router.get(
    "/partners",
    summary="Every partner's health and hold",
    response_model=list[PartnerView],
    responses=errors(403, _403=_403),
)
async def list_partners(
    request: Request, ledger: Ledger = Depends(get_ledger), _: Client = Depends(_admin)
) -> list[dict[str, Any]]:
    found = await run_in_threadpool(operations.partners, ledger, _names(request))
    return [operations.as_dict(p) for p in found]


@router.post(
    "/partners/{connector}/hold",
    summary="Hold a partner: its deliveries pause, nothing is lost, no attempt is counted",
    response_model=PartnerView,
    responses=errors(403, 404, 422, _403=_403, _404="No such partner"),
)
async def hold(
    request: Request,
    body: Annotated[Reason, Body(openapi_examples={"outage": {"value": {"reason": "Portal outage, ticket 4411"}}})],
    connector: str = Path(pattern=CONNECTOR),
    ledger: Ledger = Depends(get_ledger),
    client: Client = Depends(_admin),
) -> dict[str, Any]:
    names = _names(request)
    try:
        await run_in_threadpool(operations.hold, ledger, names, connector, _actor(request, client), body.reason)
    except ActionRefused as exc:
        raise refused(exc) from None
    found = await run_in_threadpool(operations.partners, ledger, [connector])
    return operations.as_dict(found[0])


@router.post(
    "/partners/{connector}/resume",
    summary="Resume a held partner: its waiting messages are queued again, in order",
    response_model=Resumed,
    responses=errors(403, 404, 409, 422, _403=_403, _404="No such partner", _409="The partner is not held"),
)
async def resume(
    request: Request,
    body: Annotated[Reason, Body(openapi_examples={"back": {"value": {"reason": "Portal is back"}}})],
    connector: str = Path(pattern=CONNECTOR),
    ledger: Ledger = Depends(get_ledger),
    client: Client = Depends(_admin),
) -> dict[str, Any]:
    names = _names(request)
    try:
        n = await run_in_threadpool(operations.resume, ledger, names, connector, _actor(request, client), body.reason)
    except ActionRefused as exc:
        raise refused(exc) from None
    return {"connector": connector, "queued": n}


@router.post(
    "/messages/{message_id}/edit-replay",
    status_code=202,
    summary="Replay a dead message with a corrected payload (a new message linked to the original)",
    response_model=EditReplayed,
    responses=errors(
        403,
        404,
        409,
        422,
        _403=_403,
        _404="No such message",
        _409="The message is not dead",
        _422="The payload does not fit its type's canonical schema (errors name each field)",
    ),
)
async def edit_replay(
    request: Request,
    body: EditReplay,
    message_id: str = Path(pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$"),
    ledger: Ledger = Depends(get_ledger),
    client: Client = Depends(_admin),
) -> dict[str, Any]:
    actor = _actor(request, client)
    try:
        new = await run_in_threadpool(operations.edit_replay, ledger, message_id, body.payload, actor, body.reason)
    except InvalidPayload as exc:
        errs = [{"field": f"payload.{p.field}", "rule": "schema", "message": p.message} for p in exc.problems]
        raise ProblemError(
            "validation_failed", "the payload does not fit its type's canonical schema", errors=errs
        ) from None
    except ActionRefused as exc:
        raise refused(exc) from None
    except NotFound:
        raise ProblemError("not_found", f"no message {message_id}") from None
    return {"id": new, "replay_of": message_id, "state": "queued"}
