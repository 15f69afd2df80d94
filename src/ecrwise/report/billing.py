"""Rendering `ecrwise billing` (import, reconcile, trend, savings) and `ecrwise prices update`: the results and
their table, JSON and CSV views. No analysis here: everything comes from `ecrwise.billing` and
`ecrwise.pricing.price_list`. Bill text (usage types, resource ids, repository names) reaches the table and CSV
only through `Column`/`rich_table`/`dump_csv`, which pass the sanitiser.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from ecrwise.report.output import (Column, envelope, human_bytes, human_usd, print_warnings, rich_table,
                                   stdout_console, wide_console)
from ecrwise.report import sanitize
from ecrwise.report.render import Result, View, view

# -- billing import ----------------------------------------------------------------------------------------

IMPORT_CSV_COLUMNS = ("category", "rows")


def import_result(res: Any) -> Result:
    """`billing import`: one item per kept category of line items."""
    items = [{"category": c, "rows": n} for c, n in res.rows_by_category.items()]
    title = f"Imported {res.source_format} {', '.join(res.periods) or '-'}: {res.rows_kept:,} line items kept"
    return Result("billing-import", items, res.as_dict(), list(res.warnings), title=title)


def _import_table(res: Result) -> None:
    con = stdout_console()
    con.print(rich_table(None, [Column("category", "category"),
                                Column("rows", "line items", lambda n: f"{n:,}", "right")], res.items))
    con.print(sanitize.rich_text(f"{res.title} from {len(res.totals['files'])} file(s)"), highlight=False)
    print_warnings(res.warnings)


# -- billing reconcile -------------------------------------------------------------------------------------

RECONCILE_CSV_COLUMNS = ("kind", "billing_period", "account", "region", "resource", "resource_id", "unit",
                         "billed_quantity", "estimated_quantity", "gap_quantity", "billed_bytes", "estimated_bytes",
                         "gap_bytes", "gap_pct", "billed_usd", "gap_usd", "note")
def _pct(x: float) -> str:
    return f"{0.0 if abs(x) < 0.05 else x:+.1f}%"  # no "-0.0%" for a gap that rounds to nothing


def _signed_usd(x: float) -> str:
    return "$0.00" if abs(x) < 0.005 else f"{'+' if x > 0 else '-'}${abs(x):,.2f}"


def _amount(row: dict[str, Any], which: str) -> str | None:
    """Bytes for storage and NAT rows; AZ-hours (and bytes when known) for endpoint rows."""
    if row["kind"] != "vpce":
        return None if row[f"{which}_bytes"] is None else human_bytes(row[f"{which}_bytes"])
    q = row[f"{which}_quantity"]
    if q is None:
        return None
    text = f"{q:,.0f} AZ-h"
    if row[f"{which}_bytes"] is not None:
        text += f" · {human_bytes(row[f'{which}_bytes'])}"
    return text


RECONCILE_COLUMNS = [
    Column("kind", "kind"), Column("account", "account"), Column("region", "region"),
    Column("resource", "resource"), Column("billed", "billed", justify="right"),
    Column("estimated", "estimated", justify="right"), Column("gap", "gap", justify="right"),
    Column("gap_pct", "gap %", _pct, "right"), Column("gap_usd", "gap $", _signed_usd, "right"),
    Column("billed_usd", "billed $", human_usd, "right"), Column("note", "note")]
ADJUSTMENT_COLUMNS = [
    Column("account", "account"), Column("kind", "kind"), Column("charge_type", "charge"),
    Column("category", "category"), Column("usage_amount", "usage", lambda x: f"{x:,.3f}", "right"),
    Column("cost_usd", "billed $", human_usd, "right"),
    Column("list_value_usd", "at list price", human_usd, "right")]


def reconcile_result(rec: Any, *, sources: dict[str, str] | None = None,
                     snapshot: dict[str, Any] | None = None, warnings: list[str] = ()) -> Result:  # type: ignore[assignment]
    """`billing reconcile`: one item per gap row (ranked by |gap $|); the JSON document also carries the
    adjustments (free tier, credits, discounts, tax) and the billed usage per category. `sources` says where
    each kind of estimate came from (snapshots, an --estimates file, none)."""
    items = [r.as_dict() for r in rec.rows]
    all_warnings = [*warnings, *rec.warnings]
    totals = rec.totals() | ({"estimate_sources": sources} if sources else {})
    doc = envelope("billing-reconcile", snapshot, items, totals, all_warnings)
    doc["adjustments"] = rec.adjustments
    doc["usage_by_category"] = rec.usage_by_category
    return Result("billing-reconcile", items, totals, all_warnings, snapshot,
                  f"Billed vs estimated, {rec.billing_period}", data=rec.adjustments, document=doc)


def _reconcile_table(res: Result) -> None:
    con = wide_console()
    rows = [dict(r, billed=_amount(r, "billed"), estimated=_amount(r, "estimated"), gap=_amount(r, "gap"))
            for r in res.items]
    con.print(rich_table(res.title, RECONCILE_COLUMNS, rows))
    t = res.totals
    if res.data:
        con.print(rich_table("Free tier, credits, discounts, tax (apart from usage)", ADJUSTMENT_COLUMNS, res.data))
    else:
        con.print(f"No free tier, credits, discounts or tax in {t['billing_period']}.", highlight=False)
    line = (f"{t['rows']} rows · gaps {_signed_usd(t['gap_usd'])} at list price · billed usage "
            f"${t['billed_usage_usd']:,.2f} · adjustments ${t['adjustments_usd']:,.2f}")
    if t.get("estimate_sources"):
        line += " · estimates: " + ", ".join(f"{k} from {v}" for k, v in t["estimate_sources"].items())
    con.print(line, highlight=False, markup=False)
    print_warnings(res.warnings)


# -- billing trend -----------------------------------------------------------------------------------------

TREND_CSV_COLUMNS = ("usage_type", "category", "day", "cost_usd", "usage_quantity", "estimated", "anomaly",
                     "median_usd", "findings")


def trend_result(trends: list[Any], start: date, end: date, *,
                 links: dict[tuple[date, str], list[str]] | None = None,
                 linked_snapshots: list[int] | None = None) -> Result:
    """`billing trend`: one item per usage type with its daily costs and anomaly days. With `links` (from the
    store's NAT spike and crash-loop days), each anomaly carries the `findings` of the same day that can explain it."""
    items = [t.as_dict() for t in trends]
    if links is not None:
        for i in items:
            for a in i["anomalies"]:
                a["findings"] = links.get((a["day"], i["usage_type"]), [])
    anomalies = [a for i in items for a in i["anomalies"]]
    totals = {"since": start, "until": end, "usage_types": len(items), "anomaly_days": len(anomalies),
              "total_usd": round(sum(t.total_usd for t in trends), 2)}
    if linked_snapshots is not None:
        totals["linked_snapshots"] = linked_snapshots
    return Result("billing-trend", items, totals, [], title=f"Cost per usage type, {start} to {end}", data=anomalies)


def _trend_rows(res: Result) -> list[dict[str, Any]]:
    """One CSV row per usage type and day; an anomaly day carries the rolling median it was judged against."""
    rows = []
    for i in res.items:
        spikes = {a["day"]: a for a in i["anomalies"]}
        for d in i["daily"]:
            a = spikes.get(d["day"])
            rows.append({"usage_type": i["usage_type"], "category": i["category"], "day": d["day"].isoformat(),
                         "cost_usd": d["cost_usd"], "usage_quantity": d["usage_quantity"],
                         "estimated": d["estimated"], "anomaly": a is not None,
                         "median_usd": None if a is None else a["median_usd"],
                         "findings": "; ".join(a.get("findings", [])) if a else None})
    return rows


def _trend_table(res: Result) -> None:
    con = stdout_console()
    con.print(rich_table(res.title, [
        Column("usage_type", "usage type"), Column("category", "category"),
        Column("total_usd", "total $", human_usd, "right"),
        Column("anomalies", "anomaly days", lambda a: ", ".join(str(x["day"]) for x in a) or "-")], res.items))
    if res.data:
        cols = [Column("day", "day"), Column("usage_type", "usage type"),
                Column("cost_usd", "cost $", human_usd, "right"), Column("median_usd", "median $", human_usd, "right"),
                Column("excess_usd", "excess $", human_usd, "right")]
        if "linked_snapshots" in res.totals:
            cols.append(Column("findings", "same day in the store", lambda f: "; ".join(f) or "-"))
        con.print(rich_table("Anomaly days", cols, res.data))
    print_warnings(res.warnings)


# -- billing savings ---------------------------------------------------------------------------------------

SAVINGS_CSV_COLUMNS = ("category", "account", "region", "resource", "before_monthly_usd", "after_monthly_usd",
                       "realised_monthly_usd", "predicted_monthly_usd", "before_days", "after_days")


def savings_result(rows: list[Any], since: date, warnings: list[str] | None = None) -> Result:
    """`billing savings`: billed monthly rate per resource before and after `since`, biggest saving first."""
    predicted = [r.predicted_monthly_usd for r in rows if r.predicted_monthly_usd is not None]
    totals = {"since": since, "realised_monthly_usd": round(sum(r.realised_monthly_usd for r in rows), 2),
              "predicted_monthly_usd": round(sum(predicted), 2) if predicted else None}
    return Result("billing-savings", [r.as_dict() for r in rows], totals, list(warnings or []),
                  title=f"Billed before and after {since}")


def _savings_table(res: Result) -> None:
    stdout_console().print(rich_table(res.title, [
        Column("category", "category"), Column("account", "account"), Column("resource", "resource"),
        Column("before_monthly_usd", "before $/month", human_usd, "right"),
        Column("after_monthly_usd", "after $/month", human_usd, "right"),
        Column("realised_monthly_usd", "saved $/month", human_usd, "right"),
        Column("predicted_monthly_usd", "predicted $/month", human_usd, "right")], res.items,
        footer={"realised_monthly_usd": res.totals["realised_monthly_usd"],
                "predicted_monthly_usd": res.totals["predicted_monthly_usd"]}))
    print_warnings(res.warnings)


# -- prices update -----------------------------------------------------------------------------------------

PRICES_CSV_COLUMNS = ("region", "item", "usd", "unit", "usage_type", "sku", "effective_date", "publication_date")


def prices_update_result(path: Path, items: list[dict[str, Any]], warnings: list[str]) -> Result:
    """`prices update`: one item per price written, with the product it came from."""
    return Result("prices-update", items, {"price_file": str(path), "prices": len(items)}, list(warnings),
                  title=f"Wrote {path}")


def _prices_table(res: Result) -> None:
    stdout_console().print(rich_table(res.title, [
        Column("region", "region"), Column("item", "item"), Column("usd", "USD", lambda x: f"{x:g}", "right"),
        Column("unit", "unit"), Column("usage_type", "usage type"), Column("effective_date", "effective")],
        res.items))
    print_warnings(res.warnings)


view(View("billing-import", table=_import_table, csv_columns=IMPORT_CSV_COLUMNS))
view(View("billing-reconcile", table=_reconcile_table, csv_columns=RECONCILE_CSV_COLUMNS))
view(View("billing-trend", table=_trend_table, csv_columns=TREND_CSV_COLUMNS, csv_rows=_trend_rows))
view(View("billing-savings", table=_savings_table, csv_columns=SAVINGS_CSV_COLUMNS))
view(View("prices-update", table=_prices_table, csv_columns=PRICES_CSV_COLUMNS))

__all__ = ["import_result", "reconcile_result", "trend_result", "savings_result", "prices_update_result"]
