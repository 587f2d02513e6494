"""The services the composition root (``hub/bootstrap.py``) built: plain fields, nothing built on
demand. The api keeps it in ``app.state.hub`` and routes take the one service they need through a
typed dependency (``hub/api/deps.py``); the pipeline and the console are handed it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from hub.agencies.port import AgencyDirectory
from hub.citizens.service import CitizenService
from hub.dossiers.service import Dossiers
from hub.ledger import Ledger
from hub.payments.service import Payments
from hub.ports import Transport
from hub.postal.service import Postal
from hub.routing import Routing
from hub.settings import Settings
from hub.subscriptions.service import Subscriptions


@dataclass(frozen=True)
class Database:
    """What every process needs: the settings, the database, the ledger."""

    settings: Settings
    engine: Engine
    ledger: Ledger

    def close(self) -> None:
        self.ledger.close()
        self.engine.dispose()


@dataclass(frozen=True)
class Hub(Database):
    """Everything an api, relay or worker process runs with."""

    transport: Transport
    routing: Routing  # the delivery connectors wired in, and what each delivers
    dossiers: Dossiers
    payments: Payments
    citizens: CitizenService
    subscriptions: Subscriptions
    postal: Postal
    agencies: AgencyDirectory  # per-agency configuration (hub.agencies): the database's, or HUB_AGENCIES_FILE

    def close(self) -> None:
        self.transport.close()
        self.payments.close()
        self.postal.close()
        self.citizens.close()
        super().close()
