"""The evidence log's periodic jobs, built from the settings, for the relay process to run.

The wiring step adds, in ``Pipeline.start`` beside the payment reconciler (``if self.run_relay:``)::

    from hub.evidence.jobs import chainer, retention
    self._spawn("evidence-chainer", lambda stop: chainer(s, hub.engine).run_forever(
        stop, s.evidence_interval, s.evidence_max_rate))
    self._spawn("retention", retention(s, hub.engine).run_forever)
"""

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
