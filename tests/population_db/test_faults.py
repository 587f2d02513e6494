"""Every fault the mock injects -> the right error class; hostile XML is refused and leaks nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi.testclient import TestClient
from lxml import etree
from zeep import exceptions as zx
from zeep.loader import parse_xml

from connectors.population_db import PopulationDbClient, PopulationDbSettings
from connectors.population_db import translate as tr
from connectors.population_db.client import zeep_settings
from connectors.population_db.mock_soap import billion_laughs, with_dtd, xxe
from hub.citizens.port import (
    InvalidRequest,
    NotAuthorised,
    PermanentError,
    PopulationDbError,
    RetryableError,
    UnsafeResponse,
)
from tests.support.stack import free_port

from .conftest import AN_ID, assert_no_personal_data, lookup_req, verify_req

Call = Callable[[PopulationDbClient], Any]
CALLS: dict[str, Call] = {"verify": lambda c: c.verify(verify_req()), "lookup": lambda c: c.lookup(lookup_req())}

FAULTS: list[tuple[str, dict[str, Any], type[PopulationDbError], str]] = [
    ("busy", {"fault_rate": 1, "fault_kind": "busy"}, RetryableError, "busy"),
    ("server fault", {"fault_rate": 1, "fault_kind": "server"}, RetryableError, "soap-fault"),
    ("not authorised", {"fault_rate": 1, "fault_kind": "not_authorised"}, NotAuthorised, "soap-fault"),
    ("invalid", {"fault_rate": 1, "fault_kind": "invalid"}, InvalidRequest, "soap-fault"),
    ("gateway 5xx", {"error_5xx_rate": 1}, RetryableError, "http-error"),
    ("malformed XML", {"malformed_rate": 1}, UnsafeResponse, "malformed"),
    ("billion laughs", {"hostile_rate": 1, "hostile_kind": "billion_laughs"}, UnsafeResponse, "entities"),
    ("XXE", {"hostile_rate": 1, "hostile_kind": "xxe"}, UnsafeResponse, "entities"),
    ("DTD", {"hostile_rate": 1, "hostile_kind": "dtd"}, UnsafeResponse, "dtd"),
    (
        "oversized",
        {"hostile_rate": 1, "hostile_kind": "oversized", "oversized_bytes": 2_000_000},
        UnsafeResponse,
        "oversized",
    ),
]


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
@pytest.mark.parametrize(("patch", "expected", "reason"), [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_injected_fault_is_classified(
    client: PopulationDbClient,
    set_faults: Callable[..., dict[str, Any]],
    call: Call,
    patch: dict[str, Any],
    expected: type[PopulationDbError],
    reason: str,
) -> None:
    set_faults(**patch)
    with pytest.raises(PopulationDbError) as caught:
        call(client)
    assert type(caught.value) is expected and caught.value.reason == reason
    assert_no_personal_data(caught.value)


def test_the_fault_dice_can_be_partial_and_reproducible(
    client: PopulationDbClient, set_faults: Callable[..., dict[str, Any]], mock_http: TestClient
) -> None:
    set_faults(fault_rate=0.5, fault_kind="busy", seed=7)
    outcomes = []
    for _ in range(20):
        try:
            client.verify(verify_req())
            outcomes.append("ok")
        except RetryableError:
            outcomes.append("busy")
    assert 0 < outcomes.count("busy") < 20
    assert mock_http.get("/_mock/stats").json()["faults_injected"] == {"soap-fault:busy": outcomes.count("busy")}
    set_faults(seed=7)  # same seed, same dice
    again = []
    for _ in range(20):
        try:
            client.verify(verify_req())
            again.append("ok")
        except RetryableError:
            again.append("busy")
    assert again == outcomes


# ---------------------------------------------------------------- hostile XML: nothing leaks
def test_xxe_canary_never_leaks(
    client: PopulationDbClient, set_faults: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    canary = "CANARY-7f3a9c-TOP-SECRET"
    secret = tmp_path / "secret.txt"
    secret.write_text(canary, encoding="utf-8")
    set_faults(hostile_rate=1, hostile_kind="xxe", xxe_target=str(secret))
    for operation, call in CALLS.items():
        with pytest.raises(UnsafeResponse) as caught:
            call(client)
        assert caught.value.__cause__ is None and caught.value.__context__ is None, operation
        assert_no_personal_data(caught.value, canary, str(secret))


def test_the_xxe_payload_is_live_so_the_leak_test_means_something(tmp_path: Path) -> None:
    """Control: a naive parser that resolves entities would read the canary from the mock's payload."""
    secret = tmp_path / "secret.txt"
    secret.write_text("CANARY-7f3a9c", encoding="utf-8")
    naive = etree.XMLParser(resolve_entities=True, no_network=True, load_dtd=True)
    resolved = etree.fromstring(xxe(tr.OP_VERIFY, secret), naive)
    assert "CANARY-7f3a9c" in "".join(resolved.itertext())
    hardened = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    assert "CANARY-7f3a9c" not in "".join(etree.fromstring(xxe(tr.OP_VERIFY, secret), hardened).itertext())


@pytest.mark.parametrize(
    ("payload", "refused_by"),
    [
        # libxml2's amplification guard may stop the expansion first: refused either way
        (lambda p: billion_laughs(tr.OP_VERIFY), (zx.DTDForbidden, zx.XMLSyntaxError)),
        (lambda p: billion_laughs(tr.OP_LOOKUP), (zx.DTDForbidden, zx.XMLSyntaxError)),
        (lambda p: xxe(tr.OP_LOOKUP, p), zx.DTDForbidden),
        (lambda p: with_dtd(tr.OP_LOOKUP), zx.DTDForbidden),
    ],
    ids=["billion-laughs-verify", "billion-laughs-lookup", "xxe", "dtd"],
)
def test_zeep_settings_refuse_hostile_xml_on_their_own(
    payload: Callable[[Path], bytes], refused_by: type[Exception] | tuple[type[Exception], ...], tmp_path: Path
) -> None:
    """Second line of defence: even without the transport's pre-scan, zeep's settings refuse them."""
    secret = tmp_path / "secret.txt"
    secret.write_text("CANARY", encoding="utf-8")
    with pytest.raises(refused_by):
        parse_xml(payload(secret), None, settings=zeep_settings())  # type: ignore[arg-type]  # zeep hints str, reads bytes


def test_entities_are_refused_even_if_dtds_were_allowed() -> None:
    import zeep

    lenient = zeep.Settings(strict=True, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    small = b'<!DOCTYPE x [<!ENTITY e "value">]><x>&e;</x>'
    with pytest.raises(zx.EntitiesForbidden):
        parse_xml(small, None, settings=lenient)  # type: ignore[arg-type]  # as above


def test_oversized_answer_declared_by_content_length_is_refused_unread() -> None:
    big = b"<x>" + b"a" * 300_000 + b"</x>"
    settings = PopulationDbSettings(base_url="https://popdb.test", max_response_bytes=65536)
    with respx.mock() as router:
        router.post("https://popdb.test/dancuquocgia/soap").respond(200, content=big)
        with PopulationDbClient(settings) as client, pytest.raises(UnsafeResponse) as caught:
            client.verify(verify_req())
    assert caught.value.reason == "oversized"


def test_oversized_stream_from_a_live_server_is_cut_early(live_url: str) -> None:
    httpx.post(f"{live_url}/_mock/faults", json={"hostile_rate": 1, "hostile_kind": "oversized",
                                                 "oversized_bytes": 50_000_000}).raise_for_status()  # fmt: skip
    settings = PopulationDbSettings(base_url=live_url, max_response_bytes=65536, timeout=10)
    started = time.monotonic()
    with PopulationDbClient(settings) as client, pytest.raises(UnsafeResponse) as caught:
        client.lookup(lookup_req())
    assert caught.value.reason == "oversized"
    assert time.monotonic() - started < 5  # did not wait for 50 MB


# ---------------------------------------------------------------- time and connections (real sockets)
def test_hang_longer_than_the_timeout_is_retryable(live_url: str) -> None:
    httpx.post(f"{live_url}/_mock/faults", json={"timeout_rate": 1, "hang_seconds": 3}).raise_for_status()
    started = time.monotonic()
    with (
        PopulationDbClient(PopulationDbSettings(base_url=live_url, timeout=0.3)) as client,
        pytest.raises(RetryableError) as caught,
    ):
        client.verify(verify_req())
    elapsed = time.monotonic() - started
    assert caught.value.reason == "timeout"
    assert elapsed < 2.5, f"the client waited {elapsed:.1f}s"
    assert_no_personal_data(caught.value)


def test_latency_below_the_timeout_is_only_slower(live_url: str) -> None:
    httpx.post(f"{live_url}/_mock/faults", json={"latency_ms": 150}).raise_for_status()
    with PopulationDbClient(PopulationDbSettings(base_url=live_url, timeout=5)) as client:
        started = time.monotonic()
        result = client.verify(verify_req())
    assert result.exists is True and time.monotonic() - started >= 0.15


def test_live_lookup_over_a_real_socket(live_url: str) -> None:
    with PopulationDbClient(PopulationDbSettings(base_url=live_url)) as client:
        assert client.lookup(lookup_req()).id_number == AN_ID


def test_nothing_listening_is_retryable() -> None:
    port = free_port()  # bound and released: nothing listens there now
    with (
        PopulationDbClient(PopulationDbSettings(base_url=f"http://127.0.0.1:{port}", timeout=2)) as client,
        pytest.raises(RetryableError) as caught,
    ):
        client.lookup(lookup_req())
    assert caught.value.reason == "connection"
    assert_no_personal_data(caught.value)


def test_http_error_keeps_the_status(client: PopulationDbClient, set_faults: Callable[..., dict[str, Any]]) -> None:
    set_faults(error_5xx_rate=1)
    with pytest.raises(RetryableError) as caught:
        client.verify(verify_req())
    assert caught.value.http_status in (502, 503)


# ---------------------------------------------------------------- answers of the wrong shape (scripted with respx)
ENV = '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>{}</e:Body></e:Envelope>'
VERIFY_ANSWER = (
    '<d:KetQuaXacThucResponse xmlns:d="http://dancuquocgia.bca"><d:TonTai>true</d:TonTai></d:KetQuaXacThucResponse>'
)
SHAPES: list[tuple[str, int, str, type[PopulationDbError], str]] = [
    ("empty 200", 200, "", UnsafeResponse, "malformed"),
    ("empty 202", 202, "", UnsafeResponse, "unexpected-content"),
    ("empty Body", 200, ENV.format(""), UnsafeResponse, "unexpected-content"),
    ("foreign element", 200, ENV.format('<x:Other xmlns:x="urn:x"/>'), UnsafeResponse, "unexpected-content"),
    ("two elements", 200, ENV.format(VERIFY_ANSWER * 2), UnsafeResponse, "unexpected-content"),
    ("not an envelope", 200, "<html><body>ok</body></html>", UnsafeResponse, "unexpected-content"),
    ("500 error page", 500, "<html><body>Internal Server Error<br></body></html>", RetryableError, "http-error"),
    ("500 XML without a Fault", 500, ENV.format("<error/>"), RetryableError, "http-error"),
    ("503 with XML", 503, ENV.format(VERIFY_ANSWER), RetryableError, "http-error"),
    ("401", 401, "", NotAuthorised, "http-error"),
    ("404", 404, "<html>Not Found</html>", PermanentError, "http-error"),
]


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
@pytest.mark.parametrize(("status", "body", "expected", "reason"), [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES])
def test_answers_of_the_wrong_shape_are_never_read_as_an_answer(
    call: Call, status: int, body: str, expected: type[PopulationDbError], reason: str
) -> None:
    with respx.mock() as router:
        router.post("https://popdb.test/dancuquocgia/soap").respond(status, text=body)
        with (
            PopulationDbClient(PopulationDbSettings(base_url="https://popdb.test")) as client,
            pytest.raises(PopulationDbError) as caught,
        ):
            call(client)
    assert type(caught.value) is expected and caught.value.reason == reason


def test_a_verify_answer_to_a_lookup_is_not_not_found() -> None:
    with respx.mock() as router:
        router.post("https://popdb.test/dancuquocgia/soap").respond(200, text=ENV.format(VERIFY_ANSWER))
        with PopulationDbClient(PopulationDbSettings(base_url="https://popdb.test")) as client:
            with pytest.raises(UnsafeResponse):
                client.lookup(lookup_req())
            assert client.verify(verify_req()).exists is True
