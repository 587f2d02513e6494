"""Hostile and careless bodies, thrown at every operation of the OpenAPI document that takes a
JSON body (and at the partners' callbacks): each class gets one clean refusal, never a 500.
The operations come from the document, so a new route is covered without editing this file."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.api.app import create_app
from tests.support.problems import problem
from tests.support.whole_hub import WholeHub, whole_hub

STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
HOSTILE = {
    "deep_arrays": (b"[" * 5000 + b"]" * 5000, "too_deep"),
    "deep_objects": (b'{"a":' * 3000 + b"1" + b"}" * 3000, "too_deep"),
    "deep_unclosed": (b"[" * 5000, "too_deep"),
    "just_over_the_limit": (b"[" * 33 + b"]" * 33, "too_deep"),
    "lone_surrogate": (b'{"a": "\\ud800"}', "not_text"),
    "lone_low_surrogate": (b'{"a": "x\\udfff"}', "not_text"),
    "surrogate_key": (b'{"\\ud800": 1}', "not_text"),
    "nul": (b'{"a": "x\\u0000y"}', "not_text"),
    "invalid_utf8": (b'{"a": "\xff\xfe"}', "not_text"),
    "trailing_comma_object": (b'{"a": 1,}', "syntax"),
    "trailing_comma_array": (b"[1, 2,]", "syntax"),
    "truncated": (b'{"a": ', "syntax"),
    "nan": (b'{"a": NaN}', "syntax"),
    "infinity": (b'{"a": 1e400}', "number"),
    "huge_integer": (b'{"a": ' + b"9" * 5000 + b"}", "number"),
}


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, WholeHub]]:
    db = tmp_path_factory.mktemp("hostile") / "hub.db"
    with whole_hub(f"sqlite:///{db}") as whole, TestClient(create_app(whole.hub, pipeline=False)) as api:
        yield api, whole


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    ops = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if "requestBody" in op:
                ops.append((method, path, op))
    return ops


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "ONEGATE-X", path)


def _example(op: dict[str, Any]) -> Any:
    examples = op["requestBody"]["content"]["application/json"].get("examples", {})
    assert examples, f"{op['summary']}: the request body has no example"
    return next(iter(examples.values()))["value"]


def _lgsp_refusal(status: int, body: dict[str, Any]) -> bool:
    """The LGSP's shape (VNPost pushes): refused unsigned (401), not enabled (404) or unreadable (400)."""
    return (status, body.get("Status")) in ((400, "102"), (401, "401"), (404, "404"))


def test_every_body_taking_operation_refuses_each_hostile_class_the_same_way(
    rig: tuple[TestClient, WholeHub], capfd: pytest.CaptureFixture[str]
) -> None:
    api, whole = rig
    auth = {"X-API-Key": whole.key, "Content-Type": "application/json"}
    ops = _operations(api.get("/openapi.json").json())
    assert len(ops) >= 12
    answers: dict[str, set[str]] = {}
    for method, path, op in ops:
        partner = op.get("x-lgsp-partner-format")
        for name, (raw, rule) in HOSTILE.items():
            r = api.request(method, _concrete(path), content=raw, headers=auth)
            if partner:  # the gateway's own "malformed request" answer
                body = r.json()
                assert (r.status_code, body.get("result"), body.get("MaLoi")) in (
                    (400, "ERROR", None),
                    (200, None, "99"),
                ) or _lgsp_refusal(r.status_code, body), (path, name, r.text)
                continue
            doc = problem(r, 400, "malformed_json")
            assert doc["errors"][0]["rule"] == rule, (path, name, doc)
            answers.setdefault(name, set()).add(json.dumps(doc, sort_keys=True))
    for name, docs in answers.items():  # one answer per class, whichever endpoint
        assert len(docs) == 1, (name, docs)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "RecursionError" not in err and "UnicodeEncodeError" not in err


def test_every_string_of_every_example_refuses_a_lone_surrogate(rig: tuple[TestClient, WholeHub]) -> None:
    api, whole = rig
    auth = {"X-API-Key": whole.key, "Content-Type": "application/json"}
    for method, path, op in _operations(api.get("/openapi.json").json()):
        example = json.dumps(_example(op))
        spans = [m.span() for m in STRING.finditer(example)]
        assert spans, path
        for start, end in spans:  # each string of the example (keys too) in turn
            raw = example[:start] + '"\\ud800x"' + example[end:]
            r = api.request(method, _concrete(path), content=raw.encode(), headers=auth)
            if op.get("x-lgsp-partner-format"):
                assert "Traceback" not in r.text, (path, start)
                if _lgsp_refusal(r.status_code, r.json()):
                    continue
                assert r.status_code in (200, 400), (path, start)
                assert r.json().get("result") == "ERROR" or r.json().get("MaLoi") == "99", (path, start, r.text)
            else:
                assert problem(r, 400, "malformed_json")["errors"][0]["rule"] == "not_text", (path, start)


def test_every_body_taking_operation_wants_json(rig: tuple[TestClient, WholeHub]) -> None:
    api, whole = rig
    for method, path, op in _operations(api.get("/openapi.json").json()):
        if op.get("x-lgsp-partner-format"):
            continue
        r = api.request(
            method, _concrete(path), content=b"a=1", headers={"X-API-Key": whole.key, "Content-Type": "text/plain"}
        )
        problem(r, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "url",
    [
        "/v1/messages/%00",
        "/v1/messages/AAAA%00AAAA",
        "/v1/dossiers/000.00.00.H56%00/timeline",
        "/v1/payments/%00",
        "/v1/messages?state=dead%00",
        "/v1/citizens/queries?client=%00",
        "/v1/admin/clients/A%00B",
        "/v1/messages?limit=true",
        "/v1/messages?limit=1e3",
        "/v1/citizens/queries?before_id=99999999999999999999999",
        "/v1/citizens/queries?from=20251122090000",  # digits alone are not a timestamp, in a URL either
        "/v1/citizens/queries?to=1732240000",
    ],
)
def test_parameters_that_cannot_be_stored_are_refused(rig: tuple[TestClient, WholeHub], url: str) -> None:
    api, whole = rig
    problem(api.get(url, headers={"X-API-Key": whole.key}), 422, "validation_failed")


def test_unknown_routes_and_methods_answer_problems(rig: tuple[TestClient, WholeHub]) -> None:
    api, whole = rig
    problem(api.get("/v1/nothing-here", headers={"X-API-Key": whole.key}), 404, "not_found")
    problem(api.put("/v1/messages", headers={"X-API-Key": whole.key}), 405, "method_not_allowed")
    problem(api.post("/v1/callbacks/payment/unknown", content=b"{}"), 404, "not_found")


def test_the_readme_documents_the_error_shape() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert "application/problem+json" in readme and "urn:lgsp:problem:" in readme
