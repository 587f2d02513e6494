"""per-agency partner profiles: the portal connector profile and the payment gateway profile

* ``agencies.portal``: ``{madonvi, variant}`` becomes ``{madonvi, profile}``. ``variant`` was never
  read (every agency went out through the one HUB_PORTAL_* connector), so every stored agency gets
  ``profile: "default"`` (the HUB_PORTAL_* settings): what it had in effect. A ``madonvi`` that is
  not an agency code is left as it is; reading that agency then fails validation, so the operator
  sees it (``lgsp agencies list``) and sets it (``lgsp agencies set CODE portal.madonvi=...``).
* ``agencies.payment``: ``{profile}``, the payment gateway profile of the agency's fees (napas,
  paygov); NULL: the request's, else HUB_PAYMENT_PROFILE (as before).

Revision ID: 0015
Revises: 0014
"""

import json
from typing import Any

from alembic import op
import sqlalchemy as sa


revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _portal_rows(change: Any) -> None:
    bind = op.get_bind()
    table = sa.table("agencies", sa.column("code", sa.String()), sa.column("portal", sa.JSON()))
    for code, portal in bind.execute(sa.select(table.c.code, table.c.portal)).all():
        value = json.loads(portal) if isinstance(portal, str) else portal
        if isinstance(value, dict):
            new = change(dict(value))
            if new != value:
                bind.execute(sa.update(table).where(table.c.code == code).values(portal=new))


def _to_profile(portal: dict[str, Any]) -> dict[str, Any]:
    portal.pop("variant", None)
    portal.setdefault("profile", "default")
    return portal


def _to_variant(portal: dict[str, Any]) -> dict[str, Any]:
    portal.pop("profile", None)
    portal.setdefault("variant", "adapter")
    return portal


def upgrade() -> None:
    with op.batch_alter_table("agencies") as batch:
        batch.add_column(sa.Column("payment", sa.JSON(), nullable=True))
    _portal_rows(_to_profile)


def downgrade() -> None:
    _portal_rows(_to_variant)
    with op.batch_alter_table("agencies") as batch:
        batch.drop_column("payment")
