"""partner consent: contact data and affiliate_pro routing follow the partner's consent; a
partnership names its partner by unique id (NULL business while none has it)

- ``partner_consents`` (owner, partner): the partner shares its contact data with the owner.
  Existing partnerships the partner asked for (``requested_at`` set) are consents.
- ``product_partners`` / ``bundle_partners``: ``partner_unique_id`` (backfilled from the
  business), ``partner_business_id`` nullable, unique per (item, unique id).
- ``product_partners.affiliate_pro_consented_at``: backfilled for affiliate_pro partnerships
  the partner asked for.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# SQLite rebuilds a table to alter it (batch mode), and reflection does not see AUTOINCREMENT:
# say it again, or the rebuilt table would reuse ids (migration 0002).
AUTOINCREMENT = {"sqlite_autoincrement": True}
_UNIQUE_ID_OF_PARTNER = (
    "(SELECT businesses.unique_id FROM businesses"
    " WHERE businesses.id = {table}.partner_business_id)"
)


def upgrade() -> None:
    op.create_table(
        "partner_consents",
        sa.Column("owner_business_id", Id, nullable=False),
        sa.Column("partner_business_id", Id, nullable=False),
        sa.Column(
            "consented_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["owner_business_id"],
            ["businesses.id"],
            name=op.f("fk_partner_consents_owner_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_business_id"],
            ["businesses.id"],
            name=op.f("fk_partner_consents_partner_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "owner_business_id", "partner_business_id", name=op.f("pk_partner_consents")
        ),
    )
    for table, item in (("product_partners", "product_id"), ("bundle_partners", "bundle_id")):
        with op.batch_alter_table(table, table_kwargs=AUTOINCREMENT) as batch:
            batch.add_column(sa.Column("partner_unique_id", sa.String(length=64), nullable=True))
            if table == "product_partners":
                batch.add_column(
                    sa.Column(
                        "affiliate_pro_consented_at", sa.DateTime(timezone=True), nullable=True
                    )
                )
        op.execute(
            f"UPDATE {table} SET partner_unique_id = {_UNIQUE_ID_OF_PARTNER.format(table=table)}"
        )
        with op.batch_alter_table(table, table_kwargs=AUTOINCREMENT) as batch:
            batch.alter_column("partner_unique_id", existing_type=sa.String(64), nullable=False)
            batch.alter_column("partner_business_id", existing_type=Id, nullable=True)
            batch.create_unique_constraint(
                op.f(f"uq_{table}_{item}_partner_unique_id"), [item, "partner_unique_id"]
            )
    op.execute(
        "UPDATE product_partners SET affiliate_pro_consented_at = requested_at "
        "WHERE partnership_type = 'affiliate_pro' AND requested_at IS NOT NULL"
    )
    op.execute(
        "INSERT INTO partner_consents (owner_business_id, partner_business_id, consented_at) "
        "SELECT products.business_id, product_partners.partner_business_id, "
        "min(product_partners.requested_at) FROM product_partners "
        "JOIN products ON products.id = product_partners.product_id "
        "WHERE product_partners.requested_at IS NOT NULL "
        "GROUP BY products.business_id, product_partners.partner_business_id"
    )


def downgrade() -> None:
    for table, item in (("product_partners", "product_id"), ("bundle_partners", "bundle_id")):
        op.execute(f"DELETE FROM {table} WHERE partner_business_id IS NULL")
        with op.batch_alter_table(table, table_kwargs=AUTOINCREMENT) as batch:
            batch.drop_constraint(op.f(f"uq_{table}_{item}_partner_unique_id"), type_="unique")
            batch.alter_column("partner_business_id", existing_type=Id, nullable=False)
            batch.drop_column("partner_unique_id")
            if table == "product_partners":
                batch.drop_column("affiliate_pro_consented_at")
    op.drop_table("partner_consents")
