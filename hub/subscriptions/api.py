"""Webhook subscriptions: a local system registers a URL for event types."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field, HttpUrl
from starlette.concurrency import run_in_threadpool

from hub.api.bodies import HubRoute
from hub.api.deps import get_client, get_subscriptions, require
from hub.api.openapi import errors
from hub.api.problems import ProblemError, field_error
from hub.clients import ADMIN, Client
from hub.ssrf import MAX_URL_LENGTH, AddressRefused
from hub.subscriptions.service import Subscriptions, TooManySubscriptions

router = APIRouter(tags=["subscriptions"], route_class=HubRoute)
GRANT = "subscribe"
SUBSCRIPTION_ID = r"^[0-9A-Za-z]{1,26}$"
EXAMPLE = {"url": "https://onegate.h56.example/hooks/lgsp", "event_types": ["payment.status.changed"]}


class NewSubscription(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    url: HttpUrl = Field(
        max_length=MAX_URL_LENGTH,
        description="Receiver URL, http or https, without credentials. It must resolve to globally routable "
        "addresses only (no loopback, link-local, private, multicast or reserved address), unless the hub "
        "allows the network (HUB_WEBHOOK_ALLOW_NETWORKS); checked now and again at each delivery. Redirects "
        "are not followed.",
    )
    event_types: list[Literal["payment.status.changed", "postal.status.changed"]] = Field(min_length=1, max_length=10)


class Subscription(BaseModel):
    id: str
    url: str
    event_types: list[str]
    created_at: str | None


class CreatedSubscription(Subscription):
    secret: str = Field(description="The Standard Webhooks signing secret (`whsec_...`), shown this once only.")


@router.post(
    "/v1/subscriptions",
    status_code=201,
    summary="Subscribe a webhook URL to event types; the signing secret is returned once",
    response_model=CreatedSubscription,
    responses=errors(
        403,
        409,
        _403="The client is not granted `subscribe`",
        _409="The client holds as many subscriptions as it may (HUB_SUBSCRIPTIONS_PER_CLIENT)",
        _422="Validation failed, or the URL's address is not one the hub calls (rule `address_<why>`)",
    ),
)
async def create_subscription(
    body: Annotated[NewSubscription, Body(openapi_examples={"receiver": {"value": EXAMPLE}})],
    subscriptions: Subscriptions = Depends(get_subscriptions),
    client: Client = Depends(get_client),
) -> dict[str, Any]:
    require(GRANT, client)
    try:
        return await run_in_threadpool(subscriptions.create, client.id, str(body.url), list(body.event_types))
    except AddressRefused as exc:
        error = field_error("url", f"address_{exc.reason}", exc.message)
        raise ProblemError("validation_failed", "the hub does not call this URL", errors=[error]) from None
    except TooManySubscriptions as exc:
        raise ProblemError("subscription_limit", str(exc)) from None


@router.get(
    "/v1/subscriptions",
    summary="This client's subscriptions (all of them for an admin)",
    response_model=list[Subscription],
)
async def list_subscriptions(
    subscriptions: Subscriptions = Depends(get_subscriptions), client: Client = Depends(get_client)
) -> list[dict[str, Any]]:
    return await run_in_threadpool(subscriptions.list_for, None if client.may(ADMIN) else client.id)


@router.delete(
    "/v1/subscriptions/{subscription_id}",
    status_code=204,
    summary="Stop a subscription",
    response_class=Response,
    responses=errors(404, _404="No such active subscription (of this client)"),
)
async def delete_subscription(
    subscription_id: str = Path(pattern=SUBSCRIPTION_ID),
    subscriptions: Subscriptions = Depends(get_subscriptions),
    client: Client = Depends(get_client),
) -> Response:
    owner = None if client.may(ADMIN) else client.id
    if not await run_in_threadpool(subscriptions.disable, subscription_id, owner):
        raise ProblemError("not_found", "no such active subscription")
    return Response(status_code=204)
