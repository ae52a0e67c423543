"""webhook deliveries fanned out from the event log by the worker, not written by each change

- ``events.txid``: on PostgreSQL the writing transaction's id (``DEFAULT
  pg_current_xact_id()``), so that the fan-out reads the log in (txid, id) order and only
  below the oldest transaction still running: ids are drawn before commit, so they commit out
  of order, but no transaction below that horizon can still commit. NULL on SQLite (one writer
  at a time: ids commit in order) and for the events logged before this migration, whose
  deliveries their own transaction already wrote.
- ``webhook_fanout``: the one row saying how far the fan-out has read, starting after the last
  event logged before this migration.

While processes of the previous version still run (a rolling upgrade), their events are both
fanned out by their own transaction and by the worker: at least once, as always (receivers
deduplicate on ``webhook-id``). A downgrade leaves events not yet fanned out undelivered (use
``replayWebhookEndpoint``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("(CURRENT_TIMESTAMP)")


def upgrade() -> None:
    # Added without a default (no table rewrite; the existing rows stay NULL), then the
    # default that every later insert takes.
    op.add_column("events", sa.Column("txid", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE events ALTER COLUMN txid SET DEFAULT pg_current_xact_id()::text::bigint"
        )
        # Without blocking the writes that record events while a large log is indexed.
        with op.get_context().autocommit_block():
            op.create_index(
                "ix_events_txid_id", "events", ["txid", "id"], postgresql_concurrently=True
            )
    else:
        op.create_index("ix_events_txid_id", "events", ["txid", "id"])
    op.create_table(
        "webhook_fanout",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_txid", sa.BigInteger(), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_webhook_fanout_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_fanout")),
    )
    op.execute(
        "INSERT INTO webhook_fanout (id, last_txid, last_event_id)"
        " SELECT 1, 0, COALESCE(MAX(id), 0) FROM events"
    )


def downgrade() -> None:
    op.drop_table("webhook_fanout")
    op.drop_index("ix_events_txid_id", table_name="events")
    with op.batch_alter_table("events", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("txid")
