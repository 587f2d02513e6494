"""Webhook subscriptions: a local system registers a URL for event types."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field, HttpUrl
from starlette.concurrency import run_in_threadpool

from hub import subscriptions
from hub.api.deps import get_client, get_hub, require
from hub.bootstrap import Hub
from hub.clients import ADMIN, Client

router = APIRouter(tags=["subscriptions"])
GRANT = "subscribe"


class NewSubscription(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    url: HttpUrl = Field(description="Receiver URL (http or https); events are POSTed to it, signed.")
    event_types: list[Literal["payment.status.changed"]] = Field(min_length=1, max_length=10)


@router.post(
    "/v1/subscriptions",
    status_code=201,
    summary="Subscribe a webhook URL to event types; the signing secret is returned once",
)
async def create_subscription(
    body: Annotated[NewSubscription, Body()], hub: Hub = Depends(get_hub), client: Client = Depends(get_client)
) -> dict[str, Any]:
    require(GRANT, client)
    return await run_in_threadpool(subscriptions.create, hub.engine, client.id, str(body.url), list(body.event_types))


@router.get("/v1/subscriptions", summary="This client's subscriptions (all of them for an admin)")
async def list_subscriptions(hub: Hub = Depends(get_hub), client: Client = Depends(get_client)) -> list[dict[str, Any]]:
    return await run_in_threadpool(subscriptions.list_for, hub.engine, None if client.may(ADMIN) else client.id)


@router.delete("/v1/subscriptions/{subscription_id}", status_code=204, summary="Stop a subscription")
async def delete_subscription(
    subscription_id: str = Path(max_length=26), hub: Hub = Depends(get_hub), client: Client = Depends(get_client)
) -> None:
    owner = None if client.may(ADMIN) else client.id
    if not await run_in_threadpool(subscriptions.disable, hub.engine, subscription_id, owner):
        raise HTTPException(
            status_code=404, detail={"error": "not_found", "message": f"no subscription {subscription_id}"}
        )
