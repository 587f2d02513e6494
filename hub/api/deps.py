"""Shared request dependencies: the one service a route needs, typed, from what the composition root
built (``app.state.hub``), and client authentication."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc
from starlette.concurrency import run_in_threadpool

from hub.agencies.port import AgencyDirectory
from hub.api.problems import ProblemError
from hub.citizens.service import CitizenService
from hub.clients import Authenticator, Client
from hub.dossiers.service import Dossiers
from hub.ledger import Ledger
from hub.payments.service import Payments
from hub.postal.service import Postal
from hub.services import Hub
from hub.settings import Settings
from hub.subscriptions.service import Subscriptions

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Client API key")
bearer = HTTPBearer(auto_error=False, description="Client API key as a bearer token")


# Dependencies are async: a plain ``def`` dependency costs a hop to the thread pool on every
# request. Only a key not seen within the cache's ttl goes to the database (in the pool).
def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


async def get_settings(request: Request) -> Settings:
    return _hub(request).settings


async def get_engine(request: Request) -> Engine:
    return _hub(request).engine


async def get_ledger(request: Request) -> Ledger:
    return _hub(request).ledger


async def get_dossiers(request: Request) -> Dossiers:
    return _hub(request).dossiers


async def get_agencies(request: Request) -> AgencyDirectory:
    return _hub(request).agencies


async def get_payments(request: Request) -> Payments:
    return _hub(request).payments


async def get_postal(request: Request) -> Postal:
    return _hub(request).postal


async def get_citizens(request: Request) -> CitizenService:
    return _hub(request).citizens


async def get_subscriptions(request: Request) -> Subscriptions:
    return _hub(request).subscriptions


async def get_client(
    request: Request,
    api_key: str | None = Depends(api_key_header),
    token: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> Client:
    key = api_key or (token.credentials if token else None)
    auth: Authenticator = request.app.state.authenticator
    client = None
    if key:
        known, client = auth.cached(key)
        if not known:
            client = await run_in_threadpool(auth.lookup, key)
    if client is None:
        raise ProblemError(
            "unauthorized",
            "a valid API key is required (X-API-Key header, or Authorization: Bearer)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return client


def require(grant: str, client: Client) -> None:
    if not client.may(grant):
        raise forbidden(client, grant)


def forbidden(client: Client, grant: str) -> ProblemError:
    return ProblemError("forbidden", f"client {client.code} is not granted {grant!r}")


def database_unavailable(exc: BaseException) -> bool:
    """Is this error the database being out of reach (down, restarting, unreachable, pool
    exhausted), which a retry later may cure, rather than a bug?"""
    if isinstance(exc, sa_exc.TimeoutError | sa_exc.OperationalError | sa_exc.InterfaceError):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated
