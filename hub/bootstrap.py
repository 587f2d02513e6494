"""Composition root: settings -> database -> ledger -> transport -> connectors.

Nothing here opens a connection until asked: the transport is built lazily and connects
on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text

from hub.db.engine import make_engine, upgrade
from hub.ledger import Ledger, make_ledger
from hub.ports import Transport
from hub.settings import Settings
from hub.ssrf import AddressPolicy, Resolver, system_resolver

if TYPE_CHECKING:
    from connectors.payment_napas import PaymentGateway
    from connectors.population_db import PopulationDbClient
    from hub.citizens import CitizenService
    from hub.payments import Payments


@dataclass
class Hub:
    settings: Settings
    engine: Engine
    ledger: Ledger
    _transport: Transport | None = field(default=None, repr=False)
    # profile -> gateway client; tests hand in fakes, else connectors.payment_napas builds them
    gateway_factory: Callable[[str], PaymentGateway] | None = field(default=None, repr=False)
    _gateways: dict[str, PaymentGateway] = field(default_factory=dict, repr=False)
    _payments: Payments | None = field(default=None, repr=False)
    _population_db: PopulationDbClient | None = field(default=None, repr=False)
    _citizens: CitizenService | None = field(default=None, repr=False)
    # name -> addresses, for the SSRF guard of webhook subscriptions (tests hand in a fake)
    resolver: Resolver = field(default=system_resolver, repr=False)
    _address_policy: AddressPolicy | None = field(default=None, repr=False)

    @property
    def address_policy(self) -> AddressPolicy:
        """The webhook receivers' address rules (HUB_WEBHOOK_ALLOW_NETWORKS, _ALLOW_LOOPBACK)."""
        if self._address_policy is None:
            from connectors.webhooks import WebhookSettings

            self._address_policy = WebhookSettings().address_policy()
        return self._address_policy

    def gateway(self, profile: str) -> PaymentGateway:
        """The payment gateway client of a profile (napas, paygov), built on first use."""
        if profile not in self._gateways:
            if self.gateway_factory is not None:
                self._gateways[profile] = self.gateway_factory(profile)
            else:
                from connectors.payment_napas import build_gateway

                self._gateways[profile] = build_gateway(profile)
        return self._gateways[profile]

    @property
    def payments(self) -> Payments:
        if self._payments is None:
            from hub.payments import Payments

            s = self.settings
            self._payments = Payments(
                self.engine,
                self.ledger,
                self.gateway,
                breaker_failures=s.payment_breaker_failures,
                breaker_reset=s.payment_breaker_reset,
            )
        return self._payments

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            self._transport = make_transport(self.settings)
        return self._transport

    @property
    def citizens(self) -> CitizenService:
        """Citizen verification/lookup (the population database's synchronous path), built on first use."""
        if self._citizens is None:
            from hub.citizens import build_citizen_service

            self._citizens = build_citizen_service(self.settings, self.engine, self._population_db)
        return self._citizens

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        for gateway in self._gateways.values():
            gateway.close()
        if self._citizens is not None:
            self._citizens.close()
        self.ledger.close()
        self.engine.dispose()


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


def bootstrap(
    settings: Settings | None = None,
    *,
    transport: Transport | None = None,
    run_migrations: bool = True,
    population_db: PopulationDbClient | None = None,
) -> Hub:
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    if run_migrations:
        migrate(engine)
    ledger = make_ledger(engine, lease_seconds=settings.lease_seconds, grace_seconds=settings.lease_grace)
    return Hub(settings=settings, engine=engine, ledger=ledger, _transport=transport, _population_db=population_db)
