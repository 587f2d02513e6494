"""The OpenAPI document: every operation declares every status it can answer, the error ones
with the problem details schema (``hub.api.problems.Problem``, ``application/problem+json``).

Routes declare what is theirs (``errors(403, 404, ...)``); ``install`` adds what follows from
the operation's shape: 401 when it is authenticated, 400/413/415/422 when it has a body, 422
when it has parameters, and on every operation what the server itself may answer (408 headers
or body too slow, 431 headers too large, 503 database unavailable or connection cap reached).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from hub.api.problems import PROBLEM_MEDIA, BatchItem, FieldError, Problem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

DESCRIPTIONS: dict[int, str] = {
    400: "Malformed JSON: not JSON, a trailing comma, nested too deep, a string that is not text (lone "
    "surrogate, U+0000), a number out of range",
    401: "Missing, unknown, disabled or expired API key",
    403: "The client is not granted this",
    404: "Not found (or not the client's)",
    408: "The request's headers or body did not arrive within the server's timeouts",
    409: "Conflict with the current state",
    413: "The body (or the batch) is too large",
    415: "The body is not application/json",
    422: "Validation failed: `errors` names each field (or parameter) and the rule, never the value",
    431: "The request's headers are too large",
    502: "A partner refused, or answered something the hub will not read",
    503: "Unavailable for now (the hub's database, a partner, or the connection cap): retry after `Retry-After` s",
}
UNIVERSAL = (408, 431, 503)
BODY = (400, 413, 415, 422)


def errors(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route: these statuses as problem details. ``descriptions`` by status,
    written ``_409="..."``, replace the default description."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        text = descriptions.get(f"_{status}", DESCRIPTIONS.get(status, "Error"))
        out[status] = {"description": text, "content": {PROBLEM_MEDIA: {"schema": PROBLEM_REF}}}
    return out


def _declare(op: dict[str, Any], status: int) -> None:
    responses = op.setdefault("responses", {})
    entry = responses.setdefault(str(status), {"description": DESCRIPTIONS[status]})
    entry.setdefault("content", {})[PROBLEM_MEDIA] = {"schema": PROBLEM_REF}


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the statuses that follow from each operation's shape, and the problem schemas."""
    for methods in schema.get("paths", {}).values():
        for method, op in methods.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = op.setdefault("responses", {})
            default_422 = responses.get("422", {}).get("content", {}).get("application/json", {})
            if "HTTPValidationError" in str(default_422):  # FastAPI's own: replaced by the problem
                del responses["422"]
            statuses: list[int] = list(UNIVERSAL)
            if op.get("security"):
                statuses.append(401)
            if "requestBody" in op and not op.get("x-lgsp-partner-format"):  # callbacks: the partner's format
                statuses.extend(BODY)
            if op.get("parameters"):
                statuses.append(422)
            for status in statuses:
                _declare(op, status)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    defs = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(defs.pop("$defs", {}))
    components["Problem"] = defs
    for model in (FieldError, BatchItem):
        components.setdefault(model.__name__, model.model_json_schema(ref_template="#/components/schemas/{model}"))
    return schema


def install(app: FastAPI, extend: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Build the document once, completed (and ``extend``-ed: e.g. models the routes read raw)."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        if extend is not None:
            extend(schema)
        app.openapi_schema = complete(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the document
