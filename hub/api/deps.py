"""Shared request dependencies: the hub container and client authentication."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import exc as sa_exc
from starlette.concurrency import run_in_threadpool

from hub.api.problems import ProblemError
from hub.bootstrap import Hub
from hub.clients import Authenticator, Client

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Client API key")
bearer = HTTPBearer(auto_error=False, description="Client API key as a bearer token")


# Dependencies are async: a plain ``def`` dependency costs a hop to the thread pool on every
# request. Only a key not seen within the cache's ttl goes to the database (in the pool).
async def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


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
