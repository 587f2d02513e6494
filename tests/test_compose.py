"""docker-compose.yml cannot be run here (no Docker engine): check that it parses, that it
wires the production shape, and that every service's command is a real `lgsp` entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from hub.cli import app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def hub_services(compose: dict[str, Any]) -> dict[str, Any]:
    return {n: s for n, s in compose["services"].items() if s.get("image") == "lgsp-hub:latest"}


def test_the_production_shape_is_there(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {
        "rabbitmq",
        "postgres",
        "api",
        "relay",
        "mock-portal",
        "mock-gateway",
        "mock-population-db",
        "mock-vnpost",
    } <= set(services)
    workers = [n for n, s in hub_services(compose).items() if s["command"] == ["worker"]]
    assert len(workers) == 2  # every connector
    assert services["worker-vnpost"]["command"] == ["worker", "--connector", "vnpost"]
    env = services["api"]["environment"]
    assert env["HUB_DATABASE_URL"].startswith("postgresql+psycopg://") and "@postgres:" in env["HUB_DATABASE_URL"]
    assert "@rabbitmq:5672" in env["HUB_BROKER_URL"]
    assert env["HUB_PORTAL_BASE_URL"] == "http://mock-portal:8101"
    assert env["HUB_NAPAS_BASE_URL"].startswith("http://mock-gateway:8102/")
    assert env["HUB_NAPAS_CALLBACK_URL"] == "http://api:8000/v1/callbacks/payment/napas"  # the gateway reaches the api
    assert env["HUB_POPDB_BASE_URL"] == "http://mock-population-db:8103"
    assert env["HUB_VNPOST_BASE_URL"] == "http://mock-vnpost:8104"
    assert services["mock-vnpost"]["command"][:2] == ["mock", "vnpost"]


def test_the_agencies_file_is_in_the_image(compose: dict[str, Any]) -> None:
    """The demo agencies file the services name is the one shipped in hub/ (copied to /app/hub)."""
    path = compose["services"]["api"]["environment"]["HUB_AGENCIES_FILE"]
    assert path.startswith("/app/") and (ROOT / path.removeprefix("/app/")).is_file()


def test_relay_and_workers_expose_their_metrics(compose: dict[str, Any]) -> None:
    for name in ("relay", "worker-1", "worker-2"):
        svc = compose["services"][name]
        port = svc["environment"]["HUB_METRICS_PORT"]
        assert any(p.endswith(f":{port}") for p in svc["ports"]), name
        assert svc["environment"]["HUB_DATABASE_URL"] == compose["services"]["api"]["environment"]["HUB_DATABASE_URL"]


def test_dependencies_name_real_services(compose: dict[str, Any]) -> None:
    names = set(compose["services"])
    for name, svc in compose["services"].items():
        for dep in svc.get("depends_on") or {}:
            assert dep in names, f"{name} depends on unknown service {dep}"


@pytest.mark.parametrize(
    "service",
    [
        "migrate",
        "api",
        "relay",
        "worker-1",
        "worker-2",
        "worker-vnpost",
        "mock-portal",
        "mock-gateway",
        "mock-population-db",
        "mock-vnpost",
    ],
)
def test_every_command_is_a_real_cli_entry_point(compose: dict[str, Any], service: str) -> None:
    command = compose["services"][service]["command"]
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, f"{service}: `lgsp {' '.join(command)}` is not a valid command:\n{result.output}"


def test_a_wrong_command_would_be_caught() -> None:
    assert CliRunner().invoke(app, ["wrkr", "--help"]).exit_code != 0
    assert CliRunner().invoke(app, ["worker", "--no-such-option", "x", "--help"]).exit_code != 0


def test_dockerfile_copies_what_exists() -> None:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), f"Dockerfile copies missing {src}"
