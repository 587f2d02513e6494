"""The evidence log's periodic jobs, built from the settings: ``Pipeline`` (``hub/pipeline.py``) runs
them in the relay role, beside the payment reconciler (``lgsp relay``, and ``lgsp api`` / ``lgsp dev``
when embedded); ``lgsp evidence chain`` / ``retention`` run them once by hand."""

from __future__ import annotations

from sqlalchemy import Engine

from hub.evidence.chainer import Chainer
from hub.evidence.keyring import Keyring
from hub.evidence.retention import Retention
from hub.evidence.signing import Signer
from hub.settings import Settings


def chainer(s: Settings, engine: Engine) -> Chainer:
    return Chainer(
        engine,
        Signer.from_settings(s),
        chains=s.evidence_chains,
        batch=s.evidence_batch,
        seal_interval=s.evidence_seal_interval,
    )


def retention(s: Settings, engine: Engine) -> Retention:
    return Retention(engine, Keyring.from_settings(s), s, Signer.from_settings(s))
