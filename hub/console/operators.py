"""Operator accounts: roles, Argon2 password hashes, and lock-out after repeated failures.

Lock-out: ``max_failures`` wrong passwords in a row lock the account for ``lockout_minutes``;
while locked every login is refused, even with the right password (and is not counted); once
the lock has passed the operator has ``max_failures`` tries again. A right password resets the
count; ``reset-password`` unlocks. Decisions are the pure :func:`decide_login`; the password is
checked outside any transaction (Argon2 takes tens of milliseconds and SQLite has one writer).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, insert, select, update

from hub.db.schema import operators
from hub.envelope import utcnow

ROLES = ("viewer", "operator", "admin")  # each may do what the ones before it may
MIN_PASSWORD = 12
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


def role_at_least(role: str, needed: str) -> bool:
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


class OperatorError(ValueError):
    """Bad input to an account command (names the field and the rule, never the password)."""


@dataclass(frozen=True)
class Operator:
    id: int
    username: str
    display_name: str
    role: str
    session_epoch: int

    def may(self, needed: str) -> bool:
        return role_at_least(self.role, needed)


class Verdict(Enum):
    OK = "ok"
    BAD_PASSWORD = "bad_password"  # noqa: S105 - a verdict, not a password
    LOCKED = "locked"
    DISABLED = "disabled"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class LoginState:
    failed_logins: int
    locked_until: datetime | None
    disabled: bool


@dataclass(frozen=True)
class LoginDecision:
    verdict: Verdict
    failed_logins: int = 0
    locked_until: datetime | None = None
    locked_now: bool = False  # this failure locked the account


def decide_login(
    state: LoginState | None, password_ok: bool, now: datetime, max_failures: int, lockout: timedelta
) -> LoginDecision:
    """What one login attempt does to the account (see the module's docstring)."""
    if state is None:
        return LoginDecision(Verdict.UNKNOWN)
    if state.disabled:
        return LoginDecision(Verdict.DISABLED, state.failed_logins, state.locked_until)
    if state.locked_until is not None and state.locked_until > now:
        return LoginDecision(Verdict.LOCKED, state.failed_logins, state.locked_until)
    if password_ok:
        return LoginDecision(Verdict.OK)
    failed = (0 if state.locked_until is not None else state.failed_logins) + 1
    if failed >= max_failures:
        return LoginDecision(Verdict.BAD_PASSWORD, 0, now + lockout, locked_now=True)
    return LoginDecision(Verdict.BAD_PASSWORD, failed, None)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise OperatorError(f"password: must be at least {MIN_PASSWORD} characters")


class Operators:
    def __init__(
        self,
        engine: Engine,
        hasher: PasswordHasher | None = None,
        *,
        max_failures: int = 5,
        lockout_minutes: float = 15.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.hasher = hasher or PasswordHasher()
        self.max_failures = max_failures
        self.lockout = timedelta(minutes=lockout_minutes)
        self.now = clock
        self._dummy = self.hasher.hash("not-a-password-of-anyone")  # unknown names cost the same

    # ------------------------------------------------------------ accounts
    def create(self, username: str, display_name: str, role: str, password: str) -> Operator:
        _check(username, role)
        check_password(password)
        now = self.now()
        with self.engine.begin() as c:
            if c.execute(select(operators.c.id).where(operators.c.username == username)).first():
                raise OperatorError(f"username: an operator named {username!r} exists")
            c.execute(
                insert(operators).values(
                    username=username,
                    display_name=display_name or username,
                    role=role,
                    password_hash=self.hasher.hash(password),
                    failed_logins=0,
                    session_epoch=0,
                    created_at=now,
                    password_changed_at=now,
                )
            )
        found = self.find(username)
        assert found is not None
        return found

    def ensure(self, username: str, display_name: str, role: str, password: str) -> Operator:
        """Create the operator, or give it this role and password again, enabled and unlocked
        (development convenience, like the dev API key)."""
        if self.find(username, include_disabled=True) is None:
            return self.create(username, display_name, role, password)
        _check(username, role)
        self._update(username, role=role, disabled_at=None)
        return self.reset_password(username, password)

    def disable(self, username: str) -> None:
        """Disable an operator: no more logins, and every session of theirs ends."""
        self._update(username, disabled_at=self.now(), bump=True)

    def reset_password(self, username: str, password: str) -> Operator:
        """A new password; unlocks the account and ends every session signed before."""
        check_password(password)
        now = self.now()
        self._update(
            username,
            password_hash=self.hasher.hash(password),
            password_changed_at=now,
            failed_logins=0,
            locked_until=None,
            bump=True,
        )
        found = self.find(username, include_disabled=True)
        assert found is not None
        return found

    def _update(self, username: str, *, bump: bool = False, **values: Any) -> None:
        if bump:
            values["session_epoch"] = operators.c.session_epoch + 1
        with self.engine.begin() as c:
            done = c.execute(update(operators).where(operators.c.username == username).values(**values))
            if done.rowcount == 0:
                raise OperatorError(f"username: no operator named {username!r}")

    def find(self, username: str, include_disabled: bool = False) -> Operator | None:
        q = select(operators).where(operators.c.username == username)
        if not include_disabled:
            q = q.where(operators.c.disabled_at.is_(None))
        with self.engine.connect() as c:
            row = c.execute(q).first()
        return _operator(row) if row else None

    def get(self, operator_id: int) -> Operator | None:
        """An enabled operator by id (every console request checks its session against this)."""
        with self.engine.connect() as c:
            row = c.execute(
                select(operators).where(operators.c.id == operator_id, operators.c.disabled_at.is_(None))
            ).first()
        return _operator(row) if row else None

    # ------------------------------------------------------------ login
    def authenticate(self, username: str, password: str) -> tuple[LoginDecision, Operator | None]:
        with self.engine.connect() as c:
            row = c.execute(select(operators).where(operators.c.username == username)).first()
        password_ok = self._verify(row.password_hash if row else self._dummy, password) and row is not None
        with self.engine.begin() as c:
            q = select(operators).where(operators.c.username == username)
            fresh = c.execute(q.with_for_update() if self.engine.dialect.name == "postgresql" else q).first()
            if fresh is not None and row is not None and fresh.password_hash != row.password_hash:
                password_ok = False  # the password changed meanwhile
            state = (
                None if fresh is None else LoginState(fresh.failed_logins, fresh.locked_until, bool(fresh.disabled_at))
            )
            now = self.now()
            decision = decide_login(state, password_ok, now, self.max_failures, self.lockout)
            if fresh is None or decision.verdict in (Verdict.LOCKED, Verdict.DISABLED):
                return decision, None
            values: dict[str, Any] = {"failed_logins": decision.failed_logins, "locked_until": decision.locked_until}
            if decision.verdict is Verdict.OK:
                values["last_login_at"] = now
                if self.hasher.check_needs_rehash(fresh.password_hash):
                    values["password_hash"] = self.hasher.hash(password)
            c.execute(update(operators).where(operators.c.id == fresh.id).values(**values))
        return decision, _operator(fresh) if decision.verdict is Verdict.OK else None

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def _check(username: str, role: str) -> None:
    if not USERNAME.match(username):
        raise OperatorError("username: 2-64 characters, lower-case letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise OperatorError(f"role: one of {', '.join(ROLES)}")


def _operator(row: Any) -> Operator:
    return Operator(row.id, row.username, row.display_name, row.role, row.session_epoch)
