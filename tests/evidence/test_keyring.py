"""Key rotation of the keyed digests: rows hashed under an older key stay searchable while that key is kept;
new rows use the current key and say which; the evidence log's digests come from the same keyring."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from hub.citizens import audit
from hub.citizens.audit import IdHasher
from hub.evidence.keyring import Keyring, KeyringError
from hub.settings import DEV_AUDIT_HASH_KEY, Settings

NUMBER = "000090000001"
K1, K2 = "first-key-" + "a" * 30, "second-key-" + "b" * 30


def write(engine: Engine, hasher: IdHasher, version: str | None) -> None:
    row = audit.QueryRecord(
        datetime.now(tz=UTC), "verify", "ONEGATE", "matched", 200, 5, id_hash=hasher(NUMBER), id_hash_key=version
    )
    audit.record(engine, row)


def found(engine: Engine, **filters: Any) -> list[str | None]:
    return [r["id_hash_key"] for r in audit.search(engine, audit.Filters(**filters))]


def test_rows_hashed_before_a_rotation_stay_searchable(engine: Engine) -> None:
    before = IdHasher(Keyring.from_settings(Settings(audit_hash_key=SecretStr(K1))))
    assert before.version == "1"
    write(engine, before, None)  # a row of an earlier release: no version column, key 1
    write(engine, before, "1")
    after = IdHasher(
        Keyring.from_settings(Settings(audit_hash_key=SecretStr(K1), audit_hash_keys={"2": SecretStr(K2)}))
    )
    assert after.version == "2"  # the highest version writes
    write(engine, after, after.version)

    assert sorted(found(engine, id_hashes=after.every(NUMBER)), key=str) == ["1", "2", None]
    assert found(engine, id_hash=after(NUMBER)) == ["2"]  # the current key alone misses the older rows
    dropped = IdHasher(Keyring({"2": SecretStr(K2)}))
    assert found(engine, id_hashes=dropped.every(NUMBER)) == ["2"]  # a key no longer kept: its rows are not found
    other = IdHasher(Keyring({"1": SecretStr("x" * 40), "2": SecretStr("y" * 40)}))
    assert found(engine, id_hashes=other.every(NUMBER)) == []


def test_the_keyring_settings() -> None:
    single = Keyring.from_settings(Settings(audit_hash_key=SecretStr(K1)))
    assert single.versions == ["1"] and not single.uses_development_key
    assert Keyring.from_settings(Settings()).uses_development_key
    assert Settings().audit_hash_key.get_secret_value() == DEV_AUDIT_HASH_KEY
    pinned = Settings(audit_hash_keys={"2": SecretStr(K2), "3": SecretStr(K1)}, audit_hash_key_current="2")
    assert Keyring.from_settings(pinned).current == "2"
    with pytest.raises(KeyringError, match="HUB_AUDIT_HASH_KEY_CURRENT"):
        Keyring.from_settings(Settings(audit_hash_keys={"2": SecretStr(K2)}, audit_hash_key_current="7"))
    with pytest.raises(KeyringError, match="differ"):
        Keyring.from_settings(Settings(audit_hash_key=SecretStr(K1), audit_hash_keys={"1": SecretStr(K2)}))


def test_the_keyring_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_AUDIT_HASH_KEY", K1)
    monkeypatch.setenv("HUB_AUDIT_HASH_KEYS", json.dumps({"2": K2}))
    ring = Keyring.from_settings(Settings())
    assert ring.versions == ["1", "2"] and ring.current == "2"


def test_evidence_digests_use_the_same_keyring() -> None:
    ring = Keyring({"1": SecretStr(K1), "2": SecretStr(K2)})
    tag, version, hexdigest = ring.id_number(f" {NUMBER} ").split(":")
    assert (tag, version, hexdigest) == ("hmac-sha256", "2", IdHasher(ring)(NUMBER))  # one number, one hash
    assert ring.json({"b": 1, "a": "é"}) == ring.json({"a": "é", "b": 1})  # canonical: key order does not matter
    assert ring.json({"a": 1}) != ring.bytes(b'{"a":1}')  # domain-separated
    assert NUMBER not in ring.json({"id_number": NUMBER})
