"""``lgsp operators create|disable|reset-password``: the console's accounts, from the command
line. Passwords are asked without echo (twice), or read from standard input with
``--password-stdin`` (one line, for scripts). Every command is written to the audit as
``cli:<os user>``."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from hub.console.operators import Operators
    from hub.services import Database

operators_app = typer.Typer(help="Operators: the people who use the console at /console.", no_args_is_help=True)


def _hub() -> Database:
    from hub.bootstrap import open_database
    from hub.logging import configure
    from hub.settings import Settings

    s = Settings()
    configure(s.log_level, s.log_json)
    return open_database(s)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _run(action: str, username: str, work: Callable[[Operators], object], detail: str | None = None) -> None:
    """Run ``work(operators)``; audit it whatever came of it; exit 2 on bad input."""
    from hub.console import audit
    from hub.console.operators import OperatorError, Operators
    from hub.console.settings import ConsoleSettings

    hub = _hub()
    cs = ConsoleSettings()
    ops = Operators(hub.engine, max_failures=cs.max_failures, lockout_minutes=cs.lockout_minutes)
    actor = f"cli:{getpass.getuser()}"
    try:
        work(ops)
    except OperatorError as exc:
        audit.record(hub.engine, audit.Action(actor, action, "refused", target=username, detail=str(exc)))
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(2) from None
    audit.record(hub.engine, audit.Action(actor, action, "ok", target=username, detail=detail))


@operators_app.command("create")
def create(
    username: Annotated[str, typer.Argument(help="Login name: lower-case letters, digits, '.', '_', '-'")],
    role: Annotated[str, typer.Option(help="viewer, operator (may replay) or admin")] = "operator",
    name: Annotated[str, typer.Option(help="Display name")] = "",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
) -> None:
    """Create an operator account (the password is asked without echo)."""
    password = _password(password_stdin)
    _run("operator.create", username, lambda ops: ops.create(username, name or username, role, password), role)
    typer.echo(f"operator {username} created ({role})")


@operators_app.command("disable")
def disable(username: str) -> None:
    """Disable an operator: no more logins, and their open sessions end at once."""
    _run("operator.disable", username, lambda ops: ops.disable(username))
    typer.echo(f"operator {username} disabled")


@operators_app.command("reset-password")
def reset_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
) -> None:
    """Set a new password; unlocks the account and ends its open sessions."""
    password = _password(password_stdin)
    _run("operator.reset_password", username, lambda ops: ops.reset_password(username, password))
    typer.echo(f"password of {username} reset")


def dev_operator(hub: Database, base_url: str) -> str:
    """``lgsp dev``: make sure the 'dev' admin operator exists with the dev password; the line
    ``lgsp dev`` prints about the console."""
    from hub.console.operators import Operators
    from hub.console.settings import DEV_USERNAME, ConsoleSettings

    password = ConsoleSettings().dev_password.get_secret_value()
    Operators(hub.engine).ensure(DEV_USERNAME, "Developer", "admin", password)
    return f"  Operator console:       {base_url}/console  (operator {DEV_USERNAME} / {password})"
