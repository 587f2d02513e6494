"""Every model a caller's body is read into, and every canonical message: each integer (or
integer code) field refuses booleans, floats and numeric strings, and is bounded in its JSON
Schema; each timestamp refuses numbers and digits alone. Driven by the schemas, so a field added
later is covered (an example that misses it fails the test)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from hub import jsonbody
from hub.api import admin
from hub.canonical import DossierFeePaid, DossierStatusChange, PaymentStatusChanged
from hub.citizens.models import EXAMPLE as CITIZEN_EXAMPLE
from hub.citizens.models import AuditSearch, LookupIn, VerifyIn
from hub.dossiers import api as ingress
from hub.payments import models as payment_models
from hub.subscriptions.api import EXAMPLE as SUBSCRIPTION_EXAMPLE
from hub.subscriptions.api import NewSubscription

FULL_CHANGE = {
    **ingress.EXAMPLE,
    "fees": [{"code": "LP01", "name": "Lệ phí", "amount": 150000, "kind": 2, "collection": 1}],
}
FEE_PAID = {
    "dossier_code": "000.00.00.H56-251122-0001",
    "agency_code": "000.00.00.H56",
    "payment_id": "01KAQ3Z5X7E8R9T0Y1V2W3X4Y5",
    "paid_at": "2025-11-22T09:00:00+07:00",
    "amount": 150000,
    "profile": "napas",
    "fee_items": [{"code": "LP01", "name": "Lệ phí", "amount": 150000}],
    "dossier": FULL_CHANGE,
}
PAYMENT_EVENT = {
    "payment_id": "01KAQ3Z5X7E8R9T0Y1V2W3X4Y5",
    "client_reference": "HS-1",
    "dossier_code": "000.00.00.H56-251122-0001",
    "state": "paid",
    "amount": 150000,
    "profile": "napas",
    "settled_at": "2025-11-22T09:00:00+07:00",
}
# every model that reads a caller's body, and every canonical message, with a valid example
MODELS: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (DossierStatusChange, FULL_CHANGE),
    (DossierFeePaid, FEE_PAID),
    (PaymentStatusChanged, PAYMENT_EVENT),
    (payment_models.OpenPayment, payment_models.EXAMPLE),
    (NewSubscription, SUBSCRIPTION_EXAMPLE),
    (VerifyIn, CITIZEN_EXAMPLE),
    (LookupIn, CITIZEN_EXAMPLE),
    (AuditSearch, {"before_id": 5, "limit": 10, "from": "2025-11-22T09:00:00+07:00", "to": "2025-11-23T09:00:00Z"}),
    (admin.NewClient, {"code": "ONEGATE-H56", "grants": ["subscribe"]}),
    (admin.Rotation, {"grace_seconds": 60}),
    (admin.Grants, {"grants": ["subscribe"]}),
]
IDS = [m.__name__ for m, _ in MODELS]


def _paths(schema: dict[str, Any], node: dict[str, Any], path: tuple[Any, ...], want: str) -> list[tuple[Any, ...]]:
    """Paths (keys, 0 for array items) of the integer (``want="integer"``) or date-time nodes."""
    if "$ref" in node:
        return _paths(schema, schema["$defs"][node["$ref"].rsplit("/", 1)[1]], path, want)
    found: list[tuple[Any, ...]] = []
    for option in node.get("anyOf", []) + node.get("allOf", []):
        found += _paths(schema, option, path, want)
    if want == "integer" and (node.get("type") == "integer" or _int_enum(node)):
        found.append(path)
    if want == "date-time" and node.get("format") == "date-time":
        found.append(path)
    for name, sub in node.get("properties", {}).items():
        found += _paths(schema, sub, (*path, node.get("x-alias", {}).get(name, name)), want)
    if "items" in node:
        found += _paths(schema, node["items"], (*path, 0), want)
    return list(dict.fromkeys(found))


def _int_enum(node: dict[str, Any]) -> bool:
    values = node.get("enum") or []
    return bool(values) and all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def _set(example: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(example)
    node: Any = body
    for part in path[:-1]:
        node = node[part]  # KeyError/IndexError: the example does not cover this field
    node[path[-1]] = value
    return body


def _refused_at(model: type[BaseModel], body: dict[str, Any], path: tuple[Any, ...]) -> list[str]:
    with pytest.raises(ValidationError) as refused:
        jsonbody.validate(model, json.dumps(body).encode())
    return [e["type"] for e in refused.value.errors() if tuple(e["loc"][: len(path)]) == path]


@pytest.mark.parametrize(("model", "example"), MODELS, ids=IDS)
def test_the_examples_are_valid(model: type[BaseModel], example: dict[str, Any]) -> None:
    jsonbody.validate(model, json.dumps(example).encode())


@pytest.mark.parametrize(("model", "example"), MODELS, ids=IDS)
def test_integer_fields_refuse_booleans_floats_and_numeric_strings(
    model: type[BaseModel], example: dict[str, Any]
) -> None:
    schema = model.model_json_schema(by_alias=True)
    paths = _paths(schema, schema, (), "integer")
    for path in paths:
        valid = _set(example, path, 1)  # the field must be in the example (else KeyError: extend it)
        del valid
        for wrong in (True, False, 1.0, 2.5, "1", "0x10", 1e40):
            assert _refused_at(model, _set(example, path, wrong), path), (model.__name__, path, wrong)


@pytest.mark.parametrize(("model", "example"), MODELS, ids=IDS)
def test_integer_fields_are_bounded_in_the_schema_and_at_ingress(
    model: type[BaseModel], example: dict[str, Any]
) -> None:
    schema = model.model_json_schema(by_alias=True)
    for path in _paths(schema, schema, (), "integer"):
        node = _node(schema, path)
        if _int_enum(node):
            continue
        low, high = node.get("minimum", node.get("exclusiveMinimum")), node.get("maximum", node.get("exclusiveMaximum"))
        assert low is not None and high is not None, (model.__name__, path, node)
        assert _refused_at(model, _set(example, path, int(high) + 1), path), (model.__name__, path)
        assert _refused_at(model, _set(example, path, int(low) - 1), path), (model.__name__, path)
        assert _refused_at(model, _set(example, path, 10**40), path), (model.__name__, path)


@pytest.mark.parametrize(("model", "example"), MODELS, ids=IDS)
def test_timestamps_refuse_numbers_and_digits_alone(model: type[BaseModel], example: dict[str, Any]) -> None:
    schema = model.model_json_schema(by_alias=True)
    for path in _paths(schema, schema, (), "date-time"):
        for wrong in ("20251122090000", "1732240000", 1732240000, 1732240000.5, True):
            errors = _refused_at(model, _set(example, path, wrong), path)
            assert errors and errors[0] in ("timestamp_digits", "timestamp_type"), (model.__name__, path, wrong)
        with pytest.raises(ValidationError) as refused:
            jsonbody.validate(model, json.dumps(_set(example, path, "20251122090000")).encode())
        assert "2025-11-22T09:00:00+07:00" in str(refused.value)  # the message shows the expected form


def _node(schema: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    node = schema
    for part in path:
        node = _deref(schema, node)
        node = node["items"] if part == 0 and "items" in node else node["properties"][part]
    node = _deref(schema, node)
    ints = [o for o in node.get("anyOf", []) if o.get("type") == "integer"]
    return ints[0] if ints else node


def _deref(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    arrays = [o for o in node.get("anyOf", []) if o.get("type") in ("array", "object") or "$ref" in o]
    return _deref(schema, arrays[0]) if arrays and "properties" not in node and "items" not in node else node


def test_the_exported_schemas_are_bounded() -> None:
    """Every integer of the canonical messages' published schemas (schemas/) has its bounds."""
    from hub.schemas import render

    for name, text in render().items():
        doc = json.loads(text)
        for path in _paths(doc, doc, (), "integer"):
            node = _node(doc, path)
            assert _int_enum(node) or (
                {"minimum", "exclusiveMinimum"} & set(node) and {"maximum", "exclusiveMaximum"} & set(node)
            ), (name, path)
