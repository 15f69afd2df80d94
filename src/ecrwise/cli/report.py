"""`ecrwise report --html FILE`: the self-contained HTML report. Thin: loads the snapshot and its history,
calls the analyses (findings, inventory, pulls, history) and `report.html` to render.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import typer

from ecrwise.cli.common import PriceFileOpt, SnapshotOpt, StoreOpt, open_store, prices
from ecrwise.errors import UserError
from ecrwise.pricing.book import PriceBook
from ecrwise.report import sanitize

app = typer.Typer(help="Write the self-contained HTML report.", invoke_without_command=True, no_args_is_help=False)


def write_report(store: Optional[Path], snapshot: Optional[int], out: Path, book: PriceBook, *,
                 top: int = 15) -> dict[str, Any]:
    """Render the report of one snapshot (and the history up to it) into `out`; returns its headline."""
    from ecrwise.analysis.ecs_checks import crash_loop_pulls
    from ecrwise.analysis.findings import collect, registry
    from ecrwise.analysis.facts import inventory as inventory_fact
    from ecrwise.analysis.inventory import sort_rows
    from ecrwise.cli.billing_feed import latest_reconciliation, savings_since_last_apply
    from ecrwise.cli.findings import check_options
    from ecrwise.cli.history import load_history
    from ecrwise.cli.snapshot_data import open_snapshot, snapshot_warnings
    from ecrwise.report import findings as fview
    from ecrwise.report import repos as rview
    from ecrwise.report.html import ReportInputs, report_result
    from ecrwise.report.render import render
    from ecrwise.report.pulls import report_totals, service_item

    with open_snapshot(store, snapshot) as (snap, records):
        options = check_options(now=snap.taken_at)
        result = collect(records, book, options)
        session = result.session
        assert session is not None
        # The inventory and pull runs the checks already made, in the findings' session.
        inv = session.fact_value(inventory_fact.fact)
        pulls = crash_loop_pulls(session)
        snapshot_warns = snapshot_warnings(snap, records)
    checks = registry()
    items = [fview.item(it, checks) for it in result.items]
    totals = fview.totals_json(result.totals())
    with open_store(store) as st:
        history = load_history(st, book, upto=snap.id, known={snap.id: inv})
        billed = latest_reconciliation(st, book)  # None until `billing import` has run
        saved = savings_since_last_apply(st) if billed else None
    inputs = ReportInputs(
        snapshot=snap.as_dict(), prices=book.describe(), findings=items, totals=totals,
        repositories=[rview.item(r) for r in sort_rows(inv.rows, "cost")], inventory_totals=rview.totals(inv),
        services=[service_item(s) for s in pulls.services], pulls_totals=report_totals(pulls), history=history,
        checks={c.id: c.title for c in checks.values()},
        warnings=snapshot_warns + result.warnings + inv.warnings + pulls.warnings,
        top=top, generated_at=datetime.now(timezone.utc),
        billing=None if billed is None else {"totals": billed[0].totals(),
                                             "rows": [r.as_dict() for r in billed[0].rows],
                                             "adjustments": billed[0].adjustments,
                                             "warnings": billed[1] + billed[0].warnings,
                                             "savings": saved})
    tmp = out.with_name(out.name + ".tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            render(report_result(inputs), "html", fh)
        size = tmp.stat().st_size
        os.replace(tmp, out)
    except OSError as e:
        raise UserError(f"--html {out}: cannot write: {e.strerror or e}") from None
    return {"path": str(out), "bytes": size, "findings": totals["findings"],
            "monthly_savings_usd": totals["monthly_savings_usd"],
            "monthly_storage_usd": inputs.inventory_totals["monthly_cost_usd"],
            "monthly_nat_pulls_usd": inputs.pulls_totals["nat_cost_usd_per_month"]}


@app.callback(invoke_without_command=True)
def report(
    ctx: typer.Context,
    html: Optional[Path] = typer.Option(None, "--html", metavar="FILE", help="Write the HTML report here."),
    top: int = typer.Option(15, "--top", min=1, help="Rows in the top-N charts."),
    snapshot: Optional[int] = SnapshotOpt,
    store: Optional[Path] = StoreOpt,
    price_file: Optional[Path] = PriceFileOpt,
) -> None:
    """One self-contained HTML file to mail: spend, savings, cost by repository, growth, pulls, findings."""
    if ctx.invoked_subcommand is not None:
        return
    if html is None:
        raise UserError("report: give --html FILE")
    head = write_report(store, snapshot, html, prices(price_file, store, announce=True), top=top)
    typer.echo(sanitize.line(f"wrote {head['path']} ({head['bytes']:,} bytes): {head['findings']} findings, "
                             f"${head['monthly_savings_usd']:,.2f}/month to save"))
