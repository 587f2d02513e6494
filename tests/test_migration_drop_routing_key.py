"""The migration that drops ``outbox.routing_key`` goes down with the rows' values restored
(the message type, which is what the column held) and up again, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from hub.db.engine import alembic_config
from hub.ledger import make_ledger
from tests.factories import model, new_message


def _revision_before_the_drop(engine: Engine) -> str:
    script = ScriptDirectory.from_config(alembic_config(engine))
    (drop,) = [r for r in script.walk_revisions() if r.path.endswith("_drop_outbox_routing_key.py")]
    down = drop.down_revision
    assert isinstance(down, str)
    return down


def test_down_restores_the_routing_keys_and_up_drops_them_again(engine: Engine) -> None:
    accepted, _ = make_ledger(engine).accept("test", [new_message(model())])
    assert "routing_key" not in {c["name"] for c in inspect(engine).get_columns("outbox")}
    cfg = alembic_config(engine)
    command.downgrade(cfg, _revision_before_the_drop(engine))
    with engine.connect() as c:
        rows = c.execute(text("SELECT message_id, routing_key FROM outbox")).all()
    assert [tuple(r) for r in rows] == [(accepted[0].message_id, "dossier.status.changed")]
    command.upgrade(cfg, "head")
    assert "routing_key" not in {c["name"] for c in inspect(engine).get_columns("outbox")}
