"""`ecrwise billing`: import AWS Data Exports, reconcile estimates with the bill, Cost Explorer trends,
realised savings. Thin: parses options, calls `ecrwise.billing` / `ecrwise.aws.cost_explorer` /
`ecrwise.aws.billing_s3`, and prints with one small output function per command."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any, Optional

import typer

from ecrwise.cli.common import Fmt, FormatOpt, PriceFileOpt, StoreOpt, open_store, prices, store_path
from ecrwise.errors import UserError
from ecrwise.report.output import (Column, dump_json, envelope, human_bytes, human_usd, print_warnings,
                                   rich_table, stdout_console)

app = typer.Typer(help="Import CUR 2.0 / FOCUS 1.2 exports, reconcile estimates with the bill, Cost Explorer "
                       "trends, realised savings.", no_args_is_help=True)

ProfileOpt = typer.Option(None, "--profile", envvar="AWS_PROFILE", help="AWS profile (S3 import, Cost Explorer).")
PeriodOpt = typer.Option(None, "--period", help="Billing period YYYY-MM (default: the latest imported).")


def _day(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{flag} {value}: not a date (YYYY-MM-DD)") from None


def _account(profile: Optional[str]):
    from ecrwise.aws.session import Account, base_session, caller_account

    session = base_session(profile)
    return Account(caller_account(session, "us-east-1"), session)


def _cache_dir(store: Optional[Path]) -> Path:
    return store_path(store).parent / "billing-cache"


# -- import ------------------------------------------------------------------------------------------------

@app.command("import")
def import_cmd(
    path: str = typer.Argument(..., help="Export folder, data file, Manifest.json, or s3://bucket/prefix."),
    profile: Optional[str] = ProfileOpt,
    store: Optional[Path] = StoreOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Import an export's relevant line items; a billing period re-imported replaces its old rows."""
    from ecrwise.billing.importer import import_export

    local: Path | str = path
    if path.startswith("s3://"):
        from ecrwise.aws.billing_s3 import download_export

        local = download_export(_account(profile), path, _cache_dir(store))
    with open_store(store, read_only=False) as s:
        result = import_export(s.con, local)
    _show_import(result, fmt)


def _show_import(result: Any, fmt: Fmt) -> None:
    items = [{"category": c, "rows": n} for c, n in result.rows_by_category.items()]
    if fmt is Fmt.json:
        dump_json(envelope("billing-import", None, items, result.as_dict(), result.warnings))
        return
    stdout_console().print(rich_table(
        f"Imported {result.source_format} {', '.join(result.periods) or '-'}: {result.rows_kept} line items kept",
        [Column("category", "category"), Column("rows", "line items", justify="right")], items))
    print_warnings(result.warnings)


# -- reconcile ---------------------------------------------------------------------------------------------

@app.command()
def reconcile(
    estimates: Optional[Path] = typer.Option(None, "--estimates", help="JSON file of estimates "
                                             "({storage, nat, endpoints}); see docs/billing.md."),
    period: Optional[str] = PeriodOpt,
    store: Optional[Path] = StoreOpt,
    price_file: Optional[Path] = PriceFileOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Billed versus estimated per repository, NAT gateway and endpoint; gaps in % and $, ranked."""
    from ecrwise.billing.inputs import load_estimates
    from ecrwise.billing.reconcile import reconcile as run

    kwargs = load_estimates(estimates) if estimates else {}
    with open_store(store, read_only=True) as s:  # the estimates go into temp tables, in memory
        rec = run(s.con, prices(price_file), period=period, **kwargs)
    _show_reconcile(rec, fmt)


def _show_reconcile(rec: Any, fmt: Fmt) -> None:
    items = [r.as_dict() for r in rec.rows]
    if fmt is Fmt.json:
        doc = envelope("billing-reconcile", None, items, rec.totals(), rec.warnings)
        doc["adjustments"] = rec.adjustments
        doc["usage_by_category"] = rec.usage_by_category
        dump_json(doc)
        return
    con = stdout_console()
    con.print(rich_table(f"Billed vs estimated, {rec.billing_period}", [
        Column("kind", "kind"), Column("account", "account"), Column("region", "region"),
        Column("resource", "resource"), Column("billed_bytes", "billed", human_bytes, "right"),
        Column("estimated_bytes", "estimated", human_bytes, "right"),
        Column("gap_bytes", "gap", human_bytes, "right"), Column("gap_pct", "gap %", lambda x: f"{x:+.1f}%", "right"),
        Column("gap_usd", "gap $", human_usd, "right"), Column("billed_usd", "billed $", human_usd, "right"),
        Column("note", "note")], items))
    con.print(rich_table("Free tier, credits, discounts, tax (apart from usage)", [
        Column("account", "account"), Column("kind", "kind"), Column("charge_type", "charge"),
        Column("category", "category"), Column("usage_amount", "usage", lambda x: f"{x:,.3f}", "right"),
        Column("cost_usd", "billed $", human_usd, "right"),
        Column("list_value_usd", "at list price", human_usd, "right")], rec.adjustments))
    print_warnings(rec.warnings)


# -- trend -------------------------------------------------------------------------------------------------

@app.command()
def trend(
    since: Optional[str] = typer.Option(None, "--since", help="First day (default: 30 days ago)."),
    until: Optional[str] = typer.Option(None, "--until", help="Day after the last (default: today)."),
    spike_k: float = typer.Option(3.0, "--spike-k", min=1.0, help="A day is an anomaly above k × the rolling median."),
    spike_window: int = typer.Option(7, "--spike-window", min=1, help="Days in the rolling median."),
    min_spike_usd: float = typer.Option(1.0, "--min-spike-usd", min=0.0,
                                        help="Over a zero median, a day must cost more than this."),
    profile: Optional[str] = ProfileOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Daily cost per usage type (ECR, NAT gateway, VPC endpoints, public IPv4) from Cost Explorer, anomaly days
    flagged."""
    from ecrwise.aws.cost_explorer import daily_cost_pages
    from ecrwise.billing.trend import parse_cost_and_usage, trends

    end = _day(until, "--until") if until else date.today()
    start = _day(since, "--since") if since else end - timedelta(days=30)
    pages = daily_cost_pages(_account(profile), start, end)
    out = trends(parse_cost_and_usage(pages), k=spike_k, window=spike_window, min_spike_usd=min_spike_usd)
    _show_trend(out, start, end, fmt)


def _show_trend(out: list[Any], start: date, end: date, fmt: Fmt) -> None:
    items = [t.as_dict() for t in out]
    anomalies = [a.as_dict() for t in out for a in t.anomalies]
    totals = {"since": start, "until": end, "usage_types": len(out), "anomaly_days": len(anomalies),
              "total_usd": round(sum(t.total_usd for t in out), 2)}
    if fmt is Fmt.json:
        dump_json(envelope("billing-trend", None, items, totals, []))
        return
    con = stdout_console()
    con.print(rich_table(f"Cost per usage type, {start} to {end}", [
        Column("usage_type", "usage type"), Column("category", "category"),
        Column("total_usd", "total $", human_usd, "right"),
        Column("anomalies", "anomaly days", lambda a: ", ".join(str(x["day"]) for x in a) or "-")], items))
    if anomalies:
        con.print(rich_table("Anomaly days", [
            Column("day", "day"), Column("usage_type", "usage type"), Column("cost_usd", "cost $", human_usd, "right"),
            Column("median_usd", "median $", human_usd, "right"), Column("excess_usd", "excess $", human_usd, "right")],
            anomalies))


# -- savings -----------------------------------------------------------------------------------------------

@app.command()
def savings(
    since: str = typer.Option(..., "--since", help="The day of the change (YYYY-MM-DD)."),
    days: Optional[int] = typer.Option(None, "--days", min=1, help="Days compared on each side (default: all)."),
    store: Optional[Path] = StoreOpt,
    fmt: Fmt = FormatOpt,
) -> None:
    """Billed cost per repository / NAT gateway / endpoint before and after a date, as a monthly rate."""
    from ecrwise.billing.savings import realised_savings

    with open_store(store, read_only=True) as s:
        rows = realised_savings(s.con, _day(since, "--since"), days=days)
    _show_savings(rows, fmt)


def _show_savings(rows: list[Any], fmt: Fmt) -> None:
    items = [r.as_dict() for r in rows]
    totals = {"realised_monthly_usd": round(sum(r.realised_monthly_usd for r in rows), 2)}
    if fmt is Fmt.json:
        dump_json(envelope("billing-savings", None, items, totals, []))
        return
    stdout_console().print(rich_table("Billed before and after", [
        Column("category", "category"), Column("account", "account"), Column("resource", "resource"),
        Column("before_monthly_usd", "before $/month", human_usd, "right"),
        Column("after_monthly_usd", "after $/month", human_usd, "right"),
        Column("realised_monthly_usd", "saved $/month", human_usd, "right"),
        Column("predicted_monthly_usd", "predicted $/month", human_usd, "right")], items, footer=totals))
