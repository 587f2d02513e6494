"""Retention: the personal fields of a final message's payload are replaced by their digest once the retention
period has passed; traces, timelines and reports still read; a redacted message is not replayed; a message not
final yet is revisited later, never skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select, update

from hub import trace
from hub.db.schema import evidence_staged, messages, payload_redactions
from hub.evidence.keyring import Keyring
from hub.evidence.retention import PERSONAL_FIELDS, Retention
from hub.ledger import NotReplayable, make_ledger
from hub.settings import Settings
from tests.factories import model, new_message

NOW = datetime.now(tz=UTC) + timedelta(days=400)  # the retention job's clock
RING = Keyring({"1": SecretStr("k" * 40)})


def accept(engine: Engine, n: int) -> list[tuple[str, dict[str, Any]]]:
    ledger = make_ledger(engine)
    items = [new_message(model()) for _ in range(n)]
    accepted, _ = ledger.accept("ONEGATE", items)
    ids = [r.message_id for r in accepted]
    with engine.connect() as c:
        payloads = dict(c.execute(select(messages.c.id, messages.c.payload).where(messages.c.id.in_(ids))).all())
    return [(i, payloads[i]) for i in ids]


def set_state(engine: Engine, mid: str, state: str, days_ago: float) -> None:
    with engine.begin() as c:
        c.execute(
            update(messages).where(messages.c.id == mid).values(state=state, updated_at=NOW - timedelta(days=days_ago))
        )


def payload(engine: Engine, mid: str) -> dict[str, Any]:
    with engine.connect() as c:
        found: dict[str, Any] = c.execute(select(messages.c.payload).where(messages.c.id == mid)).scalar_one()
        return found


def job(engine: Engine, **settings: Any) -> Retention:
    return Retention(engine, RING, Settings(database_url=str(engine.url), **settings), clock=lambda: NOW)


def test_final_messages_are_redacted_after_their_retention(engine: Engine) -> None:
    (old, original), (recent, _), (dead, _), (moving, _) = accept(engine, 4)
    set_state(engine, old, "delivered", 200)
    set_state(engine, recent, "delivered", 10)
    set_state(engine, dead, "dead", 181)
    set_state(engine, moving, "retrying", 200)
    assert original["applicant"]["id_number"] and original["applicant"]["name"]

    assert job(engine).redact_payloads() == 2
    red = payload(engine, old)
    assert "applicant" not in red and "038090001234" not in str(red) and original["applicant"]["name"] not in str(red)
    assert red["_redacted"]["digest"] == RING.json(original)  # the digest the evidence of acceptance holds
    removed = red["_redacted"]["fields"]
    assert {"applicant", "handler"} <= set(removed) <= PERSONAL_FIELDS
    assert {k: v for k, v in red.items() if k != "_redacted"} == {k: v for k, v in original.items() if k not in removed}
    assert red["status"] == original["status"] and red["agency_code"] == original["agency_code"]
    assert "applicant" in payload(engine, recent) and "applicant" in payload(engine, moving)
    assert "applicant" not in payload(engine, dead)

    shown = trace.get_message(engine, old)  # the trace still reads, and says it was redacted
    assert shown is not None and shown["payload"]["_redacted"]["fields"] == removed and shown["status"] == 2
    assert [m["id"] for m in trace.timeline(engine, original["dossier_code"])["messages"]] == [old]
    with pytest.raises(NotReplayable, match="redacted"):
        make_ledger(engine).replay(dead)
    with engine.connect() as c:
        assert c.execute(select(payload_redactions.c.message_id).order_by("message_id")).scalars().all() == sorted(
            [old, dead]
        )
        kinds = c.execute(
            select(evidence_staged.c.kind, evidence_staged.c.subject).where(
                evidence_staged.c.kind == "payload.redacted"  # beside the ledger's own facts (accepted...)
            )
        ).all()
    assert sorted(kinds) == sorted([("payload.redacted", f"message:{old}"), ("payload.redacted", f"message:{dead}")])

    assert job(engine).redact_payloads() == 0  # done once
    set_state(engine, moving, "delivered", 190)  # the message that was still retrying is final now
    assert job(engine).redact_payloads() == 1  # the cursor waited for it
    assert "applicant" not in payload(engine, moving)


def test_retention_per_type_and_off(engine: Engine) -> None:
    [(mid, _)] = accept(engine, 1)
    set_state(engine, mid, "delivered", 200)
    assert job(engine, retention_payload_days=None).redact_payloads() == 0
    assert job(engine, retention_payload_days_by_type={"dossier.status.changed": 365}).redact_payloads() == 0
    assert job(engine, retention_payload_days_by_type={"dossier.status.changed": 100}).redact_payloads() == 1


def test_a_message_replayed_meanwhile_is_not_redacted(engine: Engine) -> None:
    [(mid, _)] = accept(engine, 1)
    set_state(engine, mid, "dead", 200)
    make_ledger(engine).replay(mid)  # queued again: no longer final
    assert job(engine).redact_payloads() == 0 and "applicant" in payload(engine, mid)


def test_the_retention_command(engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from hub.cli import app as lgsp

    [(mid, _)] = accept(engine, 1)
    set_state(engine, mid, "delivered", 400 + 1 / 1440)  # a minute ago (the job runs on the real clock here)
    monkeypatch.setenv("HUB_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("HUB_RETENTION_PAYLOAD_DAYS", "0")
    monkeypatch.setenv("HUB_EVIDENCE_ARCHIVE_DIR", str(tmp_path))
    out = CliRunner().invoke(lgsp, ["evidence", "retention"])
    assert out.exit_code == 0 and "1 payloads redacted" in out.output, out.output
    assert "applicant" not in payload(engine, mid)
