"""SQLite: ids are never reused (AUTOINCREMENT on every table whose ids leave the service)

Without AUTOINCREMENT, SQLite gives the next insert the largest id in the table plus one, so
deleting the newest row hands its id (and, for a partnership, its version 1) to the next row:
an id, URL or If-Match a client kept would then name a different row. SQLite cannot add
AUTOINCREMENT to an existing table, so each table is rebuilt (Alembic's batch mode: new table,
rows copied, old table dropped, new one renamed). PostgreSQL's sequences never go back:
nothing to do there.

Rebuilding drops the old tables; env.py turns SQLite's foreign keys off for the migration so
that the drop does not cascade to the rows that reference them, and checks them afterwards.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 21:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Parents before children, so that each copy finds the rows it references.
TABLES = (
    "businesses",
    "api_keys",
    "custom_domains",
    "stores",
    "products",
    "bundles",
    "product_partners",
    "bundle_partners",
)


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)
