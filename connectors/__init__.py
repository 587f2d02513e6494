"""The connector registry: every partner the hub talks to, one line each (name -> package).

Each package opens with its capability card and says what it is (``KIND``):

- ``delivery``: a ``hub.ports.Connector`` the workers deliver ledger messages through, with the
  message types it takes (``MESSAGE_TYPES``) and ``build_connector(...)``;
- ``payment_gateway``: implements ``hub.payments.port.PaymentGateway`` (``build_gateway(profile)``);
- ``population_db``: implements ``hub.citizens.port.PopulationDb`` (``build_client(settings)``).

Only the composition root (``hub/bootstrap.py``) and the CLI read this registry: they wire each
connector in with what it needs. Connectors never import one another, nor any hub module but the
hub's ports, canonical models and the domains' ports (checked by import-linter, ``make lint``).
Adding a partner is one package, one line here and one line in the composition root.
"""

from __future__ import annotations

import importlib
from types import ModuleType

REGISTRY: dict[str, str] = {
    "national_portal": "connectors.national_portal",  # DVCQG dossier sync (delivery)
    "payment_napas": "connectors.payment_napas",  # NAPAS and PayGov fee payments (payment_gateway)
    "population_db": "connectors.population_db",  # national population database (population_db)
    "vnpost": "connectors.vnpost",  # VNPost postal service (delivery; postal_gateway for the tracking feeds)
    "webhooks": "connectors.webhooks",  # events to local systems' subscriptions (delivery)
}


def load(name: str) -> ModuleType:
    """A registered connector's package (``KeyError`` for a name not registered)."""
    return importlib.import_module(REGISTRY[name])
