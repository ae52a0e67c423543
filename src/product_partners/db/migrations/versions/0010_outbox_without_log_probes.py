"""the outbox and the delivery log without foreign keys to the logs they follow

``webhook_deliveries.event_id -> events`` and ``webhook_attempts.delivery_id ->
webhook_deliveries`` are dropped. Each child row is written by the statement or the
transaction that holds its parent (an event's outbox rows by the event's own statement, an
attempt by the worker that leased the delivery), and nothing deletes an event or a delivery
but an endpoint's deletion, which reaches both children through their ``endpoint_id``.

What the keys cost: PostgreSQL checks a foreign key with a statement that each connection
plans once and keeps. Planned while the parent log was small (a fresh install, or anywhere
the log has not been analysed since), it reads the log from start to end, and it kept doing so
on that pooled connection as the log grew: every add-partner with a subscribed endpoint read
every event (3.5 ms a write after 15,000 events, measured), and each delivery attempt read
every delivery.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUTOINCREMENT = {"sqlite_autoincrement": True}  # SQLite rebuilds the table (see 0008)

DROPPED = (
    ("webhook_deliveries", "fk_webhook_deliveries_event_id_events", "events", "event_id"),
    (
        "webhook_attempts",
        "fk_webhook_attempts_delivery_id_webhook_deliveries",
        "webhook_deliveries",
        "delivery_id",
    ),
)


def upgrade() -> None:
    for table, name, _parent, _column in DROPPED:
        with op.batch_alter_table(table, table_kwargs=AUTOINCREMENT) as batch:
            batch.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    for table, name, parent, column in reversed(DROPPED):
        ondelete = "CASCADE" if table == "webhook_attempts" else None
        with op.batch_alter_table(table, table_kwargs=AUTOINCREMENT) as batch:
            batch.create_foreign_key(name, parent, [column], ["id"], ondelete=ondelete)
