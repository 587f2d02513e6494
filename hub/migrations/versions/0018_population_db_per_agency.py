"""the population database per agency: an agency's profile, and the agency of each citizen query

* ``agencies.population_db``: ``{profile, madonvi}``, the population-database connector profile of the
  agency's officers' queries (``HUB_POPDB_PROFILES``) and the MaDonVi they are sent with; NULL: the
  deployment's default profile (HUB_POPDB_*), as before.
* ``citizen_queries.agency_code``: the officer's agency a query was made for (named in the query, or the
  client's only agency); NULL for the rows written before, and for queries of no agency.

Revision ID: 0018
Revises: 0017
"""

from alembic import op
import sqlalchemy as sa


revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agencies") as batch:
        batch.add_column(sa.Column("population_db", sa.JSON(), nullable=True))
    with op.batch_alter_table("citizen_queries") as batch:
        batch.add_column(sa.Column("agency_code", sa.String(length=35), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("citizen_queries") as batch:
        batch.drop_column("agency_code")
    with op.batch_alter_table("agencies") as batch:
        batch.drop_column("population_db")
