"""Operator actions for admin clients (grant ``admin``), the same as the console's and the CLI's
(``hub.console.operations``, ``hub.console.bulk``): partners' health, hold and resume; edit and replay;
bulk replay with a dry run. Every call is audited with
``client:<code>`` as who."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from hub.api.bodies import HubRoute
from hub.api.deps import get_client, get_ledger, require
from hub.api.openapi import errors
from hub.api.problems import ProblemError
from hub.clients import ADMIN, Client
from hub.console import bulk, operations
from hub.console.operations import ActionRefused, Actor
from hub.dossiers.api import EXAMPLE as DOSSIER_EXAMPLE
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
    if exc.field in ("reason", "class_id", "selection"):
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
    body: Annotated[
        EditReplay,
        Body(
            openapi_examples={
                "corrected": {
                    "summary": "A status change whose procedure name was missing, corrected",
                    "value": {
                        "payload": DOSSIER_EXAMPLE,
                        "reason": "TenTTHC was missing; corrected from the one-stop system",
                    },
                }
            }
        ),
    ],
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


class BulkSelection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    connector: str | None = Field(default=None, pattern=CONNECTOR)
    class_id: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{16}$", description="An error group (its connector is then required)"
    )
    type: str | None = Field(default=None, max_length=100)
    source: str | None = Field(default=None, max_length=64, description="Client system code")
    agency: str | None = Field(default=None, max_length=64)
    since: AwareDatetime | None = Field(default=None, description="Last failure at or after (ISO 8601 with zone)")
    until: AwareDatetime | None = None

    def selection(self) -> bulk.Selection:
        return bulk.Selection(
            self.connector, self.type, self.source, self.agency, self.since, self.until, self.class_id
        )


class BulkRun(BulkSelection):
    reason: str = Field(min_length=3, max_length=500, description="Why (written to the audit).")


_SELECTION = {"connector": "national_portal", "type": "dossier.status.changed", "since": "2026-12-01T00:00:00+07:00"}
_SELECTION_EXAMPLES: dict[str, Any] = {"portal_today": {"summary": "Today's dead portal messages", "value": _SELECTION}}
_RUN_EXAMPLES: dict[str, Any] = {
    "portal_today": {
        "summary": "Replay them",
        "value": _SELECTION | {"reason": "Portal outage, ticket 4411"},
    }
}


class InvalidMessage(BaseModel):
    id: str
    field: str
    message: str


class DryRunView(BaseModel):
    total: int = Field(description="Dead messages selected")
    replayable: int = Field(description="Would be replayed")
    by_connector: dict[str, int]
    by_type: dict[str, int]
    invalid_count: int = Field(description="Would fail validation against their type's schema today: left out")
    invalid: list[InvalidMessage] = Field(description="The first 100 of them, with the first failing field")
    redacted: int = Field(description="Payload redacted under the retention policy: cannot be replayed")
    too_many: bool = Field(description=f"More than {bulk.MAX_MESSAGES} selected: narrow the filter")


class BulkItem(BaseModel):
    message_id: str
    outcome: str = Field(
        description="queued, invalid, refused or error; pending (not done yet) or replaying (taken by a run "
        "that stopped: a resume checks whether it was replayed)"
    )
    detail: str | None


class BulkResume(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    reason: str = Field(min_length=3, max_length=500, description="Why (written to the audit).")


class BulkView(BaseModel):
    id: str
    state: str = Field(
        description="running, finished, failed, or interrupted (its process stopped before it finished: "
        "resume it with POST .../resume)"
    )
    operator: str
    reason: str
    selection: dict[str, Any]
    total: int
    done: int
    left: int = Field(description="Items not done yet (what a resume would do)")
    percent: int
    counts: dict[str, int]
    items: list[BulkItem] = Field(description="Up to 200 outcomes, those not queued first")
    created_at: str
    finished_at: str | None


@router.post(
    "/replays/bulk/{bulk_id}/resume",
    status_code=202,
    summary="Resume an interrupted bulk replay: the messages it had not done (none is replayed twice)",
    response_model=BulkView,
    responses=errors(403, 404, 409, 422, _403=_403, _404="No such bulk replay", _409="It is not interrupted"),
)
async def bulk_resume(
    request: Request,
    body: Annotated[BulkResume, Body(openapi_examples={"resume": {"value": {"reason": "api restarted"}}})],
    bulk_id: str = Path(pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$"),
    ledger: Ledger = Depends(get_ledger),
    client: Client = Depends(_admin),
) -> dict[str, Any]:
    actor = _actor(request, client)
    try:
        await run_in_threadpool(bulk.resume, ledger, bulk_id, actor, body.reason)
    except ActionRefused as exc:
        if exc.field == "bulk_id":
            raise ProblemError("not_found", f"no bulk replay {bulk_id}") from None
        if exc.field == "state":
            raise ProblemError("conflict", str(exc)) from None
        raise refused(exc) from None
    bulk.run_in_background(ledger, bulk_id, actor)
    job = await run_in_threadpool(bulk.status, ledger.engine, bulk_id)
    assert job is not None
    return _bulk_view(job)


def _bulk_view(job: dict[str, Any]) -> dict[str, Any]:
    return {
        **job,
        "created_at": job["created_at"].isoformat(),
        "finished_at": job["finished_at"].isoformat() if job["finished_at"] else None,
    }


@router.post(
    "/replays/bulk/dry-run",
    summary="What a bulk replay of a filter or a group would do (nothing is queued)",
    response_model=DryRunView,
    responses=errors(403, 422, _403=_403),
)
async def bulk_dry_run(
    body: Annotated[BulkSelection, Body(openapi_examples=_SELECTION_EXAMPLES)],
    ledger: Ledger = Depends(get_ledger),
    _: Client = Depends(_admin),
) -> dict[str, Any]:
    try:
        dry = await run_in_threadpool(bulk.dry_run, ledger.engine, body.selection())
    except ActionRefused as exc:
        raise refused(exc) from None
    return {**dry.__dict__, "replayable": dry.replayable}


@router.post(
    "/replays/bulk",
    status_code=202,
    summary="Replay the dead messages of a filter or a group (runs in the background; see its progress)",
    response_model=BulkView,
    responses=errors(403, 422, _403=_403),
)
async def bulk_replay(
    request: Request,
    body: Annotated[BulkRun, Body(openapi_examples=_RUN_EXAMPLES)],
    ledger: Ledger = Depends(get_ledger),
    client: Client = Depends(_admin),
) -> dict[str, Any]:
    actor = _actor(request, client)
    try:
        bid, _ = await run_in_threadpool(bulk.start, ledger, body.selection(), actor, body.reason)
    except ActionRefused as exc:
        raise refused(exc) from None
    bulk.run_in_background(ledger, bid, actor)
    job = await run_in_threadpool(bulk.status, ledger.engine, bid)
    assert job is not None
    return _bulk_view(job)


@router.get(
    "/replays/bulk/{bulk_id}",
    summary="A bulk replay's progress and per-message outcomes",
    response_model=BulkView,
    responses=errors(403, 404, _403=_403, _404="No such bulk replay"),
)
async def bulk_status(
    bulk_id: str = Path(pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$"),
    ledger: Ledger = Depends(get_ledger),
    _: Client = Depends(_admin),
) -> dict[str, Any]:
    job = await run_in_threadpool(bulk.status, ledger.engine, bulk_id)
    if job is None:
        raise ProblemError("not_found", f"no bulk replay {bulk_id}")
    return _bulk_view(job)
