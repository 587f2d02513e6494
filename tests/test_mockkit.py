"""hub.mockkit: the mocks' shared admin routes and command line."""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import Literal

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import Field

from hub import mockkit


class Faults(mockkit.FaultSettings):
    latency_ms: int = Field(default=0, ge=0)
    failure_rate: float = Field(default=0.0, ge=0, le=1)
    kind: Literal["busy", "down"] = "busy"
    drop: bool = False


class State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.faults = Faults()
        self.changes: list[set[str]] = []
        self.expired = 0

    def set_faults(self, faults: Faults, changed: Collection[str]) -> None:
        self.faults = faults
        self.changes.append(set(changed))

    def reset(self) -> None:
        self.faults = Faults()


def test_admin_routes_update_partially_validate_and_reset() -> None:
    state, app = State(), FastAPI()

    def expire() -> None:
        state.expired += 1

    mockkit.install_admin(app, state, actions={"expire_sessions": expire})
    with TestClient(app) as http:
        assert http.post("/_mock/faults", json={"latency_ms": 5, "seed": 3}).json()["latency_ms"] == 5
        assert http.post("/_mock/faults", json={"failure_rate": 0.5, "expire_sessions": True}).json() == {
            "seed": 3, "latency_ms": 5, "failure_rate": 0.5, "kind": "busy", "drop": False,
        }  # fmt: skip
        assert state.changes == [{"latency_ms", "seed"}, {"failure_rate"}] and state.expired == 1
        refused = http.post("/_mock/faults", json={"failure_rate": 2})
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["failure_rate"]
        assert "input" not in refused.json()["detail"][0]  # never echoed
        assert http.post("/_mock/faults", json={"no_such": 1}).status_code == 422
        assert http.post("/_mock/faults", json=[1]).status_code == 422
        assert http.post("/_mock/faults", content=b"{").status_code == 422
        assert http.get("/_mock/faults").json()["failure_rate"] == 0.5
        assert http.post("/_mock/reset").json() == {"status": "reset"}
        assert http.get("/_mock/faults").json() == Faults().model_dump()


def test_flags_follow_the_fields() -> None:
    parser = mockkit.mock_parser("test", 9999)
    mockkit.add_fault_flags(parser, Faults)
    args = vars(parser.parse_args(["--latency-ms", "7", "--kind", "down", "--drop", "--seed", "1"]))
    assert (args.pop("host"), args.pop("port")) == ("127.0.0.1", 9999)
    faults = mockkit.faults_from(args, Faults)
    assert faults == Faults(latency_ms=7, kind="down", drop=True, seed=1) and args == {}
