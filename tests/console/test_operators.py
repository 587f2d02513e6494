"""Operator accounts: the lock-out rule (pure), and accounts on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from hub.bootstrap import Hub
from hub.console.operators import LoginState, OperatorError, Operators, Verdict, decide_login, role_at_least
from hub.console.sessions import Session, SessionCodec
from hub.db.schema import operators as operators_table
from tests.console.conftest import FAST_HASH, PASSWORD

NOW = datetime(2026, 1, 1, 9, tzinfo=UTC)
LOCK = timedelta(minutes=15)


def test_roles_are_ordered() -> None:
    assert role_at_least("admin", "operator") and role_at_least("operator", "operator")
    assert not role_at_least("viewer", "operator") and not role_at_least("nobody", "viewer")


def test_the_fifth_wrong_password_locks_and_the_lock_refuses_even_the_right_one() -> None:
    state = LoginState(0, None, False)
    for n in range(1, 5):
        d = decide_login(state, False, NOW, 5, LOCK)
        assert (d.verdict, d.failed_logins, d.locked_now) == (Verdict.BAD_PASSWORD, n, False)
        state = LoginState(d.failed_logins, d.locked_until, False)
    d = decide_login(state, False, NOW, 5, LOCK)
    assert d.locked_now and d.locked_until == NOW + LOCK
    locked = LoginState(d.failed_logins, d.locked_until, False)
    assert decide_login(locked, True, NOW + timedelta(minutes=14), 5, LOCK).verdict is Verdict.LOCKED
    after = decide_login(locked, False, NOW + timedelta(minutes=16), 5, LOCK)
    assert (after.verdict, after.failed_logins, after.locked_until) == (Verdict.BAD_PASSWORD, 1, None)  # 5 tries again
    assert decide_login(locked, True, NOW + timedelta(minutes=16), 5, LOCK).verdict is Verdict.OK


def test_a_right_password_resets_the_count_and_disabled_or_unknown_refuse() -> None:
    assert decide_login(LoginState(4, None, False), True, NOW, 5, LOCK).failed_logins == 0
    assert decide_login(LoginState(0, None, True), True, NOW, 5, LOCK).verdict is Verdict.DISABLED
    assert decide_login(None, True, NOW, 5, LOCK).verdict is Verdict.UNKNOWN


def test_accounts_lock_out_and_reset(hub: Hub) -> None:
    ops = Operators(hub.engine, FAST_HASH, max_failures=3)
    ops.create("ana", "Ana", "operator", PASSWORD)
    with hub.engine.connect() as c:
        stored = c.execute(select(operators_table.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert ops.authenticate("ana", PASSWORD)[1] is not None
    for _ in range(2):
        assert ops.authenticate("ana", "wrong")[0].verdict is Verdict.BAD_PASSWORD
    third = ops.authenticate("ana", "wrong")[0]
    assert third.locked_now
    decision, who = ops.authenticate("ana", PASSWORD)
    assert decision.verdict is Verdict.LOCKED and who is None
    before = ops.find("ana")
    assert before is not None
    ops.reset_password("ana", "another long password")
    after = ops.find("ana")
    assert after is not None and after.session_epoch == before.session_epoch + 1
    assert ops.authenticate("ana", "another long password")[1] is not None
    assert ops.authenticate("nobody", PASSWORD)[0].verdict is Verdict.UNKNOWN


def test_disable_ends_logins_and_sessions(hub: Hub) -> None:
    ops = Operators(hub.engine, FAST_HASH)
    ana = ops.create("ana", "Ana", "operator", PASSWORD)
    ops.disable("ana")
    assert ops.get(ana.id) is None
    assert ops.authenticate("ana", PASSWORD)[0].verdict is Verdict.DISABLED
    ops.ensure("ana", "Ana", "admin", PASSWORD)  # the dev convenience enables and unlocks again
    enabled = ops.get(ana.id)
    assert enabled is not None and enabled.role == "admin"


@pytest.mark.parametrize(
    ("username", "role", "password", "field"),
    [
        ("Ana Smith", "operator", PASSWORD, "username"),
        ("ana", "root", PASSWORD, "role"),
        ("ana", "viewer", "short", "password"),
    ],
)
def test_bad_input_names_the_field_never_the_password(
    hub: Hub, username: str, role: str, password: str, field: str
) -> None:
    with pytest.raises(OperatorError) as exc:
        Operators(hub.engine, FAST_HASH).create(username, "x", role, password)
    assert str(exc.value).startswith(field + ":") and password not in str(exc.value)


def test_operator_actions_are_append_only(hub: Hub) -> None:
    from hub.console import audit

    audit.record(hub.engine, audit.Action("ana", "login", "ok"))
    for sql in ("UPDATE operator_actions SET outcome = 'refused'", "DELETE FROM operator_actions"):
        with pytest.raises(Exception, match="append-only"), hub.engine.begin() as c:
            c.execute(text(sql))


def test_sessions_are_signed_and_expire() -> None:
    codec = SessionCodec("secret", idle_seconds=60, max_seconds=3600)
    s = Session.anonymous().logged_in(7, 2)
    cookie = codec.dump(s)
    assert codec.load(cookie) == s
    assert codec.load(cookie[:-2] + "xx") is None  # forged
    assert SessionCodec("other", 60, 3600).load(cookie) is None  # another key
    assert codec.load(cookie, now=s.issued + 3601).operator_id is None  # type: ignore[union-attr]  # too old
    assert SessionCodec("secret", idle_seconds=-1, max_seconds=3600).load(cookie) is None  # idle too long
