"""Billed versus estimated, per resource, for one billing period. Pure: SQL over billing_line_items on the
caller's DuckDB connection, plus the estimates the caller hands in.

- ECR storage, per repository: billed GB-months (`TimedStorage-ByteHrs` usage, free-tier lines included, since
  they are usage priced at zero) against the estimate's bytes averaged over the period. AWS meters storage in
  byte-hours and bills GB-months (ECR pricing, https://aws.amazon.com/ecr/pricing/), so a repository holding
  B bytes all month is B / 2^30 GB-months.
- NAT gateways: billed `NatGateway-Bytes` against the bytes ecrwise attributes to image pulls; the rest is
  "bytes image pulls do not explain". Billed `NatGateway-Hours` ride along.
- VPC endpoints: billed `VpcEndpoint-Hours` (interface endpoints bill per AZ-hour, PrivateLink pricing,
  https://aws.amazon.com/privatelink/pricing/) against AZs × hours in the period, and bytes when the audit
  knows them.

A gap is billed − estimated. Its dollar size is the gap's quantity at the price book's list price, so free tier,
credits and discounts (listed apart, by `adjustments`) never pose as usage gaps. Rows are ranked by |gap $|.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from typing import Any, Iterable

import duckdb

from ecrwise.billing.importer import require_tables
from ecrwise.errors import UserError
from ecrwise.pricing.book import GIB, PriceBook
from ecrwise.pricing.money import usd as round_usd


@dataclass(frozen=True)
class StorageEstimate:
    account: str
    region: str
    repository: str
    estimated_bytes: int  # distinct-layer bytes averaged over the billing period


@dataclass(frozen=True)
class NatAttribution:
    account: str
    region: str
    nat_gateway_id: str
    pull_bytes: int  # bytes image pulls moved through the gateway over the billing period


@dataclass(frozen=True)
class EndpointExpectation:
    account: str
    region: str
    vpc_endpoint_id: str
    az_count: int
    expected_bytes: int | None = None


@dataclass
class GapRow:
    kind: str  # ecr_storage | nat_bytes | vpce
    billing_period: str
    account: str
    region: str
    resource: str
    resource_id: str | None
    unit: str
    billed_quantity: float
    estimated_quantity: float | None
    billed_usd: float
    price: dict[str, Any]
    gap_quantity: float
    gap_usd: float
    billed_bytes: int | None = None
    estimated_bytes: int | None = None
    gap_bytes: int | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def gap_pct(self) -> float | None:
        if not self.estimated_quantity:
            return None
        return 100.0 * self.gap_quantity / self.estimated_quantity

    def as_dict(self) -> dict[str, Any]:
        d = {"kind": self.kind, "billing_period": self.billing_period, "account": self.account,
             "region": self.region, "resource": self.resource, "resource_id": self.resource_id, "unit": self.unit,
             "billed_quantity": round(self.billed_quantity, 6),
             "estimated_quantity": None if self.estimated_quantity is None else round(self.estimated_quantity, 6),
             "gap_quantity": round(self.gap_quantity, 6), "billed_bytes": self.billed_bytes,
             "estimated_bytes": self.estimated_bytes, "gap_bytes": self.gap_bytes,
             "billed_usd": round_usd(self.billed_usd), "gap_usd": round_usd(self.gap_usd),
             "gap_pct": None if self.gap_pct is None else round(self.gap_pct, 2), "price": self.price,
             "note": self.note}
        d.update(self.extra)
        return d


@dataclass
class Reconciliation:
    billing_period: str
    rows: list[GapRow]
    adjustments: list[dict[str, Any]]
    usage_by_category: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        return {"billing_period": self.billing_period, "rows": len(self.rows),
                "gap_usd": round_usd(sum(r.gap_usd for r in self.rows)),
                "billed_usage_usd": round_usd(sum(u["cost_usd"] for u in self.usage_by_category)),
                "adjustments_usd": round_usd(sum(a["cost_usd"] for a in self.adjustments))}


def period_hours(period: str) -> int:
    y, m = (int(x) for x in period.split("-"))
    return calendar.monthrange(y, m)[1] * 24


def billing_periods(con: duckdb.DuckDBPyConnection) -> list[str]:
    require_tables(con)
    return [r[0] for r in con.execute("SELECT DISTINCT billing_period FROM billing_line_items ORDER BY 1").fetchall()]


def resolve_period(con: duckdb.DuckDBPyConnection, period: str | None) -> str:
    periods = billing_periods(con)
    if not periods:
        raise UserError("the store has no billing data: run `ecrwise billing import PATH` first")
    if period is None:
        return periods[-1]
    if period not in periods:
        raise UserError(f"--period {period}: not imported (imported: {', '.join(periods)})")
    return period


def _rank(rows: list[GapRow]) -> list[GapRow]:
    return sorted(rows, key=lambda r: (-abs(r.gap_usd), r.kind, r.account or "", r.region or "", r.resource or ""))


def _temp(con: duckdb.DuckDBPyConnection, name: str, ddl: str, rows: list[tuple]) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({ddl})")
    if rows:
        con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(rows[0]))})", rows)


def reconcile_storage(con: duckdb.DuckDBPyConnection, estimates: Iterable[StorageEstimate], book: PriceBook,
                      period: str) -> list[GapRow]:
    _temp(con, "_est_storage", "account VARCHAR, region VARCHAR, repository VARCHAR, estimated_bytes HUGEINT",
          [(e.account, e.region, e.repository, int(e.estimated_bytes)) for e in estimates])
    sql = """
        WITH billed AS (
            SELECT account, region, resource_name AS repository, any_value(resource_id) AS resource_id,
                   sum(usage_amount) AS gb_months, sum(cost_usd) AS usd,
                   sum(CASE WHEN kind = 'free_tier' THEN usage_amount ELSE 0 END) AS free_gb_months
            FROM billing_line_items
            WHERE billing_period = ? AND category = 'ecr_storage' AND kind IN ('usage', 'free_tier')
            GROUP BY ALL)
        SELECT coalesce(b.account, e.account), coalesce(b.region, e.region), coalesce(b.repository, e.repository),
               b.resource_id, coalesce(b.gb_months, 0), coalesce(b.usd, 0), coalesce(b.free_gb_months, 0),
               e.estimated_bytes
        FROM billed b FULL OUTER JOIN _est_storage e
          ON b.account = e.account AND b.region = e.region AND b.repository = e.repository"""
    out = []
    for account, region, repo, rid, gbm, billed_usd, free, est_bytes in con.execute(sql, [period]).fetchall():
        price = book.price(region or book.fallback_region, "ecr_storage_gb_month")
        est_gbm = None if est_bytes is None else int(est_bytes) / GIB
        gap = gbm - (est_gbm or 0.0)
        note = ("billed, not estimated (repository not in the snapshots)" if est_bytes is None else
                "estimated, not billed" if not rid else "")
        out.append(GapRow("ecr_storage", period, account, region, repo, rid, "GB-Mo", gbm, est_gbm, billed_usd,
                          price.as_dict(), gap, gap * price.usd, round(gbm * GIB),
                          None if est_bytes is None else int(est_bytes), round(gap * GIB), note,
                          {"free_tier_gb_months": round(free, 6)} if free else {}))
    return out


def reconcile_nat(con: duckdb.DuckDBPyConnection, attributions: Iterable[NatAttribution], book: PriceBook,
                  period: str) -> list[GapRow]:
    _temp(con, "_est_nat", "account VARCHAR, region VARCHAR, nat VARCHAR, pull_bytes HUGEINT",
          [(a.account, a.region, a.nat_gateway_id, int(a.pull_bytes)) for a in attributions])
    sql = """
        WITH billed AS (
            SELECT account, region, resource_name AS nat, any_value(resource_id) AS resource_id,
                   sum(CASE WHEN category = 'nat_bytes' THEN usage_amount ELSE 0 END) AS gb,
                   sum(CASE WHEN category = 'nat_bytes' THEN cost_usd ELSE 0 END) AS bytes_usd,
                   sum(CASE WHEN category = 'nat_hours' THEN usage_amount ELSE 0 END) AS hours,
                   sum(CASE WHEN category = 'nat_hours' THEN cost_usd ELSE 0 END) AS hours_usd
            FROM billing_line_items
            WHERE billing_period = ? AND category IN ('nat_bytes', 'nat_hours') AND kind IN ('usage', 'free_tier')
            GROUP BY ALL)
        SELECT coalesce(b.account, e.account), coalesce(b.region, e.region), coalesce(b.nat, e.nat), b.resource_id,
               coalesce(b.gb, 0), coalesce(b.bytes_usd, 0), coalesce(b.hours, 0), coalesce(b.hours_usd, 0),
               e.pull_bytes
        FROM billed b FULL OUTER JOIN _est_nat e ON b.account = e.account AND b.region = e.region AND b.nat = e.nat"""
    out = []
    for account, region, nat, rid, gb, usd, hours, hours_usd, pull in con.execute(sql, [period]).fetchall():
        price = book.price(region or book.fallback_region, "nat_gateway_gb")
        billed_bytes = round(gb * GIB)
        pull_b = 0 if pull is None else int(pull)
        gap_bytes = billed_bytes - pull_b
        note = ("NAT bytes image pulls do not explain" if gap_bytes > 0 else
                "image pulls explain more than was billed" if gap_bytes < 0 else "")
        if pull is None:
            note = "no pull attribution for this gateway: every billed byte is unexplained"
        out.append(GapRow("nat_bytes", period, account, region, nat, rid, "GB", gb,
                          None if pull is None else pull_b / GIB, usd, price.as_dict(), gap_bytes / GIB,
                          gap_bytes / GIB * price.usd, billed_bytes, None if pull is None else pull_b, gap_bytes,
                          note, {"billed_hours": round(hours, 3), "billed_hours_usd": round_usd(hours_usd)}))
    return out


def reconcile_endpoints(con: duckdb.DuckDBPyConnection, expectations: Iterable[EndpointExpectation],
                        book: PriceBook, period: str) -> list[GapRow]:
    _temp(con, "_est_vpce", "account VARCHAR, region VARCHAR, vpce VARCHAR, az_count INTEGER, bytes HUGEINT",
          [(e.account, e.region, e.vpc_endpoint_id, e.az_count, e.expected_bytes) for e in expectations])
    sql = """
        WITH billed AS (
            SELECT account, region, resource_name AS vpce, any_value(resource_id) AS resource_id,
                   sum(CASE WHEN category = 'vpce_hours' THEN usage_amount ELSE 0 END) AS hours,
                   sum(CASE WHEN category = 'vpce_bytes' THEN usage_amount ELSE 0 END) AS gb,
                   sum(cost_usd) AS usd
            FROM billing_line_items
            WHERE billing_period = ? AND category IN ('vpce_hours', 'vpce_bytes') AND kind IN ('usage', 'free_tier')
            GROUP BY ALL)
        SELECT coalesce(b.account, e.account), coalesce(b.region, e.region), coalesce(b.vpce, e.vpce), b.resource_id,
               coalesce(b.hours, 0), coalesce(b.gb, 0), coalesce(b.usd, 0), e.az_count, e.bytes
        FROM billed b FULL OUTER JOIN _est_vpce e ON b.account = e.account AND b.region = e.region AND b.vpce = e.vpce"""
    hours_in_period = period_hours(period)
    out = []
    for account, region, vpce, rid, hours, gb, usd, azs, exp_bytes in con.execute(sql, [period]).fetchall():
        hour_price = book.price(region or book.fallback_region, "vpc_interface_endpoint_az_hour")
        gb_price = book.price(region or book.fallback_region, "vpc_interface_endpoint_gb")
        expected_hours = None if azs is None else azs * hours_in_period
        gap_hours = hours - (expected_hours or 0)
        billed_bytes = round(gb * GIB)
        gap_bytes = None if exp_bytes is None else billed_bytes - int(exp_bytes)
        gap_usd = gap_hours * hour_price.usd + (gap_bytes or 0) / GIB * gb_price.usd
        note = "billed, not in the endpoint audit" if azs is None else ""
        out.append(GapRow("vpce", period, account, region, vpce, rid, "AZ-hour", hours, expected_hours, usd,
                          hour_price.as_dict(), gap_hours, gap_usd, billed_bytes,
                          None if exp_bytes is None else int(exp_bytes), gap_bytes, note,
                          {"az_count": azs, "gb_price": gb_price.as_dict()}))
    return out


def adjustments(con: duckdb.DuckDBPyConnection, period: str, book: PriceBook) -> list[dict[str, Any]]:
    """Free tier, credits, discounts, taxes and other non-usage lines, apart from usage."""
    rows = con.execute("""
        SELECT account, kind, charge_type, category, service_code, region, sum(usage_amount), sum(cost_usd), count(*)
        FROM billing_line_items WHERE billing_period = ? AND kind <> 'usage'
        GROUP BY ALL ORDER BY account, kind, category""", [period]).fetchall()
    items = {"ecr_storage": "ecr_storage_gb_month", "nat_bytes": "nat_gateway_gb", "nat_hours": "nat_gateway_hour",
             "vpce_hours": "vpc_interface_endpoint_az_hour", "vpce_bytes": "vpc_interface_endpoint_gb",
             "public_ipv4": "public_ipv4_hour"}
    out = []
    for account, kind, charge_type, cat, service, region, amount, cost, n in rows:
        d: dict[str, Any] = {"billing_period": period, "account": account, "kind": kind, "charge_type": charge_type,
                             "category": cat, "service_code": service, "region": region,
                             "usage_amount": None if amount is None else round(amount, 6),
                             "cost_usd": round_usd(cost or 0.0), "line_items": n}
        if kind == "free_tier" and cat in items and amount:
            price = book.price(region or book.fallback_region, items[cat])
            d["list_value_usd"] = round_usd(amount * price.usd)
            d["price"] = price.as_dict()
        out.append(d)
    return out


def usage_by_category(con: duckdb.DuckDBPyConnection, period: str) -> list[dict[str, Any]]:
    rows = con.execute("""
        SELECT category, any_value(pricing_unit), sum(usage_amount), sum(cost_usd), count(DISTINCT account)
        FROM billing_line_items WHERE billing_period = ? AND kind = 'usage' GROUP BY 1 ORDER BY 1""",
                       [period]).fetchall()
    return [{"category": c, "unit": u, "usage_amount": round(a or 0.0, 6), "cost_usd": round_usd(cost or 0.0),
             "accounts": n} for c, u, a, cost, n in rows]


def reconcile(con: duckdb.DuckDBPyConnection, book: PriceBook, *, period: str | None = None,
              storage: Iterable[StorageEstimate] = (), nat: Iterable[NatAttribution] = (),
              endpoints: Iterable[EndpointExpectation] = ()) -> Reconciliation:
    """Every gap of one billing period (default: the latest imported), ranked by |gap $|."""
    p = resolve_period(con, period)
    rows = (reconcile_storage(con, storage, book, p) + reconcile_nat(con, nat, book, p)
            + reconcile_endpoints(con, endpoints, book, p))
    warnings = []
    anonymous = con.execute("""
        SELECT count(*) FROM billing_line_items WHERE billing_period = ? AND kind IN ('usage', 'free_tier')
        AND category IN ('ecr_storage', 'nat_bytes', 'nat_hours', 'vpce_hours', 'vpce_bytes') AND resource_id IS NULL""",
                            [p]).fetchone()[0]
    if anonymous:
        # CUR 2.0 carries resource ids only when the export's table configuration has INCLUDE_RESOURCES
        # (https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2.html).
        warnings.append(f"{anonymous} line items have no resource id, so they cannot be matched to a repository, "
                        "NAT gateway or endpoint: create the export with resource ids included (INCLUDE_RESOURCES)")
    if not storage:
        warnings.append("no storage estimates given: every billed repository shows as unexplained")
    return Reconciliation(p, _rank(rows), adjustments(con, p, book), usage_by_category(con, p), warnings)


