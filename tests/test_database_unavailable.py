"""While the database is unavailable the api answers 503 problem details with Retry-After, and
logs one warning line per request, no traceback; callbacks get the gateway's "send it again";
when the database is back, so is the api. PostgreSQL is cut off through a TCP proxy."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import structlog
from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.bootstrap import bootstrap, migrate
from hub.db.engine import make_engine
from hub.logging import configure
from hub.settings import Settings
from tests.factories import create_client
from tests.support.problems import problem
from tests.support.stack import free_port
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))


@pytest.fixture
def proxy(pg_url: str) -> Iterator[tuple[TcpProxy, str]]:
    migrate(make_engine(pg_url))
    target = urlsplit(pg_url)
    p = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    port = p.start()
    yield p, _through(pg_url, port)
    p.stop()


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure("INFO", json=True, stream=stream)
    yield stream
    structlog.reset_defaults()


def _warnings(text: str) -> int:
    return len(re.findall(r"api\.database_unavailable", text))


def test_the_api_answers_503_while_the_database_is_cut_off_and_recovers(
    proxy: tuple[TcpProxy, str], capfd: pytest.CaptureFixture[str], log: io.StringIO
) -> None:
    tcp, url = proxy
    hub = bootstrap(Settings(database_url=url, api_publishes=False, database_retry_after=7), run_migrations=False)
    key = create_client(hub.engine, "ONEGATE-DB", "one-stop", ["dossier.status.changed"])
    h = {"X-API-Key": key}
    with TestClient(create_app(hub, pipeline=False)) as api:
        assert api.get("/v1/messages", headers=h).status_code == 200  # the key is now cached
        capfd.readouterr()
        log.truncate(0)
        tcp.refusing = True
        tcp.drop_all()  # the pooled connections die, new ones are refused
        for _ in range(3):
            r = api.get("/v1/messages", headers=h)
            doc = problem(r, 503, "database_unavailable")
            assert r.headers["Retry-After"] == "7" and doc["retry_after"] == 7
        problem(api.get("/readyz"), 503, "database_unavailable")
        r = api.post("/v1/callbacks/payment/napas", json=_napas_for_unknown())
        assert (r.status_code, r.json()["error"]["cause"]) == (503, "SERVER_BUSY")
        out = capfd.readouterr()
        logged = out.out + out.err + log.getvalue()
        assert _warnings(log.getvalue()) == 4, logged  # one line per request (the callback logs its own)
        assert "payment.callback_unrecorded" in logged
        assert "Traceback" not in logged and "OperationalError(" not in logged
        tcp.refusing = False
        assert api.get("/v1/messages", headers=h).status_code == 200
        assert api.get("/readyz").json() == {"status": "ready"}
    hub.close()


def test_a_database_that_never_answered_gives_503_from_the_first_request(
    capfd: pytest.CaptureFixture[str], log: io.StringIO
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"  # nothing listens there
    hub = bootstrap(Settings(database_url=url, api_publishes=False), run_migrations=False)
    with TestClient(create_app(hub, pipeline=False)) as api:
        r = api.get("/v1/messages", headers={"X-API-Key": "lgsp_whatever"})  # the key lookup itself fails
        problem(r, 503, "database_unavailable")
        assert r.headers["Retry-After"] == "5"
    out = capfd.readouterr()
    assert _warnings(log.getvalue()) == 1 and "Traceback" not in out.out + out.err + log.getvalue()
    hub.close()


def _napas_for_unknown() -> dict[str, str]:
    from datetime import UTC, datetime

    from connectors.payment_napas import NapasSettings
    from connectors.payment_napas.napas import NapasProfile
    from connectors.payment_napas.translate import napas_time

    napas = NapasProfile(NapasSettings())
    return napas.encode_notification(
        {
            "merchantId": napas.merchant,
            "order": {"id": "01KAQ3Z5X7E8R9T0Y1V2W3X4Y5", "amount": 1000, "currency": "VND"},
            "response": {"gatewayCode": "APPROVED"},
            "result": "SUCCESS",
            "transaction": {"id": "1", "receipt": "T1"},
            "timeOfRecord": napas_time(datetime.now(tz=UTC)),
        }
    )
