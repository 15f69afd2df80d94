"""`ecrwise export --parquet DIR`: every snapshot table as hive-partitioned Parquet, plus Athena table
definitions. Thin: opens the store read-only and calls `report.export`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ecrwise.cli.common import Fmt, FormatOpt, StoreOpt, open_store
from ecrwise.errors import UserError
from ecrwise.report.output import Column, dump_json, envelope, rich_table, stdout_console

app = typer.Typer(help="Export the snapshot tables as Parquet for DuckDB, Athena, Trino or Spark.",
                  invoke_without_command=True, no_args_is_help=False)


@app.callback(invoke_without_command=True)
def export(
    ctx: typer.Context,
    parquet: Optional[Path] = typer.Option(None, "--parquet", metavar="DIR",
                                           help="Write the tables as Parquet under DIR (hive-partitioned)."),
    snapshot: Optional[int] = typer.Option(None, "--snapshot", help="Only this snapshot (default: every one)."),
    location: str = typer.Option("s3://BUCKET/PREFIX", "--location",
                                 help="The S3 prefix athena.sql points its tables at."),
    store: Optional[Path] = StoreOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Export every snapshot table as Parquet partitioned by snapshot date, account and region."""
    if ctx.invoked_subcommand is not None:
        return
    from ecrwise.report.export import export_parquet, export_summary

    if parquet is None:
        raise UserError("export: give --parquet DIR")
    with open_store(store) as st:
        result = export_parquet(st.con, parquet, snapshot, location=location.rstrip("/"))
    items = [{"table": t.table, "rows": t.rows, "files": t.files, "partition_by": t.partition_by,
              "path": str(t.path)} for t in result.tables]
    if fmt is Fmt.json:
        dump_json(envelope("export", {"snapshots": result.snapshots}, items, export_summary(result), []))
        return
    console = stdout_console()
    console.print(rich_table(f"Exported snapshot(s) {', '.join(str(s) for s in result.snapshots)} to {parquet}", [
        Column("table", "table"), Column("rows", "rows", lambda n: f"{n:,}", "right"),
        Column("files", "files", str, "right"), Column("partition_by", "partitioned by", ", ".join)],
        [i for i in items if i["rows"]]))
    s = export_summary(result)
    console.print(f"{s['rows']:,} rows in {s['files']} Parquet files · Athena table definitions: {result.athena_sql}",
                  highlight=False)
