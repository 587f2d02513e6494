"""The contract vendors read is the contract the tests enforce: schemathesis (pinned) generates
requests from the hub's OpenAPI document for every operation, authenticated as a client holding
every grant, in process (ASGI, no network; the mock population database on a loopback port, a
fake payment gateway, a fake name resolver), and checks each answer: never a server error, a
declared status, a declared content type, a body matching the declared schema."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from hub.api.app import create_app
from hub.bootstrap import bootstrap
from hub.settings import Settings
from tests.support.whole_hub import WholeHub, whole_hub

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
# per operation and phase: the whole run stays within a minute or two (more for a deeper run by hand)
MAX_EXAMPLES = int(os.environ.get("HUB_SCHEMATHESIS_EXAMPLES", "30"))


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WholeHub]:
    db: Path = tmp_path_factory.mktemp("schemathesis") / "hub.db"
    with whole_hub(f"sqlite:///{db}", subscriptions_per_client=1000) as w:
        yield w


@pytest.fixture(scope="module")
def app(whole: WholeHub) -> Any:
    return create_app(whole.hub, pipeline=False)


def _document() -> dict[str, Any]:
    """The OpenAPI document, built without opening anything (the engine connects on first use)."""
    return create_app(bootstrap(Settings(database_url="sqlite://"), run_migrations=False)).openapi()


schema = schemathesis.openapi.from_dict(_document())


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not os.environ.get("HUB_SCHEMATHESIS_RANDOM"),  # the same cases on every run in CI
)
def test_every_operation_keeps_the_contract(case: Any, whole: WholeHub, app: Any) -> None:
    case.call_and_validate(app=app, headers={"X-API-Key": whole.key}, checks=CHECKS)
