"""Fixtures of the console's tests: a hub on SQLite and PostgreSQL with a seeded ledger, the
console mounted on it, operators with cheap Argon2 parameters, and a logged-in client."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from hub.bootstrap import Hub, bootstrap
from hub.console.operators import Operators
from hub.console.settings import ConsoleSettings
from hub.console.web import create_console
from hub.settings import Settings
from tests.console.seed import Seeded, seed

FAST_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # tests only: cheap to compute
PASSWORD = "correct horse battery staple"
CONNECTORS = ["national_portal", "webhooks"]


@pytest.fixture
def hub(db_url: str) -> Iterator[Hub]:
    h = bootstrap(Settings(database_url=db_url))
    yield h
    h.close()


@pytest.fixture
def seeded(hub: Hub) -> Seeded:
    return seed(hub.ledger)


@pytest.fixture
def operators(hub: Hub) -> Operators:
    ops = Operators(hub.engine, FAST_HASH, max_failures=3, lockout_minutes=10)
    for name, role in (("ana", "operator"), ("vy", "viewer"), ("root", "admin")):
        ops.create(name, name.title(), role, PASSWORD)
    return ops


@pytest.fixture
def console_app(hub: Hub, operators: Operators) -> FastAPI:
    app = FastAPI()
    settings = ConsoleSettings(secret_key=SecretStr("test-secret"), max_failures=3, lockout_minutes=10)
    app.mount("/console", create_console(hub, CONNECTORS, settings, operators))
    return app


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> TestClient:
    page = client.get("/console/login")
    r = client.post(
        "/console/login",
        data={"csrf": csrf_of(page.text), "username": username, "password": password, "next": "/overview"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client


@pytest.fixture
def client(console_app: FastAPI) -> TestClient:
    return TestClient(console_app, base_url="http://127.0.0.1")


@pytest.fixture
def as_operator(client: TestClient) -> TestClient:
    return login(client, "ana")
