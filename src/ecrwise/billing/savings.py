"""Realised savings from the bill: billed cost per resource before and after a date (a clean-up, an `--apply`),
next to what ecrwise predicted. Pure SQL over billing_line_items.

Daily line items are turned into a monthly rate on each side of the date (the day of the change itself left
out: it is part before, part after): the mean cost a day × 730/24 for hourly and per-GB charges, but × the
days of that calendar month for GB-month storage, which AWS prorates over the month's hours (a constant
repository costs the same in a 30- and a 31-day month, so its cost a day differs). AWS
notes cost data can take up to 24 hours to appear and the FinOps playbook waits about two days, so recent days
may still grow (https://docs.aws.amazon.com/cost-management/latest/userguide/ce-what-is.html).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import duckdb

from ecrwise.billing.importer import require_tables
from ecrwise.errors import UserError
from ecrwise.pricing.money import usd as round_usd

DAYS_PER_MONTH = 730 / 24


@dataclass(frozen=True)
class SavingsRow:
    category: str
    account: str
    region: str | None
    resource: str | None
    before_monthly_usd: float
    after_monthly_usd: float
    before_days: int
    after_days: int
    predicted_monthly_usd: float | None = None

    @property
    def realised_monthly_usd(self) -> float:
        return self.before_monthly_usd - self.after_monthly_usd

    def as_dict(self) -> dict[str, Any]:
        return {"category": self.category, "account": self.account, "region": self.region,
                "resource": self.resource, "before_monthly_usd": round_usd(self.before_monthly_usd),
                "after_monthly_usd": round_usd(self.after_monthly_usd), "before_days": self.before_days,
                "after_days": self.after_days, "realised_monthly_usd": round_usd(self.realised_monthly_usd),
                "predicted_monthly_usd": None if self.predicted_monthly_usd is None
                else round_usd(self.predicted_monthly_usd)}


def realised_savings(con: duckdb.DuckDBPyConnection, since: date, *, days: int | None = None,
                     predicted: dict[tuple[str, str, str, str], float] | None = None) -> list[SavingsRow]:
    """Per (category, account, region, resource): mean billed usage cost a day before `since` and after it
    (`days` each side, default: all imported days). `predicted` maps (category, account, region,
    resource) to a monthly saving."""
    require_tables(con)
    lo = since - timedelta(days=days) if days else date.min
    hi = since + timedelta(days=days + 1) if days else date.max
    span = con.execute("""
        SELECT count(DISTINCT CASE WHEN CAST(usage_start AS DATE) < ? THEN CAST(usage_start AS DATE) END),
               count(DISTINCT CASE WHEN CAST(usage_start AS DATE) > ? THEN CAST(usage_start AS DATE) END)
        FROM billing_line_items
        WHERE kind IN ('usage', 'free_tier') AND CAST(usage_start AS DATE) >= ? AND CAST(usage_start AS DATE) < ?
          AND usage_end - usage_start <= INTERVAL 1 DAY""", [since, since, lo, hi]).fetchone()
    before_days, after_days = span
    if not before_days or not after_days:
        raise UserError(f"--since {since}: the imported bill needs daily line items on both sides of the date "
                        f"(days before: {before_days}, after: {after_days})")
    rows = con.execute("""
        SELECT category, account, region, resource_name,
               sum(CASE WHEN CAST(usage_start AS DATE) < ? THEN cost_usd * w ELSE 0 END),
               sum(CASE WHEN CAST(usage_start AS DATE) > ? THEN cost_usd * w ELSE 0 END)
        FROM (SELECT *, CASE WHEN pricing_unit = 'GB-Mo' THEN dayofmonth(last_day(usage_start))
                             ELSE ? END AS w FROM billing_line_items)
        WHERE kind IN ('usage', 'free_tier') AND CAST(usage_start AS DATE) >= ? AND CAST(usage_start AS DATE) < ?
          AND usage_end - usage_start <= INTERVAL 1 DAY
        GROUP BY ALL""", [since, since, DAYS_PER_MONTH, lo, hi]).fetchall()
    out = [SavingsRow(cat, acct, region, res, before / before_days, after / after_days, before_days, after_days,
                      (predicted or {}).get((cat, acct, region or "", res or "")))
           for cat, acct, region, res, before, after in rows]
    return sorted(out, key=lambda r: (-r.realised_monthly_usd, r.category, r.account, r.resource or ""))


def unmatched_predictions(rows: list[SavingsRow], predicted: dict[tuple[str, str, str, str], float]) -> list[str]:
    """A warning for each prediction no billed row carries (the resource has no line item in the compared days:
    another account's bill, a period not imported yet), so a prediction never silently drops out of the totals."""
    billed = {(r.category, r.account, r.region or "", r.resource or "") for r in rows}
    return [f"predicted ${usd:,.2f}/month for {res} ({acct}, {region}, {cat}): no line item of it in the "
            "imported bill on both sides of the date" for (cat, acct, region, res), usd in sorted(predicted.items())
            if (cat, acct, region, res) not in billed]
