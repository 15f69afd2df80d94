"""`ecrwise export --parquet DIR`: the store's snapshot tables as Parquet, hive-partitioned, so the same SQL
runs in DuckDB on a laptop and in Athena, Trino or Spark over S3.

Layout: `DIR/TABLE/snapshot_date=YYYY-MM-DD/account=ID/region=NAME/snapshot-ID-N.parquet`; tables without
account or region columns are partitioned by what they have (`snapshots` by date only). Partition columns
live in the paths, not in the files (as Hive, Athena and Spark expect), and every row keeps its
`snapshot_id`. One COPY per table and snapshot, each writing files named after its snapshot: exporting a
snapshot again replaces its files and leaves other snapshots' alone. The store is opened read-only.

Also written: `DIR/athena.sql`, the `CREATE EXTERNAL TABLE` statements for every exported table, typed from
the store's own column types, and `DIR/queries/{duckdb,athena,spark}/NAME.sql`, the fact queries of
store/sql/ transpiled for each engine by sqlglot (store/lake.py). Every file also has a `rowid` column, the
store's row order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from ecrwise.errors import UserError

PARTITION_CANDIDATES = ("account", "region")
_ATHENA_TYPES = {"VARCHAR": "string", "BIGINT": "bigint", "INTEGER": "int", "DOUBLE": "double", "BOOLEAN": "boolean",
                 "TIMESTAMP": "timestamp", "DATE": "date", "JSON": "string", "FLOAT": "float", "SMALLINT": "smallint"}


@dataclass
class TableExport:
    table: str
    rows: int
    partition_by: list[str]
    files: int
    path: Path
    columns: list[tuple[str, str]] = field(default_factory=list)  # (name, DuckDB type) of the files


@dataclass
class ExportResult:
    directory: Path
    snapshots: list[int]
    tables: list[TableExport]
    athena_sql: Path


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def athena_type(duck: str) -> str:
    duck = duck.upper()
    if duck.endswith("[]"):
        return f"array<{athena_type(duck[:-2])}>"
    return _ATHENA_TYPES.get(duck, "string")


def snapshot_tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """Every table with a snapshot_id column, and the snapshots table: name → [(column, type)]."""
    rows = con.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                       "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position").fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, dtype in rows:
        tables.setdefault(table, []).append((column, dtype))
    return {t: cols for t, cols in sorted(tables.items())
            if t == "snapshots" or any(c == "snapshot_id" for c, _ in cols)}


def export_parquet(con: duckdb.DuckDBPyConnection, out: Path, snapshot_id: int | None = None, *,
                   location: str = "s3://BUCKET/PREFIX") -> ExportResult:
    """Write every snapshot table (of one snapshot, or all complete ones) under `out`."""
    ids = [r[0] for r in con.execute("SELECT id FROM snapshots WHERE complete ORDER BY id").fetchall()]
    if snapshot_id is not None:
        if snapshot_id not in ids:
            raise UserError(f"--snapshot {snapshot_id}: no such snapshot (snapshots: "
                            f"{', '.join(str(i) for i in ids[-10:]) or 'none'})")
        ids = [snapshot_id]
    if not ids:
        raise UserError("the store has no snapshot yet; run `ecrwise scan` first")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--parquet {out}: cannot create the directory: {e.strerror or e}") from None
    exports = []
    for table, cols in snapshot_tables(con).items():
        names = {c for c, _ in cols}
        parts = ["snapshot_date"] + [c for c in PARTITION_CANDIDATES if c in names]
        (out / table).mkdir(exist_ok=True)
        if table == "snapshots":
            base = ("SELECT s.rowid AS rowid, s.*, CAST(s.taken_at AS DATE) AS snapshot_date FROM snapshots s "
                    "WHERE s.complete")
            id_col = "s.id"
        else:
            # rowid too: the store's row order, which a fact query may order by (store/sql/repository_facts.sql).
            base = (f"SELECT t.rowid AS rowid, t.*, CAST(s.taken_at AS DATE) AS snapshot_date FROM {_ident(table)} t "
                    f"JOIN snapshots s ON s.id = t.snapshot_id WHERE s.complete")
            id_col = "t.snapshot_id"
        rows = files = 0
        for sid in ids:
            query = f"{base} AND {id_col} = {int(sid)}"
            n = con.execute(f"SELECT count(*) FROM ({query})").fetchone()[0]
            if not n:
                continue
            con.execute(f"COPY ({query}) TO {_sql_string(str(out / table))} (FORMAT PARQUET, "
                        f"PARTITION_BY ({', '.join(parts)}), OVERWRITE_OR_IGNORE, "
                        f"FILENAME_PATTERN {_sql_string(f'snapshot-{int(sid)}-{{i}}')})")
            rows += n
            files += len(list((out / table).rglob(f"snapshot-{int(sid)}-*.parquet")))
        # The files hold every column but the partition ones (snapshot_date is derived, never a column).
        exports.append(TableExport(table, rows, parts, files, out / table,
                                   [("rowid", "BIGINT")] + [(c, t) for c, t in cols if c not in parts]))
    sql = athena_ddl(exports, location)
    path = out / "athena.sql"
    path.write_text(sql, encoding="utf-8")
    from ecrwise.store.lake import write_queries

    write_queries(out)
    return ExportResult(out, ids, exports, path)


def athena_ddl(exports: list[TableExport], location: str = "s3://BUCKET/PREFIX",
               tables: tuple[str, ...] | None = None) -> str:
    """CREATE EXTERNAL TABLE for each export (or the named ones), partitions typed as strings (the path
    segments), then MSCK REPAIR TABLE to load the partitions that exist."""
    out = ["-- Athena (Hive DDL) definitions for `ecrwise export --parquet`. Upload the export directory to",
           f"-- {location}/ (e.g. aws s3 sync DIR {location}/), then run these statements.", "",
           "CREATE DATABASE IF NOT EXISTS ecrwise;", ""]
    for e in exports:
        if tables is not None and e.table not in tables:
            continue
        cols = ",\n".join(f"  `{c}` {athena_type(t)}" for c, t in e.columns)
        parts = ", ".join(f"`{p}` string" for p in e.partition_by)
        out += [f"CREATE EXTERNAL TABLE IF NOT EXISTS ecrwise.{e.table} (", cols, ")",
                f"PARTITIONED BY ({parts})", "STORED AS PARQUET",
                f"LOCATION '{location}/{e.table}/';", f"MSCK REPAIR TABLE ecrwise.{e.table};", ""]
    return "\n".join(out)


def export_summary(r: ExportResult) -> dict[str, Any]:
    return {"directory": str(r.directory), "snapshots": r.snapshots, "athena_sql": str(r.athena_sql),
            "queries": str(r.directory / "queries"),
            "tables": len(r.tables), "rows": sum(t.rows for t in r.tables), "files": sum(t.files for t in r.tables)}


# -- the renderer layer's view -------------------------------------------------------------------------------

def result(r: ExportResult, out: Path) -> Any:
    from ecrwise.report.render import Result

    items = [{"table": t.table, "rows": t.rows, "files": t.files, "partition_by": t.partition_by,
              "path": str(t.path)} for t in r.tables]
    return Result("export", items, export_summary(r), [], {"snapshots": r.snapshots},
                  f"Exported snapshot(s) {', '.join(str(s) for s in r.snapshots)} to {out}", data=r)


def _table(res: Any) -> None:
    from ecrwise.report.output import Column, rich_table, stdout_console
    from ecrwise.report.sanitize import text

    console = stdout_console()
    console.print(rich_table(res.title, [
        Column("table", "table"), Column("rows", "rows", lambda n: f"{n:,}", "right"),
        Column("files", "files", str, "right"), Column("partition_by", "partitioned by", ", ".join)],
        [i for i in res.items if i["rows"]]))
    s = res.totals
    console.print(text(f"{s['rows']:,} rows in {s['files']} Parquet files · Athena table definitions: "
                         f"{res.data.athena_sql} · the fact queries per engine: "
                         f"{res.data.directory / 'queries'}"), highlight=False, markup=False)


def _register() -> None:
    from ecrwise.report.render import View, view

    view(View("export", table=_table, csv_columns=("table", "rows", "files", "partition_by", "path")))


_register()
