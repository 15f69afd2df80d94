"""One SQL, several engines (issue 11): the fact queries of store/sql/ over the exported Parquet lake.

The .sql files are written once in DuckDB's dialect; sqlglot transpiles them for Athena (Trino) and Spark
(https://sqlglot.com/sqlglot.html). Parameters ($sid, $a, $b) stay named for DuckDB; the other engines get them
as integer literals (`render_query`), so no text is ever pasted into SQL.
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp

from ecrwise.store.queries import sql_text

DIALECTS = {"duckdb": "duckdb", "athena": "athena", "spark": "spark"}
ATHENA_DATABASE = "ecrwise"  # as athena.sql's CREATE EXTERNAL TABLE names the tables


@cache
def _parsed(name: str) -> exp.Expression:
    return sqlglot.parse_one(sql_text(name), read="duckdb")


def parameters(name: str) -> list[str]:
    return sorted({p.name for p in _parsed(name).find_all(exp.Placeholder)})


def _qualified(tree: exp.Expression, dialect: str) -> exp.Expression:
    if dialect != "athena":
        return tree
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}

    def qualify(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and not node.args.get("db") and node.name not in ctes:
            node.set("db", exp.to_identifier(ATHENA_DATABASE))
        return node
    return tree.transform(qualify)


def render_query(name: str, dialect: str, params: Mapping[str, int] | None = None) -> str:
    """store/sql/<name>.sql in `dialect` (duckdb, athena, spark). With `params`, every parameter becomes an
    integer literal (ints only: a str or bool is refused); without, the placeholders stay (:sid / $sid)."""
    if dialect not in DIALECTS:
        raise ValueError(f"dialect {dialect!r}: one of {', '.join(DIALECTS)}")
    tree = _qualified(_parsed(name).copy(), dialect)
    if params is not None:
        want = set(parameters(name))
        if set(params) != want:
            raise ValueError(f"{name}: parameters {sorted(want)}, given {sorted(params)}")
        for k, v in params.items():
            if type(v) is not int:  # bool is an int subclass; refuse it and everything else
                raise TypeError(f"{name}: parameter {k} must be an int, not {type(v).__name__}")
        tree = tree.transform(lambda n: exp.Literal.number(params[n.name]) if isinstance(n, exp.Placeholder) else n)
    return tree.sql(dialect=DIALECTS[dialect], pretty=True)


def _header(name: str, dialect: str) -> str:
    first = [ln[3:] for ln in sql_text(name).splitlines() if ln.startswith("-- ")][:2]
    params = ", ".join(parameters(name))
    if dialect == "duckdb":
        how = (f"Parameters ({params}) are DuckDB named parameters: con.execute(text, {{'sid': 3}}). Tables are "
               "plain names: views over DIR/TABLE/**/*.parquet (ecrwise.store.lake.lake_connection(DIR)).")
    elif dialect == "athena":
        how = (f"Parameters ({params}) appear as :name; replace each with an integer literal before running "
               "(ecrwise.store.lake.render_query(name, 'athena', {...}) does it). Tables are ecrwise.TABLE, "
               "as athena.sql creates them.")
    else:
        how = (f"Parameters ({params}) appear as :name: spark.sql(text, args={{'sid': 3}}) binds them, or "
               "render_query(name, 'spark', {...}) writes integer literals. Tables are plain names: temporary "
               "views over DIR/TABLE (spark.read.parquet, partition type inference off so account stays a string).")
    return "\n".join([(f"-- ecrwise fact query `{name}` for {dialect}, transpiled by sqlglot from "
                      f"store/sql/{name}.sql."), *[f"-- {t}" for t in first], f"-- {how}", "", ""])


def write_queries(out: Path) -> list[Path]:
    """DIR/queries/<dialect>/<name>.sql for every fact query and dialect."""
    from ecrwise.store.queries import query_names

    written = []
    for dialect in DIALECTS:
        (out / "queries" / dialect).mkdir(parents=True, exist_ok=True)
        for name in query_names():
            body = sql_text(name) if dialect == "duckdb" else render_query(name, dialect) + "\n"
            path = out / "queries" / dialect / f"{name}.sql"
            path.write_text(_header(name, dialect) + body, encoding="utf-8")
            written.append(path)
    return written


def lake_connection(directory: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a view per exported table over DIR/TABLE/**/*.parquet; the partition columns
    come back as strings (an account id keeps its leading zeros)."""
    from ecrwise.store.files import DUCKDB_CONFIG, SESSION_SETUP

    con = duckdb.connect(config=DUCKDB_CONFIG)
    con.execute(SESSION_SETUP)
    for table in sorted(p for p in Path(directory).iterdir() if p.is_dir() and p.name != "queries"):
        if not any(table.rglob("*.parquet")):
            continue
        glob = str(table / "**" / "*.parquet").replace("'", "''")
        # No type guessing of partition values: they stay VARCHAR, as athena.sql declares them.
        con.execute(f'CREATE VIEW "{table.name}" AS SELECT * FROM read_parquet(\'{glob}\', hive_partitioning = 1, '
                    "hive_types_autocast = false, union_by_name = true)")
    return con


def lake_facts(con: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, int],
               classes: list[type]) -> list[tuple]:
    """The rows of fact `name` over a lake connection, as Store.facts gives them over the store."""
    from ecrwise.store.queries import bind_tables

    return con.execute(bind_tables(con, sql_text(name), classes), dict(params)).fetchall()
