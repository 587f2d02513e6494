"""One error shape for the hub's own API: problem details (RFC 9457), ``application/problem+json``.

Every 4xx/5xx the hub answers on its own API has ``type`` (``urn:lgsp:problem:<code>``, the rule
that was broken), ``title``, ``status``, ``detail`` and ``errors`` (``[{field, rule, message}]``,
empty when no field is to blame), plus, where they apply, ``retry_after`` (also the
``Retry-After`` header), ``reason`` and ``results`` (a batch refused item by item). Partner
callbacks are the exception: they answer in each gateway's own format. Messages never echo a
submitted value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

PROBLEM_MEDIA = "application/problem+json"
TYPE_PREFIX = "urn:lgsp:problem:"

# code -> (status, title); the code is the last part of ``type``
CODES: dict[str, tuple[int, str]] = {
    "bad_request": (400, "The request cannot be read"),
    "malformed_json": (400, "The body is not readable JSON"),
    "unauthorized": (401, "A valid API key is required"),
    "forbidden": (403, "The client is not granted this"),
    "not_found": (404, "Not found"),
    "method_not_allowed": (405, "Method not allowed"),
    "request_timeout": (408, "The request was not received in time"),
    "conflict": (409, "Conflict with the current state"),
    "client_reference_reused": (409, "This client_reference was used for a different request"),
    "not_replayable": (409, "The message cannot be replayed in its state"),
    "client_exists": (409, "A client with this code exists"),
    "agency_exists": (409, "An agency with this code exists"),
    "subscription_limit": (409, "The client has as many subscriptions as it may"),
    "postal_order_open": (409, "The dossier's other postal order is not finished"),
    "postal_cancel_refused": (409, "The parcel was picked up: the order can no longer be cancelled"),
    "waybill_pool_exhausted": (409, "The agency's waybill pool has no free number left"),
    "body_too_large": (413, "The request body is too large"),
    "batch_too_large": (413, "The batch holds too many items"),
    "unsupported_media_type": (415, "Send the body as application/json"),
    "validation_failed": (422, "Validation failed"),
    "invalid_for_population_db": (422, "The query breaks a field limit of the national population database"),
    "unmappable_unit": (422, "An administrative unit cannot be mapped to VNPost's ids"),
    "agency_not_configured": (422, "The agency (or its configuration for this partner) is not configured"),
    "idempotency_key_reused": (422, "This Idempotency-Key was used with a different body"),
    "headers_too_large": (431, "The request headers are too large"),
    "internal_error": (500, "Internal error"),
    "gateway_refused": (502, "The payment gateway refused the order"),
    "population_db_refused": (502, "The national population database refused the query"),
    "population_db_bad_answer": (502, "The national population database's answer was refused unread"),
    "database_unavailable": (503, "The hub's database is unavailable"),
    "gateway_unavailable": (503, "The payment gateway is unavailable"),
    "population_db_unavailable": (503, "The national population database is unavailable"),
    "audit_unavailable": (503, "The query could not be recorded in the audit"),
    "server_busy": (503, "The hub has as many connections as it takes"),
}


class FieldError(BaseModel):
    field: str = Field(
        description="Where: a dotted path in the body (`fees.0.amount`), `(body)` for the whole body, or "
        "`query.<name>`, `path.<name>`, `header.<name>` for a parameter."
    )
    rule: str = Field(description="The rule broken, e.g. `int_type`, `less_than_equal`, `string_pattern_mismatch`.")
    message: str = Field(description="What the rule asks for, in English; never the submitted value.")


class BatchItem(BaseModel):
    index: int = Field(ge=0, description="Position of the item in the batch.")
    status: str = Field(description="`rejected` (nothing of a refused batch is stored).")
    errors: list[FieldError]


class Problem(BaseModel):
    """RFC 9457 problem details: the body of every 4xx/5xx of the hub's own API."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    type: str = Field(description="URI of the problem type, `urn:lgsp:problem:<code>`, e.g. validation_failed.")
    title: str = Field(description="Short summary of the problem type (the same for every occurrence).")
    status: int = Field(ge=400, le=599, description="The HTTP status code.")
    detail: str = Field(description="This occurrence, in English, without any submitted value.")
    errors: list[FieldError] = Field(default_factory=list, description="Each field at fault and the rule.")
    retry_after: int | None = Field(default=None, ge=0, description="Seconds to wait (also `Retry-After`).")
    reason: str | None = Field(default=None, description="Finer cause, e.g. `timeout`, `circuit-open`.")
    results: list[BatchItem] | None = Field(default=None, description="A refused batch: each item's errors.")
    fields: list[str] | None = Field(default=None, description="Partner fields a partner's refusal named.")


class ProblemError(Exception):
    """Raised anywhere in the API; answered as problem details by the app's handler."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        status: int | None = None,
        errors: Sequence[Mapping[str, str]] = (),
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail
        self.status = status or CODES.get(code, (500, ""))[0]
        self.errors, self.headers, self.extensions = list(errors), dict(headers or {}), extensions

    def response(self) -> Response:
        return problem(
            self.code, self.detail, status=self.status, errors=self.errors, headers=self.headers, **self.extensions
        )


def body(
    code: str, detail: str, *, status: int | None = None, errors: Sequence[Mapping[str, str]] = (), **ext: Any
) -> dict[str, Any]:
    """The problem document of ``code``."""
    default_status, title = CODES.get(code, (500, code.replace("_", " ")))
    out: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": title,
        "status": status or default_status,
        "detail": detail,
        "errors": [dict(e) for e in errors],
    }
    out.update({k: v for k, v in ext.items() if v is not None})
    return out


def problem(
    code: str,
    detail: str,
    *,
    status: int | None = None,
    errors: Sequence[Mapping[str, str]] = (),
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """A problem details response."""
    doc = body(code, detail, status=status, errors=errors, **extensions)
    hdrs = dict(headers or {})
    if doc.get("retry_after") is not None:
        hdrs.setdefault("Retry-After", str(doc["retry_after"]))
    return JSONResponse(doc, status_code=doc["status"], headers=hdrs, media_type=PROBLEM_MEDIA)


def raw_response(code: str, detail: str, status: int | None = None, **extensions: Any) -> tuple[int, bytes]:
    """(status, bytes) of a problem document, for answers written below the ASGI app."""
    doc = body(code, detail, status=status, **extensions)
    return doc["status"], json.dumps(doc, ensure_ascii=False).encode()


def field_error(field: str, rule: str, message: str) -> dict[str, str]:
    return {"field": field, "rule": rule, "message": message}
