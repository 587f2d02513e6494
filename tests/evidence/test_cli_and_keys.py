"""The signing key (deployment secret, development default with a warning, public half published), the
psycopg path of recording, sealing at intervals, and the export and key commands."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import structlog
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from hub.cli import app as lgsp
from hub.db.schema import evidence, evidence_seals, evidence_staged
from hub.evidence.chainer import Chainer
from hub.evidence.model import chain_of
from hub.evidence.signing import Signer, SigningKeyError, load_public
from hub.evidence.store import record_pg
from hub.settings import Settings
from tests.conftest import Clock

from .conftest import check, facts, stage


def test_the_signing_key_comes_from_the_settings() -> None:
    runner = CliRunner()
    key = runner.invoke(lgsp, ["evidence", "keygen"]).stdout.strip()
    signer = Signer.from_settings(Settings(evidence_signing_key=SecretStr(key)))
    assert not signer.development and len(signer.key_id) == 16
    hexed = Signer.from_settings(Settings(evidence_signing_key=SecretStr(bytes(range(32)).hex())))
    assert hexed.key_id != signer.key_id
    with pytest.raises(SigningKeyError, match="HUB_EVIDENCE_SIGNING_KEY"):
        Signer.from_settings(Settings(evidence_signing_key=SecretStr("a passphrase")))


def test_the_development_key_warns_outside_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    with structlog.testing.capture_logs() as logs:
        assert Signer.from_settings(Settings(database_url="sqlite:///x.db")).development
        assert not logs
        Signer.from_settings(Settings(database_url="postgresql+psycopg://h/db"))
    assert [e["event"] for e in logs] == ["evidence.signing_key_is_the_development_default"]


def test_lgsp_evidence_public_key_prints_what_verifies(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    key = runner.invoke(lgsp, ["evidence", "keygen"]).stdout.strip()
    monkeypatch.setenv("HUB_EVIDENCE_SIGNING_KEY", key)
    out = runner.invoke(lgsp, ["evidence", "public-key"]).stdout
    pem, _, key_id = out.partition("key id: ")
    signer = Signer.from_settings(Settings())
    assert load_public(pem).public_bytes_raw() == signer.public.public_bytes_raw() and key_id.strip() == signer.key_id


@pytest.mark.postgres
def test_facts_recorded_through_psycopg_chain_like_the_others(pg_url: str, signer: Signer) -> None:
    from hub.bootstrap import migrate
    from hub.db.engine import make_engine
    from tests.conftest import _truncate_all

    engine = make_engine(pg_url)
    migrate(engine)
    _truncate_all(engine)
    batch = facts(30)
    with engine.begin() as c:
        raw = c.connection.dbapi_connection
        assert raw is not None
        assert record_pg(raw.cursor(), batch, chains=2) == 30
        staged = c.execute(select(evidence_staged.c.subject, evidence_staged.c.chain)).all()
    assert sorted(staged) == sorted((f.subject, chain_of(f.subject, 2)) for f in batch)
    Chainer(engine, signer, chains=2).drain()
    report = check(engine, signer)
    assert report.ok and sum(c.records for c in report.chains) == 30
    with engine.connect() as c:
        details = c.execute(select(evidence.c.details).where(evidence.c.chain == 0).limit(1)).scalar_one()
    assert details == batch[0].details
    engine.dispose()


def test_chains_are_sealed_at_intervals(engine: Engine, signer: Signer, clock: Clock) -> None:
    chainer = Chainer(engine, signer, chains=1, batch=100, seal_interval=10, clock=clock)
    seals = select(func.count()).select_from(evidence_seals)
    stage(engine, facts(3), chains=1)
    chainer.chain_once()
    stage(engine, facts(3, start=3), chains=1)
    chainer.chain_once()  # within the interval: not sealed again
    with engine.connect() as c:
        assert c.execute(seals).scalar() == 1
    clock.advance(11)
    chainer.chain_once()  # nothing new staged, but the head is unsealed and the interval passed
    chainer.chain_once()
    with engine.connect() as c:
        assert c.execute(seals).scalar() == 2
        assert c.execute(select(func.max(evidence_seals.c.seq))).scalar() == 6
    assert check(engine, signer).ok


def test_lgsp_evidence_export(chained: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", chained.url.render_as_string(hide_password=False))
    at = facts(1)[0].at
    assert at is not None
    since = (at - timedelta(hours=1)).isoformat()
    runner = CliRunner()
    out = runner.invoke(lgsp, ["evidence", "export", "--since", since, "--no-seals"])
    assert out.exit_code == 0
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert len(lines) == 40 and lines[0]["kind"] == "delivery.attempt"
    target = tmp_path / "soc.jsonl"
    assert runner.invoke(lgsp, ["evidence", "export", "--since", since, "--out", str(target)]).exit_code == 0
    assert len(target.read_text().splitlines()) > 40  # with the seals
    assert runner.invoke(lgsp, ["evidence", "export", "--since", "yesterday"]).exit_code == 2


def test_the_chainer_loop_paces_itself_and_waits_when_idle(engine: Engine, signer: Signer) -> None:
    class Stop:
        """Records what the loop waits for; stops it after a few waits."""

        def __init__(self) -> None:
            self.waits: list[float] = []

        def is_set(self) -> bool:
            return len(self.waits) >= 3

        def wait(self, seconds: float) -> bool:
            self.waits.append(seconds)
            return self.is_set()

    stage(engine, facts(20), chains=1)
    stop = Stop()
    # Stop answers is_set() and wait() as a threading.Event does
    Chainer(engine, signer, chains=1, batch=10).run_forever(stop, every=0.5, max_rate=10)  # type: ignore[arg-type]
    assert stop.waits[0] > 0.5 and stop.waits[1] > 0.5  # two full batches of 10 at 10 facts/s: about 1 s each
    assert stop.waits[2] == 0.5  # then nothing waiting: the interval
    assert check(engine, signer).ok
