"""The Ed25519 key that seals chains and signs archives; public keys that verify them.

``HUB_EVIDENCE_SIGNING_KEY``: the 32-byte private key as 64 hex digits or base64, or a PKCS#8
PEM. The default is a development key derived from a published string (anyone can forge with it):
the hub warns when it is used outside SQLite. ``lgsp evidence keygen`` makes a key;
``lgsp evidence public-key`` prints the public half to publish.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.settings import DEV_EVIDENCE_SIGNING_KEY, Settings

log = structlog.get_logger("hub.evidence")


class SigningKeyError(ValueError):
    pass


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> str:
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem.decode("ascii")


def load_public(text: str) -> Ed25519PublicKey:
    """A public key as PEM, or 32 raw bytes in hex or base64."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode("ascii"))
        if not isinstance(key, Ed25519PublicKey):
            raise SigningKeyError("public key: not an Ed25519 key")
        return key
    return Ed25519PublicKey.from_public_bytes(_raw32(text, "public key"))


class Signer:
    def __init__(self, private: Ed25519PrivateKey, *, development: bool = False) -> None:
        self._private = private
        self.public = private.public_key()
        self.key_id = key_id(self.public)
        self.development = development

    @classmethod
    def from_settings(cls, s: Settings) -> Signer:
        text = s.evidence_signing_key.get_secret_value()
        development = text == DEV_EVIDENCE_SIGNING_KEY
        if development:
            if not s.is_sqlite:
                log.warning(
                    "evidence.signing_key_is_the_development_default",
                    hint="set HUB_EVIDENCE_SIGNING_KEY (lgsp evidence keygen): anyone can forge seals with this one",
                )
            private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(text.encode()).digest())
        else:
            private = load_private(text)
        return cls(private, development=development)

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self._private.sign(data)).decode("ascii")


def load_private(text: str) -> Ed25519PrivateKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError("HUB_EVIDENCE_SIGNING_KEY: not an Ed25519 key")
        return key
    return Ed25519PrivateKey.from_private_bytes(_raw32(text, "HUB_EVIDENCE_SIGNING_KEY"))


def generate() -> str:
    """A new private key, base64 of its 32 bytes (for HUB_EVIDENCE_SIGNING_KEY)."""
    raw = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(raw).decode("ascii")


def _raw32(text: str, what: str) -> bytes:
    try:
        raw = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise SigningKeyError(f"{what}: 32 bytes as 64 hex digits or base64, or a PEM")
    return raw


def verifies(public: Ed25519PublicKey, signature: str, data: bytes) -> bool:
    try:
        public.verify(base64.b64decode(signature, validate=True), data)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True
