"""The database: engine and connections, prepared statements, PgBouncer, faults and
outages; the schema (``tables``) and its migrations."""
