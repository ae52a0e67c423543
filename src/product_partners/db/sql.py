"""Statement pieces every repository uses: inserts that let the unique constraint decide, and
LIKE patterns that match text literally."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.kit.text import contains_pattern


def insert_or_nothing(conn: AsyncConnection, table: Any, *conflict_columns: Any) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the connection's database.

    With ``RETURNING``, an empty result means the row already existed: the database's unique
    constraint, not a prior SELECT, decides, so two concurrent inserts cannot both win.
    """
    from sqlalchemy.dialects import postgresql, sqlite

    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = module.insert(table)
    if conflict_columns:
        return stmt.on_conflict_do_nothing(index_elements=list(conflict_columns))
    return stmt.on_conflict_do_nothing()


def name_contains(column: Any, text: str) -> Any:
    """``column`` contains ``text`` (case-insensitive), its wildcards taken literally."""
    return column.ilike(contains_pattern(text), escape="\\")
