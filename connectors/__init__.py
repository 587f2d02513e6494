"""Connector registry: one line per partner. Adding a partner = one package + one line here."""

from __future__ import annotations

import importlib
from typing import Any

from hub.ports import Connector

# connector name -> (module with build_connector(), message types it delivers)
REGISTRY: dict[str, tuple[str, tuple[str, ...]]] = {
    "national_portal": ("connectors.national_portal", ("dossier.status.changed",)),
}


def connector_for(message_type: str) -> str:
    for name, (_, types) in REGISTRY.items():
        if message_type in types:
            return name
    raise KeyError(f"no connector delivers {message_type!r}")


def build(name: str, **kwargs: Any) -> Connector:
    module = importlib.import_module(REGISTRY[name][0])
    connector: Connector = module.build_connector(**kwargs)
    return connector


def bindings(names: list[str] | None = None) -> dict[str, tuple[str, ...]]:
    """Queue name -> routing keys, for Transport.setup()."""
    return {n: types for n, (_, types) in REGISTRY.items() if names is None or n in names}
