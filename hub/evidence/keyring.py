"""Versioned secret keys of the keyed digests (HMAC-SHA256), shared by the citizen audit and the evidence log.

A keyed digest cannot be tested against the small space of ID numbers without the key; with it,
the hub can find every row about one number. Keys rotate without losing that: new digests use the
*current* version, searches try every version still kept, and each row or digest says which
version made it.

Settings: ``HUB_AUDIT_HASH_KEY`` is version ``1`` (the single key of earlier releases);
``HUB_AUDIT_HASH_KEYS`` adds versions as JSON (``{"2": "<secret>"}``); ``HUB_AUDIT_HASH_KEY_CURRENT``
names the version to write with (default: the highest). Rotating = add a version, make it current,
keep the old one as long as its rows must stay searchable.

Digest strings in evidence facts: ``hmac-sha256:<version>:<hex>``, over

* an ID number: the number, stripped (the very value ``citizen_queries.id_hash`` holds);
* a JSON value (payloads, requests, answers): ``b"json\\n" + canonical(value)`` (see ``model.canonical``);
* bytes (a partner's raw answer): ``b"bytes\\n" + data``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from hub.evidence.model import canonical
from hub.settings import DEV_AUDIT_HASH_KEY, Settings


class KeyringError(ValueError):
    pass


class Keyring:
    def __init__(self, keys: Mapping[str, SecretStr | str], current: str | None = None) -> None:
        if not keys:
            raise KeyringError("HUB_AUDIT_HASH_KEYS: at least one key is needed")
        self._macs = {
            v: hmac.new(
                (k.get_secret_value() if isinstance(k, SecretStr) else k).encode("utf-8"), digestmod=hashlib.sha256
            )
            for v, k in keys.items()
        }
        for v in self._macs:
            if not v or len(v) > 16 or ":" in v:
                raise KeyringError("HUB_AUDIT_HASH_KEYS: versions are 1 to 16 characters, without ':'")
        self.current = current if current is not None else _highest(self._macs)
        if self.current not in self._macs:
            raise KeyringError("HUB_AUDIT_HASH_KEY_CURRENT: must name a version of HUB_AUDIT_HASH_KEYS")
        self.uses_development_key = _secret(keys[self.current]) == DEV_AUDIT_HASH_KEY

    @classmethod
    def from_settings(cls, s: Settings) -> Keyring:
        keys: dict[str, SecretStr] = dict(s.audit_hash_keys)
        if "1" not in keys:
            keys["1"] = s.audit_hash_key
        elif "audit_hash_key" in s.model_fields_set and _secret(keys["1"]) != _secret(s.audit_hash_key):
            raise KeyringError("HUB_AUDIT_HASH_KEY and version 1 of HUB_AUDIT_HASH_KEYS differ: keep one")
        return cls(keys, s.audit_hash_key_current)

    @property
    def versions(self) -> list[str]:
        return sorted(self._macs)

    def hex(self, data: bytes, version: str | None = None) -> str:
        mac = self._macs[version or self.current].copy()
        mac.update(data)
        return mac.hexdigest()

    def every(self, data: bytes) -> dict[str, str]:
        """The digest under every kept version (to search rows written before a rotation)."""
        return {v: self.hex(data, v) for v in self._macs}

    # ---- digest strings for evidence facts
    def _tagged(self, data: bytes) -> str:
        return f"hmac-sha256:{self.current}:{self.hex(data)}"

    def id_number(self, number: str) -> str:
        return self._tagged(id_bytes(number))

    def json(self, value: Any) -> str:
        return self._tagged(b"json\n" + canonical(value))

    def bytes(self, data: bytes) -> str:
        return self._tagged(b"bytes\n" + data)


def id_bytes(number: str) -> bytes:
    return number.strip().encode("ascii", errors="replace")


def _secret(k: SecretStr | str) -> str:
    return k.get_secret_value() if isinstance(k, SecretStr) else k


def _highest(versions: Mapping[str, Any]) -> str:
    if all(v.isdigit() for v in versions):
        return max(versions, key=int)
    raise KeyringError("HUB_AUDIT_HASH_KEY_CURRENT: required when versions are not all numbers")
