"""/docs and /redoc work offline: their pages reference only the hub's own URLs, and the hub
serves every asset they reference."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.bootstrap import bootstrap
from hub.settings import Settings

URL = re.compile(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""")


@pytest.fixture
def api(tmp_path: Path) -> TestClient:
    hub = bootstrap(Settings(database_url=f"sqlite:///{tmp_path}/hub.db"))
    return TestClient(create_app(hub, pipeline=False), base_url="http://127.0.0.1")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_reference_only_local_urls_that_are_served(api: TestClient, page: str) -> None:
    html = api.get(page).text
    refs = URL.findall(html)
    assert refs, "the page references no asset"
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html  # no CDN, no font
    for ref in refs:
        assert ref.startswith("/"), ref
        r = api.get(ref)
        assert r.status_code == 200 and len(r.content) > 100, ref
        assert b"cdn.redoc.ly" not in r.content and b"fonts.googleapis" not in r.content, ref
    assert "validatorUrl" not in html or '"validatorUrl": null' in html


def test_the_openapi_document_is_still_served(api: TestClient) -> None:
    assert api.get("/openapi.json").json()["info"]["title"] == "LGSP Hub"
    assert not any(p.startswith("/console") for p in api.get("/openapi.json").json()["paths"])
