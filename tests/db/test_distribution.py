"""Past one primary: the schema against a Citus-style distribution on the owner business.

docs/capacity.md names, in two fenced blocks, each table's role (a reference table, copied
to every node, or distributed by the column that holds its owner business's id) and the
schema changes that distribution still needs. This test computes those changes from the
schema (``db/tables.py``) and asserts that they are exactly the documented ones: a new
table, key or foreign key that breaks the distribution (or a change that fixes one) fails
here until the document says so.

The rules are Citus's: a distributed table's primary and unique keys include its
distribution column; a foreign key between distributed tables includes both distribution
columns (the rows live on the same node); a distributed table may reference a reference
table; a reference table may reference only reference tables.
"""

import re
from pathlib import Path

from sqlalchemy import ForeignKeyConstraint, PrimaryKeyConstraint, Table, UniqueConstraint

from product_partners.db.tables import metadata

DOC = Path(__file__).resolve().parents[2] / "docs" / "capacity.md"
REFERENCE = "reference"


def _block(name: str) -> list[str]:
    match = re.search(rf"```{name}\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert match, f"docs/capacity.md has no ```{name} block"
    return [line.strip() for line in match.group(1).splitlines() if line.strip()]


def documented_roles() -> dict[str, str]:
    """table -> ``reference`` or its distribution column, from the ```distribution block."""
    roles = {}
    for line in _block("distribution"):
        table, _, role = line.partition(":")
        role = role.strip()
        roles[table.strip()] = REFERENCE if role == REFERENCE else role.removeprefix("by ")
    return roles


def _keys(table: Table) -> list[tuple[str, list[str]]]:
    found = []
    for constraint in table.constraints:
        if isinstance(constraint, PrimaryKeyConstraint):
            found.append(("primary key", [c.name for c in constraint.columns]))
        elif isinstance(constraint, UniqueConstraint):
            found.append(("unique", [c.name for c in constraint.columns]))
    found += [("unique index", [c.name for c in i.columns]) for i in table.indexes if i.unique]
    return found


def needed_changes(roles: dict[str, str]) -> set[str]:
    """What the schema lacks for the distribution ``roles``, one line per fact."""
    changes = set()
    for table in metadata.sorted_tables:
        role = roles.get(table.name)
        if role is None:
            changes.add(f"{table.name}: not classified")
            continue
        for fk in table.constraints:
            if not isinstance(fk, ForeignKeyConstraint):
                continue
            target = fk.referred_table.name
            target_role = roles.get(target)
            local = [c.name for c in fk.columns]
            remote = [e.column.name for e in fk.elements]
            if role == REFERENCE:
                if target_role != REFERENCE:
                    changes.add(f"{table.name}: reference table, foreign key to {target}")
                continue
            if target_role == REFERENCE:
                continue
            if dict(zip(local, remote, strict=True)).get(role) != target_role:
                changes.add(
                    f"{table.name}: foreign key ({', '.join(local)}) -> {target} "
                    f"({', '.join(remote)}) lacks {role} -> {target_role}"
                )
        if role == REFERENCE:
            continue
        if role not in table.c:
            changes.add(f"{table.name}: no column {role}")
        for kind, columns in _keys(table):
            if role not in columns:
                changes.add(f"{table.name}: {kind} ({', '.join(columns)}) lacks {role}")
    return changes


def test_every_table_has_a_documented_role() -> None:
    roles = documented_roles()
    assert set(roles) == set(metadata.tables), "docs/capacity.md: classify every table"
    assert REFERENCE in roles.values() and set(roles.values()) - {REFERENCE}


def test_the_documented_changes_are_exactly_what_the_schema_lacks() -> None:
    assert needed_changes(documented_roles()) == set(_block("changes"))


def test_the_check_sees_a_key_without_the_owner() -> None:
    """The rules can fail: partner_consents is keyed by its owner, products is not."""
    roles = documented_roles()
    assert not any(c.startswith("partner_consents:") for c in needed_changes(roles))
    assert "products: primary key (id) lacks business_id" in needed_changes(roles)
    as_reference = {**roles, "api_keys": "business_id"}
    assert "api_keys: unique (prefix) lacks business_id" in needed_changes(as_reference)
    assert "stores: reference table, foreign key to products" not in needed_changes(roles)
    wrong = {**roles, "stores": REFERENCE, "custom_domains": "business_id"}
    assert "stores: reference table, foreign key to custom_domains" in needed_changes(wrong)
