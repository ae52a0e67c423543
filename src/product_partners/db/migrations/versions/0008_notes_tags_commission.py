"""owner-private tags and notes on a partnership, per-partner commission override

- ``product_partners.tags``: the owner's labels, sorted, each between spaces (" gold vip "),
  "" for none.
- ``product_partners.commission_rate``: the owner's rate for this partner; NULL follows the
  product's rate for the partnership's type.
- ``partnership_notes``: the owner's notes, with their author (as the event log records an
  actor) and time.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NOW = sa.text("(CURRENT_TIMESTAMP)")
# SQLite rebuilds a table to alter it (batch mode), and reflection does not see AUTOINCREMENT:
# say it again, or the rebuilt table would reuse ids (migration 0002).
AUTOINCREMENT = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("product_partners", table_kwargs=AUTOINCREMENT) as batch_op:
        batch_op.add_column(
            sa.Column("tags", sa.Text(), server_default=sa.text("''"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("commission_rate", sa.Numeric(precision=5, scale=2), nullable=True)
        )
    op.create_table(
        "partnership_notes",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("partnership_id", Id, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author_type", sa.String(length=16), nullable=False),
        sa.Column("author_business_id", Id, nullable=True),
        sa.Column("author_api_key_id", Id, nullable=True),
        sa.Column("author_user_id", Id, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["product_partners.id"],
            name=op.f("fk_partnership_notes_partnership_id_product_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partnership_notes")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_partnership_notes_partnership_id_id", "partnership_notes", ["partnership_id", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_partnership_notes_partnership_id_id", table_name="partnership_notes")
    op.drop_table("partnership_notes")
    with op.batch_alter_table("product_partners", table_kwargs=AUTOINCREMENT) as batch_op:
        batch_op.drop_column("commission_rate")
        batch_op.drop_column("tags")
