"""The composition root: settings -> database (migrated) -> ledger -> transport -> connectors ->
domain services; the api, the pipeline and the publisher are built over what it returns.

This module and the CLI are the only hub code that imports ``connectors``: each partner is one line
below, in :func:`_delivery` (a connector the workers deliver through) or :func:`bootstrap` (a port a
domain service calls). Adding a partner is one package, one registry line (``connectors/__init__.py``)
and one line here. Nothing opens a connection here: the transport and the partner clients connect
on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import ModuleType
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import Engine, text

import connectors
from hub.agencies.directory import DbAgencies
from hub.agencies.port import AgencyDirectory, StaticAgencies
from hub.citizens.audit import IdHasher
from hub.citizens.service import CitizenService
from hub.db.engine import make_engine, upgrade
from hub.dossiers.service import Dossiers
from hub.evidence import facts as evidence
from hub.evidence.keyring import Keyring
from hub.ledger import Ledger, make_ledger
from hub.messages import (
    DOSSIER_FEE_PAID,
    DOSSIER_POSTAL_STEP,
    DOSSIER_STATUS_CHANGED,
    PAYMENT_STATUS_CHANGED,
    POSTAL_ORDER_REQUESTED,
    POSTAL_STATUS_CHANGED,
)
from hub.payments.port import PaymentGateway
from hub.payments.service import Payments, Routes
from hub.ports import Connector, Transport
from hub.postal.service import Postal, PostalRoutes
from hub.postal.units import UnitMap
from hub.resilience import CallBreaker
from hub.routing import DeliveryConnector, Routing
from hub.services import Database, Hub
from hub.settings import Settings
from hub.ssrf import Resolver, system_resolver
from hub.subscriptions.service import Subscriptions

if TYPE_CHECKING:
    from connectors.national_portal import NationalPortalSettings
    from connectors.payment_napas import NapasSettings, PayGovSettings
    from connectors.population_db import PopulationDbSettings
    from connectors.vnpost import VnpostSettings
    from connectors.webhooks import WebhookSettings

__all__ = ["Database", "Hub", "PartnerSettings", "bootstrap", "make_transport", "migrate", "open_database"]


@dataclass(frozen=True)
class PartnerSettings:
    """Each connector's settings; ``None`` lets the connector read its own ``HUB_*`` variables.
    ``lgsp dev`` hands the mock partners' addresses here."""

    national_portal: NationalPortalSettings | None = None
    napas: NapasSettings | None = None
    paygov: PayGovSettings | None = None
    population_db: PopulationDbSettings | None = None
    vnpost: VnpostSettings | None = None
    webhooks: WebhookSettings | None = None


def partner(name: str) -> ModuleType:
    """A registered connector package (``connectors.REGISTRY``)."""
    return connectors.load(name)


def _delivery(
    partners: PartnerSettings, subscriptions: Subscriptions, resolve: Resolver, agencies: AgencyDirectory
) -> Routing:
    """The connectors the workers deliver through, one line each; each declares its own message types."""

    def wired(name: str, build: Callable[[ModuleType], Connector]) -> DeliveryConnector:
        module = partner(name)
        return DeliveryConnector(name, tuple(module.MESSAGE_TYPES), lambda: build(module))

    return Routing(
        [
            wired("national_portal", lambda m: m.build_connector(partners.national_portal, agencies)),
            wired("webhooks", lambda m: m.build_connector(subscriptions.directory, partners.webhooks, resolve)),
            wired(  # one client per customer code: the default one and each agency's own variant
                "vnpost",
                lambda m: m.build_connector(
                    partners.vnpost, gateways=m.build_gateways(partners.vnpost, agencies.all())
                ),
            ),
        ]
    )


def bootstrap(
    settings: Settings | None = None,
    *,
    transport: Transport | None = None,
    run_migrations: bool = True,
    partners: PartnerSettings | None = None,
    gateways: Mapping[str, PaymentGateway] | None = None,
    resolve: Resolver = system_resolver,
    agencies: AgencyDirectory | None = None,
) -> Hub:
    """The whole hub. Tests hand in fakes: a ``transport``, payment ``gateways`` (profile ->
    gateway), ``resolve`` for the webhook receivers' names, partners' settings, and the
    ``agencies`` (default: ``HUB_AGENCIES_FILE``, else the database's directory)."""
    db = open_database(settings, run_migrations=run_migrations)
    s, engine, ledger = db.settings, db.engine, db.ledger
    partners = partners or PartnerSettings()
    webhook_settings = partners.webhooks or partner("webhooks").WebhookSettings()
    subscriptions = Subscriptions(
        engine, webhook_settings.address_policy(), resolve, limit=s.subscriptions_per_client
    )  # the receivers' address rules are the webhook connector's (HUB_WEBHOOK_*)
    partners = replace(partners, webhooks=webhook_settings)
    if agencies is None:
        agencies = agency_directory(s, engine)  # per-agency configuration (hub.agencies): the services ask it
    routing = _delivery(partners, subscriptions, resolve, agencies)
    payment = partner("payment_napas")
    gateways = gateways or {
        p: payment.build_gateway(p, getattr(partners, p)) for p in payment.PROFILES
    }  # one gateway per profile (NAPAS, PayGov)
    payments = Payments(
        engine,
        ledger,
        gateways,
        Routes(events=routing.connector_for(PAYMENT_STATUS_CHANGED), fee_paid=routing.connector_for(DOSSIER_FEE_PAID)),
        breaker_failures=s.payment_breaker_failures,
        breaker_reset=s.payment_breaker_reset,
        default_profile=s.payment_profile,
        agencies=agencies,
    )
    citizens = citizen_service(s, engine, partners.population_db or partner("population_db").PopulationDbSettings())
    return Hub(
        settings=s,
        engine=engine,
        ledger=ledger,
        transport=transport or make_transport(s),
        routing=routing,
        dossiers=Dossiers(
            ledger,
            routing.connector_for(DOSSIER_STATUS_CHANGED),
            s.max_batch_items,
            s.outbox_defer,
            s.dossier_defaults,
            portal_unit_required=not portal_settings(partners).unit_fallback,
        ),
        payments=payments,
        citizens=citizens,
        subscriptions=subscriptions,
        agencies=agencies,
        postal=postal_service(s, engine, ledger, routing, partners, agencies),
    )


def portal_settings(partners: PartnerSettings) -> NationalPortalSettings:
    """The national portal connector's settings (given, or its own ``HUB_PORTAL_*``)."""
    settings: NationalPortalSettings = partners.national_portal or partner("national_portal").NationalPortalSettings()
    return settings


def partner_profiles(partners: PartnerSettings | None = None) -> dict[str, frozenset[str]]:
    """The connector profiles this environment defines, by agency section (``portal.profile``,
    ``payment.profile``): what an agency may name (``lgsp agencies`` warns about the others)."""
    portal = portal_settings(partners or PartnerSettings())
    payment: tuple[str, ...] = tuple(partner("payment_napas").PROFILES)
    return {"portal": frozenset({"default", *portal.profiles}), "payment": frozenset(payment)}


def postal_service(
    s: Settings, engine: Engine, ledger: Ledger, routing: Routing, partners: PartnerSettings, agencies: AgencyDirectory
) -> Postal:
    """The postal service: its orders go through the vnpost connector; the feeds it polls are the
    connector package's clients, one per customer code (the default one and each agency's)."""
    vnpost = partner("vnpost")
    return Postal(
        engine,
        ledger,
        agencies,
        PostalRoutes(
            orders=routing.connector_for(POSTAL_ORDER_REQUESTED),
            events=routing.connector_for(POSTAL_STATUS_CHANGED),
            portal=routing.connector_for(DOSSIER_POSTAL_STEP),
        ),
        lambda: vnpost.build_gateways(partners.vnpost, agencies.all()),  # on first use: no I/O here
        lambda: UnitMap.load(s.postal_units_file, placeholders=s.postal_unit_placeholders),
        page_size=s.postal_page_size,
        push_parser=lambda body: vnpost.parse_push(partners.vnpost, body),
        push_customers=s.postal_push_customers,
    )


def agency_directory(settings: Settings, engine: Engine) -> AgencyDirectory:
    """The per-agency configuration: the database's (``lgsp agencies``), or a fixed JSON file
    (``HUB_AGENCIES_FILE``, read once here)."""
    if settings.agencies_file:
        return StaticAgencies.from_file(settings.agencies_file)
    return DbAgencies(engine)


def open_database(settings: Settings | None = None, *, run_migrations: bool = True) -> Database:
    """Settings, the database (migrated) and the ledger: what the CLI's database commands need."""
    s = settings or Settings()
    engine = make_engine(s.database_url)
    evidence.attach(engine, evidence.EvidenceLog.from_settings(s))  # the facts every seam stages
    if run_migrations:
        migrate(engine)
    ledger = make_ledger(engine, lease_seconds=s.lease_seconds, grace_seconds=s.lease_grace)
    return Database(settings=s, engine=engine, ledger=ledger)


def citizen_service(settings: Settings, engine: Engine, popdb: PopulationDbSettings) -> CitizenService:
    """The citizens service over the population database connector; the connector's settings
    (``HUB_POPDB_*``) also give the breaker's limits and the default MaDVC."""
    keyring = Keyring.from_settings(settings)
    if keyring.uses_development_key and not settings.is_sqlite:
        structlog.get_logger("hub.citizens").warning(
            "citizens.audit_hash_key_is_the_development_default", hint="set HUB_AUDIT_HASH_KEY in production"
        )
    return CitizenService(
        engine,
        partner("population_db").build_client(popdb),
        IdHasher(keyring),
        breaker=CallBreaker("population_db", popdb.breaker_failures, popdb.breaker_reset),
        service_code=popdb.service_code,
        concurrency=settings.citizens_concurrency,
        retry_after=settings.citizens_retry_after,
    )


def make_transport(settings: Settings) -> Transport:
    if settings.broker_url is None:
        from hub.transports.inprocess import InProcessTransport

        return InProcessTransport()
    from hub.transports.rabbitmq import RabbitMQTransport

    return RabbitMQTransport(settings.broker_url, prefix=settings.broker_prefix, queue_type=settings.broker_queue_type)


def migrate(engine: Engine) -> None:
    """Upgrade the schema; on PostgreSQL under an advisory lock, so every process may call it."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as c:
            c.execute(text("SELECT pg_advisory_lock(712034)"))
            try:
                upgrade(engine)
            finally:
                c.execute(text("SELECT pg_advisory_unlock(712034)"))
                c.commit()
    else:
        upgrade(engine)
