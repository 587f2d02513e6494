"""Client systems and their keys, for operators (grant ``admin``): the same lifecycle as
``lgsp clients``. Every change is recorded (when, which admin client, what) in the client's
history and in the operators' audit (the console's Audit page), with the ``reason`` given."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from hub import clients
from hub.agencies.port import AGENCY_CODE
from hub.api.bodies import HubRoute
from hub.api.deps import get_client, get_engine, get_settings, require
from hub.api.openapi import errors
from hub.api.problems import ProblemError
from hub.citizens.grants import GrantError, check_grants
from hub.clients import ADMIN, Client
from hub.settings import Settings

router = APIRouter(prefix="/v1/admin/clients", tags=["admin"], route_class=HubRoute)
CODE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
GRANT = r"^[a-z][a-z0-9_.]{0,99}(:[a-z_]+(,[a-z_]+)*)?$"
T = TypeVar("T")
WHY = {"reason": {"value": {"reason": "the system is retired"}}, "none": {"value": {}}}
_ERRORS = errors(403, _403="The client is not granted `admin`")
_FOUND = errors(403, 404, _403="The client is not granted `admin`", _404="No such client")
_ONE = errors(
    403,
    404,
    409,
    _403="The client is not granted `admin`",
    _404="No such client",
    _409="An admin cannot lock itself out (disable itself, revoke its own admin grant, rotate its own key without "
    "a grace period)",
)


def _grants(value: list[str]) -> list[str]:
    try:
        check_grants(value)
    except GrantError as exc:
        raise ValueError(f"grants: {exc}") from None
    return value


Reason = Annotated[
    str | None,
    Field(
        min_length=3,
        max_length=500,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="Why the change is made: written to the operators' audit (who, when, what, why).",
    ),
]


class Why(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    reason: Reason = None


AgencyCode = Annotated[str, Field(pattern=AGENCY_CODE, description="Electronic agency code, e.g. 000.00.00.H56.")]


class ClientView(BaseModel):
    code: str
    name: str
    grants: list[str]
    agencies: list[str] = Field(description="Agency codes it is bound to: it pushes their dossiers and payments only.")
    created_at: str | None
    disabled_at: str | None = Field(description="When it was disabled (its keys stopped working); null if enabled.")
    old_key_valid_until: str | None = Field(description="A rotated-out key works until then; null if none does.")


class NewClient(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(pattern=CODE, description="Client system code, e.g. ONEGATE-H56.")
    name: str = Field(default="", max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")
    grants: list[Annotated[str, Field(pattern=GRANT)]] = Field(default_factory=list, max_length=50)
    agencies: list[AgencyCode] = Field(default_factory=list, max_length=200)
    reason: Reason = None

    @field_validator("grants")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        return _grants(value)


class Agencies(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    agencies: list[AgencyCode] = Field(min_length=1, max_length=200)
    reason: Reason = None


class Grants(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    grants: list[Annotated[str, Field(pattern=GRANT)]] = Field(min_length=1, max_length=50)
    reason: Reason = None

    @field_validator("grants")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        return _grants(value)


class Rotation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    grace_seconds: StrictInt | None = Field(
        default=None,
        ge=0,
        le=30 * 86_400,
        description="How long the current key keeps working (0: it stops now); default HUB_KEY_ROTATION_GRACE.",
    )
    reason: Reason = None


class CreatedClient(ClientView):
    api_key: str = Field(description="The client's API key, shown this once (only its hash is kept).")


class Change(BaseModel):
    at: str | None
    actor: str = Field(description="`client:<code>` (this API) or `cli:<user>` (lgsp clients)")
    action: str = Field(description="create, rotate, disable, enable, grant, revoke_grant, bind_agency, unbind_agency")
    detail: dict[str, Any]


async def _call(request: Request, fn: Callable[[], T]) -> T:
    try:
        result = await run_in_threadpool(fn)
    except clients.ClientNotFound:
        raise ProblemError("not_found", "no such client") from None
    request.app.state.authenticator.forget()  # this process: at once; the others within the cache time
    return result


def _admin(client: Client = Depends(get_client)) -> Client:
    require(ADMIN, client)
    return client


def _not_self(caller: Client, code: str, what: str) -> None:
    if caller.code == code:
        raise ProblemError("conflict", f"an admin client cannot {what} itself (use another admin client or the CLI)")


@router.get("", summary="Every client system", response_model=list[ClientView], responses=_ERRORS)
async def list_clients(engine: Engine = Depends(get_engine), _: Client = Depends(_admin)) -> list[dict[str, Any]]:
    return await run_in_threadpool(clients.list_clients, engine)


@router.post(
    "",
    status_code=201,
    summary="Register a client system; its API key is returned once",
    response_model=CreatedClient,
    responses=errors(403, 409, _403="The client is not granted `admin`", _409="A client with this code exists"),
)
async def create_client(
    body: Annotated[
        NewClient,
        Body(
            openapi_examples={
                "onegate": {
                    "value": {
                        "code": "ONEGATE-H56",
                        "grants": ["dossier.status.changed"],
                        "agencies": ["000.00.00.H56"],
                    }
                }
            }
        ),
    ],
    request: Request,
    engine: Engine = Depends(get_engine),
    caller: Client = Depends(_admin),
) -> dict[str, Any]:
    def create() -> dict[str, Any]:
        key = clients.create_client(
            engine,
            body.code,
            body.name or body.code,
            body.grants,
            actor=_actor(caller),
            agencies=body.agencies,
            why=_why(request, body.reason),
        )
        return {**clients.get(engine, body.code), "api_key": key}

    try:
        return await run_in_threadpool(create)
    except clients.ClientExists:
        raise ProblemError("client_exists", "a client with this code exists; rotate its key instead") from None


@router.get("/{code}", summary="One client system", response_model=ClientView, responses=_FOUND)
async def get_client_view(
    request: Request, code: str = Path(pattern=CODE), engine: Engine = Depends(get_engine), _: Client = Depends(_admin)
) -> dict[str, Any]:
    return await _call(request, lambda: clients.get(engine, code))


@router.post(
    "/{code}/rotate",
    summary="A new API key (returned once); the current key keeps working for the grace period",
    response_model=CreatedClient,
    responses=_ONE,
)
async def rotate(
    request: Request,
    body: Annotated[Rotation, Body(openapi_examples={"one_hour": {"value": {"grace_seconds": 3600}}})],
    code: str = Path(pattern=CODE),
    engine: Engine = Depends(get_engine),
    settings: Settings = Depends(get_settings),
    caller: Client = Depends(_admin),
) -> dict[str, Any]:
    grace = settings.key_rotation_grace if body.grace_seconds is None else body.grace_seconds
    if grace == 0:
        _not_self(caller, code, "rotate the key without a grace period of")
    key, view = await _call(
        request, lambda: clients.rotate(engine, code, _actor(caller), grace, _why(request, body.reason))
    )
    return {**view, "api_key": key}


@router.post(
    "/{code}/disable",
    summary="Disable: every key of the client stops working",
    response_model=ClientView,
    responses=_ONE,
)
async def disable(
    request: Request,
    body: Annotated[Why | None, Body(openapi_examples=WHY)] = None,
    code: str = Path(pattern=CODE),
    engine: Engine = Depends(get_engine),
    caller: Client = Depends(_admin),
) -> dict[str, Any]:
    _not_self(caller, code, "disable")
    return await _call(request, lambda: clients.set_disabled(engine, code, True, _actor(caller), _why(request, body)))


@router.post("/{code}/enable", summary="Enable a disabled client again", response_model=ClientView, responses=_FOUND)
async def enable(
    request: Request,
    body: Annotated[Why | None, Body(openapi_examples=WHY)] = None,
    code: str = Path(pattern=CODE),
    engine: Engine = Depends(get_engine),
    caller: Client = Depends(_admin),
) -> dict[str, Any]:
    return await _call(request, lambda: clients.set_disabled(engine, code, False, _actor(caller), _why(request, body)))


@router.post("/{code}/grants", summary="Give grants", response_model=ClientView, responses=_FOUND)
async def grant(
    request: Request,
    body: Annotated[Grants, Body(openapi_examples={"subscribe": {"value": {"grants": ["subscribe"]}}})],
    code: str = Path(pattern=CODE),
    engine: Engine = Depends(get_engine),
    caller: Client = Depends(_admin),
) -> dict[str, Any]:
    why = _why(request, body.reason)
    return await _call(request, lambda: clients.change_grants(engine, code, list(body.grants), [], _actor(caller), why))


@router.post("/{code}/grants/revoke", summary="Revoke grants", response_model=ClientView, responses=_ONE)
async def revoke_grant(
    request: Request,
    body: Annotated[Grants, Body(openapi_examples={"subscribe": {"value": {"grants": ["subscribe"]}}})],
    code: str = Path(pattern=CODE),
    engine: Engine = Depends(get_engine),
    caller: Client = Depends(_admin),
) -> dict[str, Any]:
    if ADMIN in body.grants:
        _not_self(caller, code, "revoke the admin grant of")
    why = _why(request, body.reason)
    return await _call(request, lambda: clients.change_grants(engine, code, [], list(body.grants), _actor(caller), why))


@router.post(
    "/{code}/agencies",
    summary="Bind agencies: the client may push their dossiers and payments",
    response_model=ClientView,
    responses=_FOUND,
)
async def bind_agencies(
    request: Request,
    body: Annotated[Agencies, Body(openapi_examples={"one": {"value": {"agencies": ["000.00.00.H56"]}}})],
    code: str = Path(pattern=CODE),
    engine: Engine = Depends(get_engine),
    caller: Client = Depends(_admin),
) -> dict[str, Any]:
    why = _why(request, body.reason)
    return await _call(
        request, lambda: clients.change_agencies(engine, code, list(body.agencies), [], _actor(caller), why)
    )


@router.post("/{code}/agencies/remove", summary="Unbind agencies", response_model=ClientView, responses=_FOUND)
async def unbind_agencies(
    request: Request,
    body: Annotated[Agencies, Body(openapi_examples={"one": {"value": {"agencies": ["000.00.00.H56"]}}})],
    code: str = Path(pattern=CODE),
    engine: Engine = Depends(get_engine),
    caller: Client = Depends(_admin),
) -> dict[str, Any]:
    why = _why(request, body.reason)
    return await _call(
        request, lambda: clients.change_agencies(engine, code, [], list(body.agencies), _actor(caller), why)
    )


@router.get(
    "/{code}/history",
    summary="Every change to the client: when, who, what",
    response_model=list[Change],
    responses=_FOUND,
)
async def client_history(
    request: Request,
    code: str = Path(pattern=CODE),
    limit: int = Query(default=100, ge=1, le=1000),
    engine: Engine = Depends(get_engine),
    _: Client = Depends(_admin),
) -> list[dict[str, Any]]:
    return await _call(request, lambda: clients.history(engine, code, limit))


def _actor(caller: Client) -> str:
    return f"client:{caller.code}"


def _why(request: Request, reason: str | Why | None) -> clients.Why:
    if isinstance(reason, Why):
        reason = reason.reason
    return clients.Why(" ".join(reason.split()) if reason else None, request.client.host if request.client else None)
