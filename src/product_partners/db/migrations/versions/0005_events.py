"""events: the append-only event log, webhook endpoints, their outbox and delivery log

- ``events``: one row per change, written in the change's transaction (events/service.py).
- ``webhook_endpoints``: a business's receivers, their subscribed types and signing secrets.
- ``webhook_deliveries``: the outbox, one row per (event, endpoint), claimed with a lease.
- ``webhook_attempts``: one row per delivery attempt.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
AUTOINCREMENT = {"sqlite_autoincrement": True}
NOW = sa.text("(CURRENT_TIMESTAMP)")


def _id() -> sa.Column:
    return sa.Column("id", Id, autoincrement=True, nullable=False)


def _at(name: str, nullable: bool = True, default: bool = False) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=NOW if default else None,
    )


def upgrade() -> None:
    op.create_table(
        "events",
        _id(),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        _at("occurred_at", nullable=False),
        sa.Column("actor_type", sa.String(16), nullable=False),
        sa.Column("actor_business_id", Id, nullable=True),
        sa.Column("actor_api_key_id", Id, nullable=True),
        sa.Column("actor_user_id", Id, nullable=True),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("resource_id", Id, nullable=False),
        sa.Column("product_id", Id, nullable=True),
        sa.Column("from_status", sa.String(32), nullable=True),
        sa.Column("to_status", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("owner_business_id", Id, nullable=True),
        sa.Column("partner_business_id", Id, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("public_id", name=op.f("uq_events_public_id")),
        **AUTOINCREMENT,
    )
    op.create_index("ix_events_owner_business_id_id", "events", ["owner_business_id", "id"])
    op.create_index("ix_events_partner_business_id_id", "events", ["partner_business_id", "id"])
    op.create_index(
        "ix_events_resource_type_resource_id_id",
        "events",
        ["resource_type", "resource_id", "id"],
    )

    op.create_table(
        "webhook_endpoints",
        _id(),
        sa.Column("business_id", Id, nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("event_types", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("disabled_reason", sa.String(64), nullable=True),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("previous_secret", sa.String(64), nullable=True),
        _at("previous_secret_expires_at"),
        _at("failing_since"),
        _at("created_at", nullable=False, default=True),
        _at("updated_at", nullable=False, default=True),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_webhook_endpoints_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
        **AUTOINCREMENT,
    )
    op.create_index(
        "ix_webhook_endpoints_business_id_id", "webhook_endpoints", ["business_id", "id"]
    )

    op.create_table(
        "webhook_deliveries",
        _id(),
        sa.Column("event_id", Id, nullable=False),
        sa.Column("endpoint_id", Id, nullable=False),
        sa.Column("status", sa.String(16), server_default=sa.text("'scheduled'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _at("next_attempt_at", nullable=False),
        _at("lease_until"),
        sa.Column("lease_token", sa.String(32), nullable=True),
        _at("delivered_at"),
        _at("created_at", nullable=False, default=True),
        sa.CheckConstraint(
            "status IN ('scheduled', 'delivered', 'failed')",
            name=op.f("ck_webhook_deliveries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_webhook_deliveries_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        **AUTOINCREMENT,
    )
    op.create_index(
        "ix_webhook_deliveries_status_next_attempt_at",
        "webhook_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_index(
        "ix_webhook_deliveries_endpoint_id_id", "webhook_deliveries", ["endpoint_id", "id"]
    )

    op.create_table(
        "webhook_attempts",
        _id(),
        sa.Column("delivery_id", Id, nullable=False),
        sa.Column("endpoint_id", Id, nullable=False),
        sa.Column("event_id", Id, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        _at("attempted_at", nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _at("next_retry_at"),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_attempts_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
        **AUTOINCREMENT,
    )
    op.create_index("ix_webhook_attempts_endpoint_id_id", "webhook_attempts", ["endpoint_id", "id"])
    op.create_index("ix_webhook_attempts_delivery_id", "webhook_attempts", ["delivery_id"])


def downgrade() -> None:
    for table in ("webhook_attempts", "webhook_deliveries", "webhook_endpoints", "events"):
        op.drop_table(table)
