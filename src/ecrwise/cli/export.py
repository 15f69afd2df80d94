"""`ecrwise export --parquet DIR`: every snapshot table as hive-partitioned Parquet, plus Athena table
definitions. Thin: opens the store read-only and calls `report.export`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ecrwise.cli.common import Fmt, FormatOpt, StoreOpt, open_store
from ecrwise.errors import UserError

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
    from ecrwise.report import export as export_view
    from ecrwise.report.export import export_parquet
    from ecrwise.report.render import render

    if parquet is None:
        raise UserError("export: give --parquet DIR")
    with open_store(store) as st:
        result = export_parquet(st.con, parquet, snapshot, location=location.rstrip("/"))
    render(export_view.result(result, parquet), fmt)
