"""Reading what a caller sent, for every route of the hub's own API: JSON bodies only through
``hub.jsonbody`` (depth limit, text that can be stored, one answer for a syntax error), the
content type checked (415), and no parameter that is not storable text.

``HubRoute`` does it for the routes FastAPI validates itself (a pydantic body parameter): it
parses the body before FastAPI would (with the standard library, which recurses without limit)
and leaves it parsed on the request. ``read_json`` / ``read_model`` do it for the routes that
read their body raw."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from email.message import Message
from typing import Any, TypeVar

from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from hub import jsonbody
from hub.api.errors import field_errors
from hub.api.problems import ProblemError, field_error

M = TypeVar("M", bound=BaseModel)


def is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def malformed(exc: jsonbody.JsonRefused) -> ProblemError:
    return ProblemError("malformed_json", exc.message, errors=[field_error("(body)", exc.reason, exc.message)])


def unsupported() -> ProblemError:
    return ProblemError("unsupported_media_type", "send the body as application/json (Content-Type)")


def invalid(exc: ValidationError, detail: str = "the request is invalid") -> ProblemError:
    return ProblemError("validation_failed", detail, errors=field_errors(exc))


async def read_raw(request: Request) -> bytes:
    """The body of a JSON request (415 for another content type)."""
    if not is_json(request.headers.get("content-type")):
        raise unsupported()
    return await request.body()


async def read_json(request: Request) -> Any:
    """The JSON value of the body, or a 400/415 problem."""
    raw = await read_raw(request)
    try:
        return jsonbody.parse(raw)
    except jsonbody.JsonRefused as exc:
        raise malformed(exc) from None


async def read_model(request: Request, model: type[M], detail: str = "the request is invalid") -> M:
    """The body validated as ``model`` (one pass), or a 400/415/422 problem."""
    raw = await read_raw(request)
    try:
        return jsonbody.validate(model, raw)
    except jsonbody.JsonRefused as exc:
        raise malformed(exc) from None
    except ValidationError as exc:
        raise invalid(exc, detail) from None


def check_parameters(request: Request) -> None:
    """Path and query parameters must be storable text (no U+0000: PostgreSQL refuses it)."""
    bad = [f"path.{k}" for k, v in request.path_params.items() if isinstance(v, str) and "\x00" in v]
    bad += [f"query.{k}" for k, v in request.query_params.multi_items() if "\x00" in v or "\x00" in k]
    if bad:
        errors = [field_error(name, "not_text", "must not contain U+0000") for name in bad]
        raise ProblemError("validation_failed", "a parameter is not storable text", errors=errors)


class HubRoute(APIRoute):
    """An APIRoute whose JSON body (if it has one) is read by ``hub.jsonbody``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        takes_body = self.body_field is not None

        async def route(request: Request) -> Response:
            check_parameters(request)
            if takes_body:
                raw = await request.body()
                if raw:  # an empty body is FastAPI's "missing" (422)
                    if not is_json(request.headers.get("content-type")):
                        raise unsupported()
                    try:
                        request._json = jsonbody.parse(raw)  # what Request.json() returns from now on
                    except jsonbody.JsonRefused as exc:
                        raise malformed(exc) from None
            return await handler(request)

        return route
