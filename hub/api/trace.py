"""Trace and operator endpoints: where is a message, a dossier's journey, replay."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from hub import trace
from hub.api.bodies import HubRoute
from hub.api.deps import get_client, get_engine, get_ledger, require
from hub.api.openapi import errors
from hub.api.problems import ProblemError
from hub.api.trace_models import MESSAGE_ID, STATES, MessageDetail, MessageList, Replayed, Timeline
from hub.clients import ADMIN, Client
from hub.ledger import Ledger, NotFound, NotReplayable

router = APIRouter(tags=["trace"], route_class=HubRoute)
DOSSIER_KEY = r"^[^\x00-\x1f\x7f]{1,100}$"


def _not_found(what: str) -> ProblemError:
    return ProblemError("not_found", f"no {what}")


@router.get(
    "/v1/messages/{message_id}",
    summary="One message: state, attempts, outcomes, partner answers",
    response_model=MessageDetail,
    responses=errors(404, _404="No such message (or not this client's)"),
)
async def get_message(
    message_id: str = Path(pattern=MESSAGE_ID, examples=["01KAQ3Z5X7E8R9T0Y1U2I3O4P5"]),
    engine: Engine = Depends(get_engine),
    client: Client = Depends(get_client),
) -> dict[str, Any]:
    msg = await run_in_threadpool(trace.get_message, engine, message_id)
    if msg is None or (msg["source"] != client.code and not client.may(ADMIN)):
        raise _not_found("message " + message_id)
    return msg


@router.get(
    "/v1/dossiers/{dossier_code}/timeline",
    summary="A dossier's journey: every message in order with its state, and its payments with every callback",
    response_model=Timeline,
    responses=errors(404, _404="Nothing of this dossier (that this client sent)"),
)
async def dossier_timeline(
    dossier_code: str = Path(pattern=DOSSIER_KEY, examples=["000.00.00.H56-251122-0001"]),
    engine: Engine = Depends(get_engine),
    client: Client = Depends(get_client),
) -> dict[str, Any]:
    whose = None if client.may(ADMIN) else (client.code, client.id)
    found = await run_in_threadpool(trace.timeline, engine, dossier_code, whose)
    if not found["messages"] and not found["payments"] and not found["parcels"]:
        raise _not_found("message or payment for this dossier")
    return {"dossier_code": dossier_code, **found}


@router.get(
    "/v1/messages",
    summary="Recent messages, e.g. ?state=dead for the operator's dead list",
    response_model=MessageList,
)
async def list_messages(
    state: str | None = Query(default=None, pattern=f"^({STATES})$"),
    limit: int = Query(default=100, ge=1, le=1000),
    engine: Engine = Depends(get_engine),
    client: Client = Depends(get_client),
) -> dict[str, Any]:
    source = None if client.may(ADMIN) else client.code
    return {"messages": await run_in_threadpool(trace.list_messages, engine, state, limit, source)}


@router.post(
    "/v1/messages/{message_id}/replay",
    status_code=202,
    summary="Queue a dead message again (operator)",
    response_model=Replayed,
    responses=errors(
        403, 404, 409, _403="The client is not granted `admin`", _409="The message is not dead: nothing to replay"
    ),
)
async def replay(
    message_id: str = Path(pattern=MESSAGE_ID),
    ledger: Ledger = Depends(get_ledger),
    client: Client = Depends(get_client),
) -> dict[str, Any]:
    require(ADMIN, client)
    try:
        state = await run_in_threadpool(ledger.replay, message_id, f"client:{client.code}")
    except NotFound:
        raise _not_found("message " + message_id) from None
    except NotReplayable as exc:
        raise ProblemError("not_replayable", str(exc)) from None
    return {"id": message_id, "state": state}
