"""domain proof: a custom domain is a claim until proven by DNS (or by the operator)

- ``custom_domains.verification_token``: the value of an unverified claim's TXT record
  ``_product-partners.<full_url>``; every existing unverified claim gets its own random
  token (a CHECK keeps every claim with one); a verified domain needs none.
- ``custom_domains.claim_expires_at``: when an unverified claim lapses (NULL once verified);
  existing unverified claims get three days from the migration (DOMAIN_CLAIM_TTL's default),
  existing verified domains stay verified.
- ``full_url`` is no longer unique: several businesses may claim a name, one business once
  (unique ``business_id, full_url``), and one at most holds it verified (a partial unique
  index, ``WHERE is_verified``), so two concurrent verifications have one winner.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 02:30:00
"""

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite rebuilds a table to alter it (batch mode), and reflection does not see AUTOINCREMENT:
# say it again, or the rebuilt table would reuse ids (migration 0002).
AUTOINCREMENT = {"sqlite_autoincrement": True}
# The claim lifetime given to claims that exist when this migration runs (DOMAIN_CLAIM_TTL's
# default; a migration does not read the running configuration).
EXISTING_CLAIM_TTL = timedelta(days=3)
VERIFIED_NAME_INDEX = "uq_custom_domains_verified_full_url"

domains = sa.table(
    "custom_domains",
    sa.column("id", sa.BigInteger()),
    sa.column("is_verified", sa.Boolean()),
    sa.column("verification_token", sa.String(64)),
    sa.column("claim_expires_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("custom_domains", table_kwargs=AUTOINCREMENT) as batch:
        batch.add_column(sa.Column("verification_token", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("claim_expires_at", sa.DateTime(timezone=True), nullable=True))
    bind = op.get_bind()
    expires = datetime.now(UTC) + EXISTING_CLAIM_TTL
    claims = bind.execute(sa.select(domains.c.id).where(domains.c.is_verified.is_(False)))
    for (claim_id,) in claims.all():
        # The same form as domains.proof.new_token: 32 URL-safe characters, 192 random bits.
        bind.execute(
            domains.update()
            .where(domains.c.id == claim_id)
            .values(verification_token=secrets.token_urlsafe(24), claim_expires_at=expires)
        )
    with op.batch_alter_table("custom_domains", table_kwargs=AUTOINCREMENT) as batch:
        batch.drop_constraint(op.f("uq_custom_domains_full_url"), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_custom_domains_business_id_full_url"), ["business_id", "full_url"]
        )
        batch.create_check_constraint(
            op.f("ck_custom_domains_claim_has_token"),
            sa.text("is_verified OR verification_token IS NOT NULL"),
        )
        batch.create_index(op.f("ix_custom_domains_full_url"), ["full_url"], unique=False)
        batch.create_index(
            op.f("ix_custom_domains_claim_expires_at"), ["claim_expires_at"], unique=False
        )
    # Outside the batch: SQLite's rebuild would not carry the index's WHERE clause over.
    op.create_index(
        VERIFIED_NAME_INDEX,
        "custom_domains",
        ["full_url"],
        unique=True,
        postgresql_where=sa.text("is_verified"),
        sqlite_where=sa.text("is_verified"),
    )


def downgrade() -> None:
    op.drop_index(VERIFIED_NAME_INDEX, table_name="custom_domains")
    # One business per name again: the verified holder, else the oldest claim, keeps it.
    op.execute(
        "DELETE FROM custom_domains WHERE EXISTS (SELECT 1 FROM custom_domains AS other "
        "WHERE other.full_url = custom_domains.full_url AND other.id <> custom_domains.id "
        "AND (other.is_verified AND NOT custom_domains.is_verified "
        "OR other.is_verified = custom_domains.is_verified AND other.id < custom_domains.id))"
    )
    with op.batch_alter_table("custom_domains", table_kwargs=AUTOINCREMENT) as batch:
        batch.drop_index(op.f("ix_custom_domains_claim_expires_at"))
        batch.drop_index(op.f("ix_custom_domains_full_url"))
        batch.drop_constraint(op.f("ck_custom_domains_claim_has_token"), type_="check")
        batch.drop_constraint(op.f("uq_custom_domains_business_id_full_url"), type_="unique")
        batch.create_unique_constraint(op.f("uq_custom_domains_full_url"), ["full_url"])
        batch.drop_column("claim_expires_at")
        batch.drop_column("verification_token")
