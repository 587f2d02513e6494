"""The `lgsp` command: one CLI, a subcommand per role."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hub.cli_agencies import agencies_app
from hub.cli_clients import clients_app
from hub.cli_ops import partners_app
from hub.cli_postal import postal_app
from hub.console.cli import dev_operator, operators_app
from hub.evidence.cli import app as evidence_app
from hub.reports_cli import reports as reports_command
from hub.settings import Settings

DEMO_AGENCIES = Path(__file__).resolve().parent / "agencies" / "demo.json"  # `lgsp dev`'s directory

if TYPE_CHECKING:
    from hub.bootstrap import PartnerSettings

app = typer.Typer(help="LGSP Hub: integration hub for provincial one-stop systems.", no_args_is_help=True)
messages_app = typer.Typer(help="Inspect and replay messages.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
mock_app = typer.Typer(help="Mock partners (protocol-faithful, with fault injection).", no_args_is_help=True)
schemas_app = typer.Typer(help="JSON Schema of the canonical messages (schemas/).", no_args_is_help=True)
for sub, name in (
    (clients_app, "clients"),  # hub/cli_clients.py
    (agencies_app, "agencies"),  # hub/cli_agencies.py
    (partners_app, "partners"),  # hub/cli_ops.py
    (messages_app, "messages"),
    (db_app, "db"),
    (mock_app, "mock"),
    (schemas_app, "schemas"),
):
    app.add_typer(sub, name=name)
citizens_app = typer.Typer(help="Citizen verification: the audit of population database queries.", no_args_is_help=True)
app.add_typer(citizens_app, name="citizens")
app.add_typer(operators_app, name="operators")  # hub/console/cli.py
app.add_typer(evidence_app, name="evidence")
app.add_typer(postal_app, name="postal")  # hub/cli_postal.py
app.command("reports")(reports_command)


def _settings() -> Settings:
    from hub.logging import configure

    s = Settings()
    configure(s.log_level, s.log_json)
    return s


def _serve_metrics(s: Settings) -> None:
    """Relay and workers have no HTTP server of their own: serve /metrics when asked."""
    if s.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(s.metrics_port)


def _freeze_startup_objects(app: Any = None) -> None:
    """Keep what start-up built (modules, the app, pools, schemas: ~140,000 objects in the api)
    out of the garbage collector's full passes. Each full pass over them stopped the process
    for ~60 ms, at random, under load: the tail of the latency. Call it once, when ready."""
    import gc

    if app is not None:
        app.openapi()  # built lazily otherwise, by the first /docs request
    gc.collect()
    gc.freeze()


def _run_until_signal(target: Callable[[threading.Event], object]) -> None:
    """Run ``target(stop)``; SIGINT/SIGTERM set ``stop``."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    target(stop)


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Bind address (default HUB_API_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default HUB_API_PORT)")] = None,
) -> None:
    """Serve the HTTP API (with the relay and a worker inside when the transport is in-process)."""
    from hub.api import server
    from hub.api.app import create_app
    from hub.bootstrap import bootstrap

    s = _settings()
    hub = bootstrap(s)
    application = create_app(hub)
    _freeze_startup_objects(application)
    server.run(application, s, host or s.api_host, port or s.api_port)


@app.command()
def relay() -> None:
    """Drain the outbox into RabbitMQ; queue retries when due."""
    _run_pipeline("relay", relay=True, workers=0)


@app.command()
def worker(
    connector: Annotated[
        list[str] | None,
        typer.Option(help="Connector whose queue to consume (repeatable; default: every delivery connector)"),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(help="Batches in flight per connector in this process (default HUB_WORKER_CONCURRENCY)"),
    ] = None,
) -> None:
    """Consume connector queues and deliver to the partners."""
    _run_pipeline("worker", relay=False, workers=concurrency, connector_names=connector or None)


def _run_pipeline(role: str, **roles: Any) -> None:
    """Run supervised relay/worker threads against RabbitMQ until SIGINT/SIGTERM."""
    from hub.bootstrap import bootstrap
    from hub.pipeline import Pipeline

    s = _settings()
    _require_broker(s, role)
    hub = bootstrap(s)
    unknown = sorted(set(roles.get("connector_names") or []) - set(hub.routing.names))
    if unknown:
        typer.echo(f"unknown connector(s) {unknown}; wired in: {sorted(hub.routing.names)}", err=True)
        hub.close()
        raise typer.Exit(2)
    _serve_metrics(s)
    if s.metrics_port:
        from hub import opsdata

        opsdata.watch(hub.engine, roles.get("connector_names") or hub.routing.names, hub.transport)
    pipe = Pipeline(hub, **roles)
    pipe.start()
    _freeze_startup_objects()
    _run_until_signal(lambda stop: stop.wait())
    pipe.stop()
    hub.close()


def _require_broker(s: Settings, role: str) -> None:
    if s.embedded:
        typer.echo(
            f"`lgsp {role}` runs against RabbitMQ: set HUB_BROKER_URL. "
            "With the embedded default, `lgsp api` (or `lgsp dev`) runs the relay and a worker itself.",
            err=True,
        )
        raise typer.Exit(2)


def _dev_agency(directory: Any) -> None:
    """The demo agency (the examples' 000.00.00.H56), added to the database's directory if absent."""
    from hub.agencies.directory import DEV_AGENCY, AgencyExists, DbAgencies

    if isinstance(directory, DbAgencies) and directory.get(DEV_AGENCY.code) is None:
        with contextlib.suppress(AgencyExists):  # another process added it meanwhile
            directory.add(DEV_AGENCY)


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="API port")] = 8000,
    portal_port: Annotated[int, typer.Option(help="Mock national portal port")] = 8101,
    gateway_port: Annotated[int, typer.Option(help="Mock payment gateway port (NAPAS and PayGov)")] = 8102,
    population_db_port: Annotated[int, typer.Option(help="Mock population database port")] = 8103,
    vnpost_port: Annotated[int, typer.Option(help="Mock VNPost port (direct, LGSP and MyVNPost variants)")] = 8104,
    mocks: Annotated[bool, typer.Option(help="Start the mock partners")] = True,
) -> None:
    """Everything for development: the hub (api + relay + worker) and the mock partners. SIGINT or
    SIGTERM stops it and its mock partners (which also die with it if it is killed)."""
    import os

    from hub.agencies.directory import DEV_AGENCY
    from hub.api import server
    from hub.api.app import create_app
    from hub.bootstrap import bootstrap
    from hub.citizens.grants import DEMO_GRANTS
    from hub.clients import ADMIN, ensure_client
    from hub.messages import DOSSIER_STATUS_CHANGED

    base = f"http://127.0.0.1:{port}"
    gateway = f"http://127.0.0.1:{gateway_port}"
    defaults = {
        "HUB_WEBHOOK_ALLOW_LOOPBACK": "true",  # development receivers on this machine
        "HUB_AGENCIES_FILE": str(DEMO_AGENCIES),  # one demo agency, with its VNPost customer code
        "HUB_POSTAL_UNIT_PLACEHOLDERS": "true",  # VNPost's real unit ids are not public: synthetic ones
        "HUB_POSTAL_POLL_INTERVAL": "5",
    }
    if mocks:  # the hub and the mock partners find each other (variables set by the user win)
        defaults["HUB_PORTAL_BASE_URL"] = f"http://127.0.0.1:{portal_port}"
        for profile in ("napas", "paygov"):
            defaults[f"HUB_{profile.upper()}_BASE_URL"] = f"{gateway}/{profile}"
            defaults[f"HUB_{profile.upper()}_CALLBACK_URL"] = f"{base}/v1/callbacks/payment/{profile}"
        defaults["HUB_POPDB_BASE_URL"] = f"http://127.0.0.1:{population_db_port}"
        defaults["HUB_VNPOST_BASE_URL"] = f"http://127.0.0.1:{vnpost_port}"
    env = {**defaults, **os.environ}  # the mock partners' environment: they read the same settings
    for name in ("HUB_AGENCIES_FILE", "HUB_POSTAL_UNIT_PLACEHOLDERS", "HUB_POSTAL_POLL_INTERVAL"):
        os.environ.setdefault(name, env[name])  # the hub's own settings (read by _settings() below)
    s = _settings()
    hub = bootstrap(s, partners=_dev_partners(env, mocks))
    key = s.dev_api_key.get_secret_value()
    grants = [DOSSIER_STATUS_CHANGED, "payment.open", "postal.order", "subscribe", ADMIN, *DEMO_GRANTS]
    ensure_client(hub.engine, "demo", "Demo one-stop system", grants, key, agencies=[DEV_AGENCY.code])
    _dev_agency(hub.agencies)
    console_line = dev_operator(hub, base)
    children: list[subprocess.Popen[bytes]] = []
    # uvicorn stops on SIGTERM and then raises the signal again: with the default handler the
    # process would die there, leaving the mocks running on their ports. This one unwinds instead.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    if mocks:
        for module, mock_port in (
            ("connectors.national_portal.mock", portal_port),
            ("connectors.payment_napas.mock", gateway_port),
            ("connectors.population_db.mock", population_db_port),
            ("connectors.vnpost.mock", vnpost_port),
        ):
            children.append(
                subprocess.Popen(  # noqa: S603 - our own interpreter and module; a separate process
                    [sys.executable, "-m", module, "--port", str(mock_port)], env=env, preexec_fn=_die_with_parent
                )
            )
        # the pipeline polls VNPost and delivers at once: start it when the mocks answer, not before
        for late in _wait_for_ports([portal_port, gateway_port, population_db_port, vnpost_port], timeout=20.0):
            typer.echo(f"warning: no mock partner listens on 127.0.0.1:{late} (port taken, or it failed)", err=True)
    typer.echo(
        "\n".join(
            [
                "",
                "LGSP Hub is starting (embedded: SQLite + in-process transport)"
                if s.embedded
                else "LGSP Hub is starting",
                console_line,
                f"  API docs (OpenAPI):     {base}/docs",
                f"  Publish changes:        POST {base}/v1/dossiers/status-changes  (header X-API-Key: {key})",
                f"  Trace a message:        GET  {base}/v1/messages/{{id}}",
                f"  Dossier timeline:       GET  {base}/v1/dossiers/{{MaHoSo}}/timeline",
                f"  Open a fee payment:     POST {base}/v1/payments  (then pay on the payment_url it returns)",
                f"  Order a VNPost parcel:  POST {base}/v1/postal/orders  (then GET /v1/postal/orders/{{id}})",
                f"  VNPost pushes:          POST {base}/v1/callbacks/vnpost  (signed; polling is the default)",
                f"  Subscribe to events:    POST {base}/v1/subscriptions",
                f"  Verify a citizen:       POST {base}/v1/citizens/verify",
                f"  Look up a citizen:      POST {base}/v1/citizens/lookup",
                f"  Citizen query audit:    GET  {base}/v1/citizens/queries",
                f"  Manage clients:         GET  {base}/v1/admin/clients  (or: lgsp clients list)",
                f"  Metrics:                {base}/metrics",
                f"  Database:               {s.database_url}",
            ]
            + (
                [
                    f"  Mock portal received:   http://127.0.0.1:{portal_port}/_mock/dossiers",
                    f"  Mock portal faults:     POST http://127.0.0.1:{portal_port}/_mock/faults  "
                    '(e.g. {"outage_seconds": 30})',
                    f"  Mock gateway orders:    {gateway}/_mock  (payment pages, callbacks sent, faults)",
                    f"  Mock population DB:     http://127.0.0.1:{population_db_port}/_mock/requests  "
                    "(demo citizens: /_mock/citizens)",
                    f"  Mock population faults: POST http://127.0.0.1:{population_db_port}/_mock/faults  "
                    '(e.g. {"timeout_rate": 1})',
                    f"  Mock VNPost:            http://127.0.0.1:{vnpost_port}/_mock/state  (orders, feed, waybills; "
                    "move its clock: POST /_mock/clock/advance)",
                ]
                if mocks
                else []
            )
            + ["  Example:                see README.md, 'Try it'", ""]
        )
    )
    try:
        application = create_app(hub, pipeline=True)
        _freeze_startup_objects(application)
        server.run(application, s, s.api_host, port)
    finally:
        _stop_children(children)


def _wait_for_ports(ports: list[int], timeout: float) -> list[int]:
    """Wait until something accepts connections on each of ``ports`` on 127.0.0.1; those that
    did not within ``timeout`` seconds."""
    import socket
    import time

    deadline = time.monotonic() + timeout
    waiting = list(ports)
    while waiting and time.monotonic() < deadline:
        for p in list(waiting):
            with socket.socket() as sock:
                sock.settimeout(0.2)
                if sock.connect_ex(("127.0.0.1", p)) == 0:
                    waiting.remove(p)
        if waiting:
            time.sleep(0.1)
    return waiting


def _dev_partners(env: dict[str, str], mocks: bool) -> PartnerSettings:
    """``lgsp dev``'s partner settings: the mock partners' addresses, handed to the composition root
    as settings objects (every other field from the connector's own ``HUB_*`` variables)."""
    from pydantic import TypeAdapter

    from connectors.national_portal import NationalPortalSettings
    from connectors.payment_napas import NapasSettings, PayGovSettings
    from connectors.population_db import PopulationDbSettings
    from connectors.vnpost import VnpostSettings
    from connectors.webhooks import WebhookSettings
    from hub.bootstrap import PartnerSettings

    webhooks = WebhookSettings(allow_loopback=TypeAdapter(bool).validate_python(env["HUB_WEBHOOK_ALLOW_LOOPBACK"]))
    if not mocks:
        return PartnerSettings(webhooks=webhooks)
    return PartnerSettings(
        national_portal=NationalPortalSettings(base_url=env["HUB_PORTAL_BASE_URL"]),
        napas=NapasSettings(base_url=env["HUB_NAPAS_BASE_URL"], callback_url=env["HUB_NAPAS_CALLBACK_URL"]),
        paygov=PayGovSettings(base_url=env["HUB_PAYGOV_BASE_URL"], callback_url=env["HUB_PAYGOV_CALLBACK_URL"]),
        population_db=PopulationDbSettings(base_url=env["HUB_POPDB_BASE_URL"]),
        vnpost=VnpostSettings(base_url=env["HUB_VNPOST_BASE_URL"]),
        webhooks=webhooks,
    )


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    """Linux: the child gets SIGTERM when its parent dies, however it died (even SIGKILL)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    for ch in children:
        ch.terminate()
    for ch in children:
        try:
            ch.wait(10)
        except subprocess.TimeoutExpired:
            ch.kill()
            ch.wait(5)


@mock_app.command(
    "national-portal",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
def mock_national_portal(ctx: typer.Context) -> None:
    """The mock national portal (DVCQG): --host, --port, and fault flags (--latency-ms,
    --failure-rate, --outage-seconds ...; --help lists them); strict (every rule) unless --lenient;
    the variant of HUB_PORTAL_VARIANT. Change faults at run time with POST /_mock/faults; see what it
    received at GET /_mock/dossiers, what it enforces at GET /_mock/card."""
    from connectors.national_portal import mock

    mock.main(list(ctx.args))


@mock_app.command(
    "payment-gateway",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
def mock_payment_gateway(ctx: typer.Context) -> None:
    """The mock payment gateway (NAPAS under /napas, PayGov under /paygov): --host, --port,
    --public-url, and fault flags (--duplicate-callbacks, --callback-delay-seconds,
    --drop-callbacks, --bad-signature, --amount-delta, --timeout-rate ...; --help lists them).
    Payment pages at /pay/{reference}; orders, callbacks sent and faults under /_mock."""
    from connectors.payment_napas import mock

    mock.main(list(ctx.args))


@mock_app.command(
    "population-db",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
def mock_population_db(ctx: typer.Context) -> None:
    """The mock national population database (SOAP 1.1, synthetic citizens): --host, --port (8103), and fault
    flags (--latency-ms, --timeout-rate, --fault-rate, --hostile-rate --hostile-kind ...; --help lists them).
    Change faults at run time with POST /_mock/faults; see what it was asked at GET /_mock/requests."""
    from connectors.population_db import mock

    mock.main(list(ctx.args))


@mock_app.command(
    "vnpost",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
def mock_vnpost(ctx: typer.Context) -> None:
    """The mock VNPost (direct MITC, province LGSP and MyVNPost variants at once): --host, --port (8104),
    --step-seconds (mock time between two statuses), --no-realtime (the clock moves only by
    POST /_mock/clock/advance), and fault flags (--duplicate-rate, --reorder-rate, --lose-page-rate,
    --error-5xx-rate, --outage-seconds ...; --help lists them). State at GET /_mock/state."""
    from connectors.vnpost import mock

    mock.main(list(ctx.args))


@messages_app.command("show")
def messages_show(message_id: str) -> None:
    """Print a message's state and attempts (personal data masked)."""
    from hub import trace
    from hub.bootstrap import open_database

    hub = open_database(_settings())
    msg = trace.get_message(hub.engine, message_id)
    if msg is None:
        typer.echo(f"no message {message_id}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(msg, ensure_ascii=False, indent=2))


@messages_app.command("replay")
def messages_replay(message_id: str) -> None:
    """Queue a dead message again, with a fresh retry budget."""
    from hub.bootstrap import open_database
    from hub.cli_clients import _actor
    from hub.ledger import NotFound, NotReplayable

    hub = open_database(_settings())
    try:
        hub.ledger.replay(message_id, _actor())
    except (NotFound, NotReplayable) as exc:
        typer.echo(f"cannot replay: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{message_id} queued")


@messages_app.command("edit-replay")
def messages_edit_replay(
    message_id: str,
    payload_file: Annotated[Path, typer.Option(help="The corrected payload (JSON), checked against its type's schema")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (3 to 500 characters; written to the audit)")],
) -> None:
    """Replay a dead message with a corrected payload: a new message, linked to the original (kept)."""
    from hub.cli_ops import edit_replay

    edit_replay(message_id, payload_file, reason)


@messages_app.command("bulk-replay")
def messages_bulk_replay(
    connector: Annotated[str | None, typer.Option(help="Partner (connector)")] = None,
    class_id: Annotated[
        str | None, typer.Option(help="Error group id (the console's group URL); needs --connector")
    ] = None,
    type: Annotated[str | None, typer.Option(help="Message type")] = None,
    source: Annotated[str | None, typer.Option(help="Client system code")] = None,
    agency: Annotated[str | None, typer.Option(help="Agency code")] = None,
    since: Annotated[str | None, typer.Option(help="Last failure at or after (ISO 8601 with zone)")] = None,
    until: Annotated[str | None, typer.Option(help="Last failure before (ISO 8601 with zone)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only tell what would be replayed")] = False,
    reason: Annotated[str | None, typer.Option("--reason", "-r", help="Why (required for the run; audited)")] = None,
) -> None:
    """Replay the dead messages of a filter or a group; --dry-run first tells how many, which
    partners, and which would fail validation today (left out of the run)."""
    from hub.cli_ops import bulk_replay

    sel = {"connector": connector, "class_id": class_id, "type": type, "source": source, "agency": agency}
    bulk_replay(sel | {"since": since, "until": until}, reason, dry_run)


@messages_app.command("bulk-unfinished")
def messages_bulk_unfinished() -> None:
    """Bulk replays running or interrupted (a running one whose process stopped is marked so
    first), newest first, one JSON line each: what `bulk-resume` takes."""
    from hub.cli_ops import bulk_unfinished

    bulk_unfinished()


@messages_app.command("bulk-resume")
def messages_bulk_resume(
    bulk_id: Annotated[str, typer.Argument(help="The interrupted bulk replay's id")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (3 to 500 characters; written to the audit)")],
) -> None:
    """Resume an interrupted bulk replay (its process stopped before it finished), here: only the
    messages it had not done are replayed, none twice."""
    from hub.cli_ops import bulk_resume

    bulk_resume(bulk_id, reason)


@citizens_app.command("audit")
def citizens_audit(
    client: Annotated[str | None, typer.Option(help="Client system code")] = None,
    agency: Annotated[str | None, typer.Option(help="The officer's agency (agency code)")] = None,
    officer: Annotated[str | None, typer.Option(help="Officer (MaCanBo)")] = None,
    since: Annotated[str | None, typer.Option("--from", help="From (ISO 8601 with time zone)")] = None,
    until: Annotated[str | None, typer.Option("--to", help="Before (ISO 8601 with time zone)")] = None,
    outcome: Annotated[str | None, typer.Option(help="matched, mismatch, not_found, unavailable, ...")] = None,
    request_id: Annotated[str | None, typer.Option(help="MaYeuCau")] = None,
    id_number: Annotated[
        bool, typer.Option("--id-number", help="Ask for an ID number (not echoed) and show the queries about it")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """Print the audit of population database queries, newest first, as JSON lines."""
    from pydantic import ValidationError

    from hub.bootstrap import open_database
    from hub.citizens import audit
    from hub.citizens.audit import IdHasher
    from hub.citizens.models import AuditSearch
    from hub.evidence.keyring import Keyring

    number = typer.prompt("ID number", hide_input=True) if id_number else None
    try:
        f = AuditSearch.model_validate(
            {"client": client, "agency": agency, "officer": officer, "from": since, "to": until, "outcome": outcome}
            | {"request_id": request_id, "id_number": number, "limit": limit}
        )
    except ValidationError as exc:
        typer.echo("invalid filter: " + "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors()), err=True)
        raise typer.Exit(2) from None
    s = _settings()
    hub = open_database(s)
    filters = audit.Filters(
        client_code=f.client,
        agency_code=f.agency,
        officer_code=f.officer,
        outcome=f.outcome,
        request_id=f.request_id,
        id_hashes=IdHasher(Keyring.from_settings(s)).every(f.id_number) if f.id_number else None,
        since=f.since,
        until=f.until,
        limit=f.limit,
    )
    for row in audit.search(hub.engine, filters):
        typer.echo(json.dumps(row, ensure_ascii=False))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations (safe to run from several processes at once)."""
    from hub.bootstrap import open_database

    open_database(_settings()).close()
    typer.echo("database is at the latest schema")


@schemas_app.command("export")
def schemas_export(
    check: Annotated[bool, typer.Option(help="Fail if schemas/ is not current")] = False,
    out: Annotated[Path, typer.Option()] = Path("schemas"),
) -> None:
    """Write the JSON Schema of every canonical message to schemas/."""
    from hub.schemas import export

    stale = export(out, check=check)
    if check and stale:
        typer.echo("schemas/ is stale; run `lgsp schemas export`: " + ", ".join(stale), err=True)
        raise typer.Exit(1)
    typer.echo("schemas are current" if check else f"wrote {out}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
