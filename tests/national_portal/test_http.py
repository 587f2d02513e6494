"""The JSON-over-HTTP port the portal connector calls through (hub.http): the urllib3 adapter
over real sockets against the live mock, and the httpx adapter in process; both answer the
same way and turn "no answer" into HttpFailure naming what happened."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from connectors.national_portal import NationalPortalSettings
from connectors.national_portal.mock import create_app
from hub.http import FormHttp, HttpFailure, HttpxHttp, JsonHttp, PooledHttp
from tests.support.live import serve

CREDENTIALS = {"username": "lgsp", "password": "lgsp-dev-password"}


@pytest.fixture(params=["urllib3", "httpx"])
def http_and_base(request: pytest.FixtureRequest) -> Iterator[tuple[JsonHttp, str]]:
    if request.param == "urllib3":
        live_url = request.getfixturevalue("live_url")
        http: JsonHttp = PooledHttp(timeout=2.0)
        yield http, live_url
        http.close()
    else:
        with TestClient(create_app(), base_url="http://testserver") as client:
            yield HttpxHttp(client), "http://testserver"


def test_posts_json_and_parses_the_answer(http_and_base: tuple[JsonHttp, str]) -> None:
    http, base = http_and_base
    status, answer = http.post_json(base + "/auth", CREDENTIALS, {"dstcode": "DVCQG"})
    assert status == 200 and answer["error_code"] == 0 and answer["session"]
    status, answer = http.post_json(base + "/auth", {"username": "nobody", "password": "x"}, {"dstcode": "DVCQG"})
    assert answer["error_code"] != 0  # an answer, however unwelcome, is not a failure


def test_an_answer_that_is_not_json_parses_as_none(http_and_base: tuple[JsonHttp, str]) -> None:
    http, base = http_and_base
    status, answer = http.post_json(base + "/no-such-endpoint", {}, {})
    assert status == 404 and (answer is None or isinstance(answer, dict))


def test_connection_refused_is_a_failure_without_the_request() -> None:
    http = PooledHttp(timeout=1.0)
    with pytest.raises(HttpFailure) as failure:
        http.post_json("http://127.0.0.1:9/auth", {"password": "s3cret-value"}, {})
    assert "s3cret" not in str(failure.value) and str(failure.value)


def test_a_timeout_is_a_failure_named_as_such(live_url: str) -> None:
    httpx.post(f"{live_url}/_mock/faults", json={"timeout_rate": 1.0, "hang_seconds": 1.0}).raise_for_status()
    http = PooledHttp(timeout=0.2)
    try:
        with pytest.raises(HttpFailure, match="Timeout"):
            http.post_json(live_url + "/auth", CREDENTIALS, {"dstcode": "DVCQG"})
    finally:
        http.close()
        httpx.post(f"{live_url}/_mock/faults", json={"timeout_rate": 0.0}).raise_for_status()


def test_keep_alive_connections_are_reused(live_url: str) -> None:
    http = PooledHttp(timeout=2.0)
    try:
        for _ in range(20):
            assert http.post_json(live_url + "/auth", CREDENTIALS, {"dstcode": "DVCQG"})[0] == 200
        pool = http.pool.connection_from_url(live_url)
        assert pool.num_connections == 1  # one socket for twenty calls
    finally:
        http.close()


@pytest.mark.parametrize("adapter", ["urllib3", "httpx"])
def test_posts_a_form_for_an_oauth2_token(adapter: str) -> None:
    """``post_form`` (an OAuth2 client-credentials request) on both adapters, against the mock's token URL."""
    settings = NationalPortalSettings(
        variant="lgsp_hagiang", auth_scheme="oauth2", client_id="motcua", client_secret=SecretStr("s3cret")
    )
    form = {"grant_type": "client_credentials", "client_id": "motcua", "client_secret": "s3cret"}

    def check(http: FormHttp, base: str) -> None:
        status, answer = http.post_form(base + "/token", form, {"Accept": "application/json"})
        assert status == 200 and answer["access_token"] and answer["token_type"] == "bearer"
        status, answer = http.post_form(base + "/token", form | {"client_secret": "wrong"}, {})
        assert status == 401 and answer == {"error": "invalid_client"}

    if adapter == "urllib3":
        with serve(lambda _url: create_app(settings=settings), "mock portal (oauth2)") as url:
            pooled = PooledHttp(timeout=2.0)
            try:
                check(pooled, url)
            finally:
                pooled.close()
    else:
        with TestClient(create_app(settings=settings), base_url="http://testserver") as client:
            check(HttpxHttp(client), "http://testserver")
