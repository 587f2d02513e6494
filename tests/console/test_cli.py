"""``lgsp operators``: create, disable, reset-password, each audited; passwords from stdin."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hub.cli import app
from hub.console.operators import Operators, Verdict
from hub.db.engine import make_engine
from hub.db.schema import operator_actions


def test_operators_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path}/hub.db"
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    # the commands configure logging onto the runner's stream, closed afterwards: not for the next tests
    monkeypatch.setattr("hub.logging.configure", lambda *_a, **_k: None)
    run = CliRunner().invoke
    r = run(app, ["operators", "create", "ana", "--role", "admin", "--password-stdin"], input="too short\n")
    assert r.exit_code == 2 and "password: must be at least 12" in r.output and "too short" not in r.output
    r = run(app, ["operators", "create", "ana", "--role", "admin", "--name", "Ana"], input="long enough pass\n" * 2)
    assert r.exit_code == 0, r.output
    assert "long enough pass" not in r.stdout  # asked without echo
    r = run(app, ["operators", "reset-password", "ana", "--password-stdin"], input="another long one\n")
    assert r.exit_code == 0, r.output
    engine = make_engine(url)
    assert Operators(engine).authenticate("ana", "another long one")[0].verdict is Verdict.OK
    assert run(app, ["operators", "disable", "ana"]).exit_code == 0
    assert Operators(engine).authenticate("ana", "another long one")[0].verdict is Verdict.DISABLED
    assert run(app, ["operators", "disable", "bob"]).exit_code == 2
    with engine.connect() as c:
        rows = c.execute(select(operator_actions.c.action, operator_actions.c.outcome, operator_actions.c.target)).all()
    assert [tuple(r) for r in rows] == [
        ("operator.create", "refused", "ana"),
        ("operator.create", "ok", "ana"),
        ("operator.reset_password", "ok", "ana"),
        ("operator.disable", "ok", "ana"),
        ("operator.disable", "refused", "bob"),
    ]
    assert all(r[0].startswith("operator.") for r in rows)
    engine.dispose()
