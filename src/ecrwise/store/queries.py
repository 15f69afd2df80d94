"""The analyses' facts as SQL over the snapshot tables (issue 11): each query is a .sql file in store/sql/,
written once, run here on DuckDB over the store (and, exported, over the Parquet lake and by Athena/Spark).

A query names tables by the record classes' `__table__`; a table a snapshot's scan never created (a scan
`--only` some families) reads as empty, exactly as `Store.load` returns no records for it."""
from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import duckdb

SQL_DIR = Path(__file__).with_name("sql")


@cache
def sql_text(name: str) -> str:
    """The text of store/sql/<name>.sql."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def query_names() -> list[str]:
    return sorted(p.stem for p in SQL_DIR.glob("*.sql"))


def _relation(cls: type, have: set[str] | None) -> str | None:
    """What a query reads for `cls`'s table: None for the table itself; an empty relation of its schema when the
    store lacks it; the table with NULL columns added for fields newer than it (an older store: `Store.load`
    reads those as the fields' defaults, the queries coalesce them)."""
    from ecrwise.store import _columns  # the store's own column mapping, so the relation has the real schema

    cols = _columns(cls)
    if have is None:
        typed = ", ".join(f'CAST(NULL AS {sql}) AS "{n}"' for n, _, sql in cols)
        # rowid too: a query may order by the order rows were stored in.
        return f"(SELECT CAST(NULL AS BIGINT) AS rowid, CAST(NULL AS BIGINT) AS snapshot_id, {typed} LIMIT 0)"
    missing = [(n, sql) for n, _, sql in cols if n not in have]
    if not missing:
        return None
    added = ", ".join(f'CAST(NULL AS {sql}) AS "{n}"' for n, sql in missing)
    # A store's table has rowid as a pseudo-column; an exported lake has it as a column of its own, in `*`.
    rowid = "" if "rowid" in have else "rowid, "
    return f'(SELECT {rowid}*, {added} FROM "{cls.__table__}")'


_KEYWORDS = {"WHERE", "GROUP", "ORDER", "LEFT", "RIGHT", "INNER", "JOIN", "ON", "USING", "LIMIT", "UNION",
             "HAVING", "WINDOW", "QUALIFY", "CROSS", "FULL", "AS"}


def bind_tables(con: duckdb.DuckDBPyConnection, text: str, classes: list[type]) -> str:
    """`text` with every table of `classes` the store lacks replaced by an empty relation of its schema, and
    every table older than its record class by one with the newer columns as NULL (after FROM or JOIN)."""
    columns: dict[str, set[str]] = {}
    for table, column in con.execute("SELECT table_name, column_name FROM duckdb_columns() "
                                     "WHERE schema_name = 'main'").fetchall():
        columns.setdefault(table, set()).add(column)
    for cls in classes:
        relation = _relation(cls, columns.get(cls.__table__))
        if relation is None:
            continue

        def swap(m: re.Match[str]) -> str:
            alias = m.group(3)
            keep_name = alias is None or alias.upper() in _KEYWORDS  # no alias of its own: keep the table's name
            return f"{m.group(1)} {relation} {'AS ' + cls.__table__ if keep_name else ''}{m.group(2)}"

        text = re.sub(rf"\b(FROM|JOIN)\s+{cls.__table__}\b(\s*(\w+)?)", swap, text)
    return text

