"""Citizen verification and lookup against the national population database (synchronous path).

- ``grants.py``: who may verify, and which record fields each caller may see (deny by default);
- ``service.py``: one call = breaker, thread pool, connector, audit row, answer;
- ``breaker.py``: the per-call circuit breaker;
- ``audit.py``: the append-only ``citizen_queries`` table (keyed hash of the ID number, no
  personal data) and its search;
- the HTTP side is ``hub/api/citizens.py``; the connector is ``connectors/population_db``.
"""

from __future__ import annotations

import structlog
from sqlalchemy import Engine

from connectors.population_db import PopulationDbClient, build_client
from hub.citizens.audit import IdHasher
from hub.citizens.service import CitizenService
from hub.evidence.keyring import Keyring
from hub.settings import Settings

__all__ = ["CitizenService", "IdHasher", "build_citizen_service"]


def build_citizen_service(
    settings: Settings, engine: Engine, client: PopulationDbClient | None = None
) -> CitizenService:
    """The service for the composition root; the connector reads ``HUB_POPDB_*`` and opens nothing yet."""
    keyring = Keyring.from_settings(settings)
    if keyring.uses_development_key and not settings.is_sqlite:
        structlog.get_logger("hub.citizens").warning(
            "citizens.audit_hash_key_is_the_development_default", hint="set HUB_AUDIT_HASH_KEY in production"
        )
    return CitizenService(
        engine,
        client or build_client(),
        IdHasher(keyring),
        concurrency=settings.citizens_concurrency,
        retry_after=settings.citizens_retry_after,
    )
