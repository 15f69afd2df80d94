"""The analyses' facts as SQL over the snapshot tables (issue 11): each query is a .sql file in store/sql/,
written once, run here on DuckDB over the store (and, exported, over the Parquet lake and by Athena/Spark).

A query names tables by the record classes' `__table__`; a table a snapshot's scan never created (a scan
`--only` some families) reads as empty, exactly as `Store.load` returns no records for it."""
from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

SQL_DIR = Path(__file__).with_name("sql")


@cache
def sql_text(name: str) -> str:
    """The text of store/sql/<name>.sql."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def query_names() -> list[str]:
    return sorted(p.stem for p in SQL_DIR.glob("*.sql"))


def _empty_table(cls: type) -> str:
    from ecrwise.store import _columns  # the store's own column mapping, so an empty table has the real schema

    cols = ", ".join(f'CAST(NULL AS {sql}) AS "{n}"' for n, _, sql in _columns(cls))
    # rowid too: a query may order by the order rows were stored in.
    return f"(SELECT CAST(NULL AS BIGINT) AS rowid, CAST(NULL AS BIGINT) AS snapshot_id, {cols} LIMIT 0)"


def bind_tables(con: duckdb.DuckDBPyConnection, text: str, classes: list[type]) -> str:
    """`text` with every table of `classes` the store lacks replaced by an empty relation of its schema."""
    present = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    for cls in classes:
        if cls.__table__ not in present:
            text = re.sub(rf"\bFROM {cls.__table__}\b", f"FROM {_empty_table(cls)} AS {cls.__table__}", text)
    return text


def run(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any], classes: list[type]) -> list[tuple]:
    return con.execute(bind_tables(con, sql_text(name), classes), params).fetchall()
