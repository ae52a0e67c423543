"""application questions, auto-approve rules and decision traces

- ``products.application_questions`` and ``products.partnership_rules``: JSON lists, part of
  a product's partnership settings (empty by default).
- ``partnership_decisions``: per requested partnership, the answers its request carried and
  the decision trace of the rules (written in the request's transaction).

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EMPTY = sa.text("'[]'")


def upgrade() -> None:
    # Plain ADD COLUMN on both databases (no table rebuild on SQLite).
    for name in ("application_questions", "partnership_rules"):
        op.add_column("products", sa.Column(name, sa.JSON(), nullable=False, server_default=EMPTY))
    op.create_table(
        "partnership_decisions",
        sa.Column("partnership_id", Id, nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("trace", sa.JSON(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["product_partners.id"],
            name=op.f("fk_partnership_decisions_partnership_id_product_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("partnership_id", name=op.f("pk_partnership_decisions")),
    )


def downgrade() -> None:
    op.drop_table("partnership_decisions")
    with op.batch_alter_table("products") as batch:
        batch.drop_column("partnership_rules")
        batch.drop_column("application_questions")
