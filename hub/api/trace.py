"""Trace and operator endpoints: where is a message, a dossier's journey, replay."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from starlette.concurrency import run_in_threadpool

from hub import trace
from hub.api.deps import get_client, get_hub, require
from hub.bootstrap import Hub
from hub.clients import ADMIN, Client
from hub.ledger import NotFound, NotReplayable

router = APIRouter(tags=["trace"])
STATES = "queued|delivering|held|retrying|delivered|dead"


def _not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail={"error": "not_found", "message": f"no {what}"})


@router.get("/v1/messages/{message_id}", summary="One message: state, attempts, outcomes, partner answers")
async def get_message(
    message_id: str = Path(max_length=26), hub: Hub = Depends(get_hub), client: Client = Depends(get_client)
) -> dict[str, Any]:
    msg = await run_in_threadpool(trace.get_message, hub.engine, message_id)
    if msg is None or (msg["source"] != client.code and not client.may(ADMIN)):
        raise _not_found(f"message {message_id}")
    return msg


@router.get(
    "/v1/dossiers/{dossier_code}/timeline",
    summary="A dossier's journey: every message in order with its state, and its payments with every callback",
)
async def dossier_timeline(
    dossier_code: str = Path(max_length=100), hub: Hub = Depends(get_hub), client: Client = Depends(get_client)
) -> dict[str, Any]:
    whose = None if client.may(ADMIN) else (client.code, client.id)
    found = await run_in_threadpool(trace.timeline, hub.engine, dossier_code, whose)
    if not found["messages"] and not found["payments"]:
        raise _not_found(f"message or payment for dossier {dossier_code}")
    return {"dossier_code": dossier_code, **found}


@router.get("/v1/messages", summary="Recent messages, e.g. ?state=dead for the operator's dead list")
async def list_messages(
    state: str | None = Query(default=None, pattern=f"^({STATES})$"),
    limit: int = Query(default=100, ge=1, le=1000),
    hub: Hub = Depends(get_hub),
    client: Client = Depends(get_client),
) -> dict[str, Any]:
    source = None if client.may(ADMIN) else client.code
    return {"messages": await run_in_threadpool(trace.list_messages, hub.engine, state, limit, source)}


@router.post("/v1/messages/{message_id}/replay", status_code=202, summary="Queue a dead message again (operator)")
async def replay(
    message_id: str = Path(max_length=26), hub: Hub = Depends(get_hub), client: Client = Depends(get_client)
) -> dict[str, Any]:
    require(ADMIN, client)
    try:
        state = await run_in_threadpool(hub.ledger.replay, message_id)
    except NotFound:
        raise _not_found(f"message {message_id}") from None
    except NotReplayable as exc:
        raise HTTPException(status_code=409, detail={"error": "not_replayable", "message": str(exc)}) from None
    return {"id": message_id, "state": state}
