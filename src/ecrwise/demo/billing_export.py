"""A month of AWS Data Exports for the demo estate, from known usage, in CUR 2.0 and FOCUS 1.2 form.

No real bill is available to develop against, so this writes export files in the column names and types of
AWS's data dictionaries (see `ecrwise.billing.schema` for the pages) with a Data Exports `Manifest.json`
(https://docs.aws.amazon.com/cur/latest/userguide/dataexports-manifest.html) in the delivery layout
`<export>/data/BILLING_PERIOD=YYYY-MM/…` and `<export>/metadata/BILLING_PERIOD=YYYY-MM/…`
(https://docs.aws.amazon.com/cur/latest/userguide/dataexports-export-delivery.html).

Line items are daily. Amounts come from the usage given, priced from the price book, so reconciliation has a
known answer; the deliberate gaps are part of the input (a repository billed for more bytes than estimated, NAT
bytes from a source image pulls do not explain). A few lines that must be filtered out (EC2 instance hours, S3
of an account with no ECR/NAT/endpoint usage) are added too.
"""
from __future__ import annotations

import calendar
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from ecrwise.billing import schema
from ecrwise.pricing.book import GIB, PriceBook, load_price_book

# Usage-type region prefixes as AWS writes them (EC2/VPC in us-east-1 carry none).
REGION_CODES = {"us-east-1": "USE1", "us-east-2": "USE2", "us-west-2": "USW2", "eu-west-1": "EU",
                "eu-central-1": "EUC1", "ap-northeast-1": "APN1"}
SERVICE_NAMES = {"AmazonECR": "Amazon EC2 Container Registry (ECR)", "AmazonEC2": "Amazon Elastic Compute Cloud",
                 "AmazonVPC": "Amazon Virtual Private Cloud", "AmazonS3": "Amazon Simple Storage Service"}


@dataclass(frozen=True)
class RepoUsage:
    account: str
    region: str
    repository: str
    stored_bytes: int              # what ecrwise estimates
    billed_bytes: int | None = None  # what AWS bills, when it differs (a deliberate gap)

    @property
    def bytes_billed(self) -> int:
        return self.stored_bytes if self.billed_bytes is None else self.billed_bytes


@dataclass(frozen=True)
class NatUsage:
    account: str
    region: str
    nat_gateway_id: str
    pull_bytes: int                # bytes image pulls explain
    other_bytes: int = 0           # bytes from a source ecrwise does not attribute (a deliberate gap)
    hours: float | None = None     # default: every hour of the period


@dataclass(frozen=True)
class EndpointUsage:
    account: str
    region: str
    vpc_endpoint_id: str
    az_count: int
    bytes: int
    hours: float | None = None     # per AZ; default: every hour of the period


@dataclass
class BillingUsage:
    period: str                    # YYYY-MM
    payer_account: str
    repos: list[RepoUsage] = field(default_factory=list)
    nats: list[NatUsage] = field(default_factory=list)
    endpoints: list[EndpointUsage] = field(default_factory=list)
    public_ipv4: list[tuple[str, str, int]] = field(default_factory=list)   # (account, region, addresses)
    s3_bytes: list[tuple[str, str, int]] = field(default_factory=list)      # (account, region, stored bytes)
    free_tier_gb_months: dict[str, float] = field(default_factory=dict)     # ECR, per account
    credits_usd: dict[str, float] = field(default_factory=dict)             # ECR credits, per account (> 0)
    tax_usd: dict[str, float] = field(default_factory=dict)

    @property
    def start(self) -> datetime:
        return datetime.strptime(self.period + "-01", "%Y-%m-%d")

    @property
    def days(self) -> int:
        return calendar.monthrange(self.start.year, self.start.month)[1]

    @property
    def hours(self) -> int:
        return self.days * 24


def _ut(region: str, family: str, *, prefix_everywhere: bool = True) -> str:
    code = REGION_CODES.get(region, "USE1")
    if not prefix_everywhere and region == "us-east-1":
        return family
    return f"{code}-{family}"


def line_specs(u: BillingUsage, book: PriceBook) -> list[tuple]:
    """One spec per resource and usage type: (…, total amount, unit, rate, …, days). SQL spreads each over
    `days` daily line items (the last day takes the rounding); days 0 means one line over the whole period."""
    rows: list[tuple] = []
    days = u.days

    def add(account: str, line_type: str, service: str, usage_type: str, op: str, region: str, rid: str,
            total: float, unit: str, rate: float, desc: str, family: str, ndays: int | None = None) -> None:
        rows.append((account, line_type, service, usage_type, op, region, rid, total, unit, rate, 0.0, desc,
                     family, days if ndays is None else ndays))

    for r in u.repos:
        price = book.price(r.region, "ecr_storage_gb_month").usd
        gbm = r.bytes_billed / GIB
        free = min(u.free_tier_gb_months.get(r.account, 0.0), gbm) if r is _first_repo(u, r.account) else 0.0
        add(r.account, "Usage", "AmazonECR", _ut(r.region, "TimedStorage-ByteHrs"), "PutImage", r.region,
            f"arn:aws:ecr:{r.region}:{r.account}:repository/{r.repository}", gbm - free, "GB-Mo",
            price, f"${price} per GB-month of data storage", "Storage")
        if free:
            add(r.account, "Usage", "AmazonECR", _ut(r.region, "TimedStorage-ByteHrs"), "PutImage", r.region,
                f"arn:aws:ecr:{r.region}:{r.account}:repository/{r.repository}", free, "GB-Mo", 0.0,
                "$0.00 per GB-month of data storage under the monthly free tier", "Storage", ndays=1)
    for n in u.nats:
        rid = f"arn:aws:ec2:{n.region}:{n.account}:natgateway/{n.nat_gateway_id}"
        hours = u.hours if n.hours is None else n.hours
        add(n.account, "Usage", "AmazonEC2", _ut(n.region, "NatGateway-Hours", prefix_everywhere=False),
            "NatGateway", n.region, rid, hours, "Hrs", book.price(n.region, "nat_gateway_hour").usd,
            "per NAT Gateway Hour", "NAT Gateway")
        add(n.account, "Usage", "AmazonEC2", _ut(n.region, "NatGateway-Bytes", prefix_everywhere=False),
            "NatGateway", n.region, rid, (n.pull_bytes + n.other_bytes) / GIB, "GB",
            book.price(n.region, "nat_gateway_gb").usd, "per GB data processed by NAT Gateways", "NAT Gateway")
    for e in u.endpoints:
        rid = f"arn:aws:ec2:{e.region}:{e.account}:vpc-endpoint/{e.vpc_endpoint_id}"
        hours = (u.hours if e.hours is None else e.hours) * e.az_count
        add(e.account, "Usage", "AmazonVPC", _ut(e.region, "VpcEndpoint-Hours"), "VpcEndpoint", e.region, rid,
            hours, "Hrs", book.price(e.region, "vpc_interface_endpoint_az_hour").usd,
            "per VPC Endpoint Hour", "VpcEndpoint")
        add(e.account, "Usage", "AmazonVPC", _ut(e.region, "VpcEndpoint-Bytes"), "VpcEndpoint", e.region, rid,
            e.bytes / GIB, "GB", book.price(e.region, "vpc_interface_endpoint_gb").usd,
            "per GB Data Processed by the VPC endpoint", "VpcEndpoint")
    for account, region, count in u.public_ipv4:
        add(account, "Usage", "AmazonVPC", _ut(region, "PublicIPv4:InUseAddress"), "AssociateAddressVPC", region,
            f"arn:aws:ec2:{region}:{account}:ipv4pool-ec2", float(count * u.hours), "Hrs",
            book.price(region, "public_ipv4_hour").usd, "per In-use public IPv4 address per hour", "VPC")
    for account, region, nbytes in u.s3_bytes:
        add(account, "Usage", "AmazonS3", _ut(region, "TimedStorage-ByteHrs"), "StandardStorage", region,
            f"demo-{account}-artifacts", nbytes / GIB, "GB-Mo", 0.023,
            "$0.023 per GB - first 50 TB / month of storage used", "Storage")
    accounts = sorted({r[0] for r in rows})
    # Noise the importer must drop: instance hours, and S3 of an account with nothing ecrwise reconciles.
    if accounts:
        add(accounts[0], "Usage", "AmazonEC2", "BoxUsage:m5.large", "RunInstances", "us-east-1",
            "i-0demo0000000000001", float(u.hours), "Hrs", 0.096, "m5.large Linux", "Compute Instance")
        add("999999999999", "Usage", "AmazonS3", "TimedStorage-ByteHrs", "StandardStorage", "us-east-1",
            "unrelated-bucket", 50.0, "GB-Mo", 0.023, "S3 storage", "Storage")
    for account, usd in sorted(u.credits_usd.items()):
        rows.append((account, "Credit", "AmazonECR", "", "", "", "", 0.0, "", 0.0, -abs(usd),
                     "AWS Promotional Credit", "", 0))
    for account, usd in sorted(u.tax_usd.items()):
        rows.append((account, "Tax", "AmazonECR", "", "", "", "", 0.0, "", 0.0, usd,
                     "Tax for product code AmazonECR", "", 0))
    return rows


def _first_repo(u: BillingUsage, account: str) -> RepoUsage | None:
    return next((r for r in u.repos if r.account == account), None)


_SPECS = """CREATE TEMP TABLE spec (account VARCHAR, line_type VARCHAR, service VARCHAR, usage_type VARCHAR,
    operation VARCHAR, region VARCHAR, resource_id VARCHAR, total DOUBLE, unit VARCHAR, rate DOUBLE,
    fixed_cost DOUBLE, description VARCHAR, family VARCHAR, ndays INTEGER)"""
# Daily line items from the specs, in SQL: day i of ndays carries total/ndays, the last day the remainder.
_NEUTRAL = """CREATE TEMP TABLE gen AS
    WITH d AS (
        SELECT s.*, i, CASE WHEN s.ndays = 0 THEN 0.0 WHEN i < s.ndays - 1 THEN s.total / s.ndays
                            ELSE s.total - (s.ndays - 1) * (s.total / s.ndays) END AS amount
        FROM spec s, range(0, greatest(s.ndays, 1)) AS r(i))
    SELECT $start::TIMESTAMP AS period_start, $end::TIMESTAMP AS period_end, $payer AS payer, account, line_type,
           service, usage_type, operation, region, resource_id,
           CASE WHEN ndays = 0 THEN $start::TIMESTAMP ELSE $start::TIMESTAMP + to_days(CAST(i AS INTEGER)) END AS t0,
           CASE WHEN ndays = 0 THEN $end::TIMESTAMP ELSE $start::TIMESTAMP + to_days(CAST(i AS INTEGER) + 1) END AS t1,
           amount, unit, rate, CASE WHEN ndays = 0 THEN fixed_cost ELSE amount * rate END AS cost, description, family
    FROM d"""

_FOCUS_CATEGORY = "CASE line_type WHEN 'Credit' THEN 'Credit' WHEN 'Tax' THEN 'Tax' ELSE 'Usage' END"


def _cur2_values(csv: bool) -> dict[str, str]:
    ts = (lambda c: f"strftime({c}, '%Y-%m-%dT%H:%M:%SZ')") if csv else (lambda c: c)
    return {
        "bill_bill_type": "'Anniversary'", "bill_billing_entity": "'AWS'",
        "bill_billing_period_end_date": ts("period_end"), "bill_billing_period_start_date": ts("period_start"),
        "bill_invoice_id": "''", "bill_invoicing_entity": "'Amazon Web Services, Inc.'",
        "bill_payer_account_id": "payer", "bill_payer_account_name": "'demo payer'",
        "cost_category": "MAP {}", "discount": "MAP {}",
        "identity_line_item_id": "md5(concat_ws('|', account, usage_type, resource_id, t0, line_type))",
        "identity_time_interval": f"concat({ts('t0')}, '/', {ts('t1')})",
        "line_item_availability_zone": "''", "line_item_blended_cost": "cost", "line_item_blended_rate": "rate::VARCHAR",
        "line_item_currency_code": "'USD'", "line_item_legal_entity": "'Amazon Web Services, Inc.'",
        "line_item_line_item_description": "description", "line_item_line_item_type": "line_type",
        "line_item_net_unblended_cost": "cost", "line_item_net_unblended_rate": "rate::VARCHAR",
        "line_item_normalization_factor": "0.0", "line_item_normalized_usage_amount": "0.0",
        "line_item_operation": "operation", "line_item_product_code": "service", "line_item_resource_id": "resource_id",
        "line_item_tax_type": "CASE WHEN line_type = 'Tax' THEN 'VAT' ELSE '' END",
        "line_item_unblended_cost": "cost", "line_item_unblended_rate": "rate::VARCHAR",
        "line_item_usage_account_id": "account", "line_item_usage_account_name": "concat('demo ', account)",
        "line_item_usage_amount": "amount", "line_item_usage_end_date": ts("t1"), "line_item_usage_start_date": ts("t0"),
        "line_item_usage_type": "usage_type", "pricing_currency": "'USD'", "pricing_public_on_demand_cost": "cost",
        "pricing_public_on_demand_rate": "rate::VARCHAR", "pricing_rate_code": "''", "pricing_rate_id": "''",
        "pricing_term": "CASE WHEN line_type = 'Usage' THEN 'OnDemand' ELSE '' END", "pricing_unit": "unit",
        "product": "MAP {'product_name': service}", "product_from_location": "''", "product_location": "''",
        "product_product_family": "family", "product_region_code": "region", "product_servicecode": "service",
        "product_sku": "''", "product_to_location": "''", "resource_tags": "MAP {}",
    }


def _focus_values(csv: bool) -> dict[str, str]:
    ts = (lambda c: f"strftime({c}, '%Y-%m-%dT%H:%M:%S.000Z')") if csv else (lambda c: c)
    names = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in SERVICE_NAMES.items())
    return {
        "AvailabilityZone": "NULL", "BilledCost": "cost", "BillingAccountId": "payer",
        "BillingAccountName": "'demo payer'", "BillingAccountType": "'Billing Account'", "BillingCurrency": "'USD'",
        "BillingPeriodEnd": ts("period_end"), "BillingPeriodStart": ts("period_start"),
        "ChargeCategory": _FOCUS_CATEGORY, "ChargeClass": "NULL", "ChargeDescription": "description",
        "ChargeFrequency": "CASE WHEN line_type = 'Usage' THEN 'Usage-Based' ELSE 'One-Time' END",
        "ChargePeriodEnd": ts("t1"), "ChargePeriodStart": ts("t0"),
        "ConsumedQuantity": "CASE WHEN line_type = 'Usage' THEN amount END",
        "ConsumedUnit": "CASE WHEN line_type = 'Usage' THEN unit END", "ContractedCost": "cost",
        "ContractedUnitPrice": "rate", "EffectiveCost": "cost", "InvoiceIssuerName": "'Amazon Web Services, Inc.'",
        "ListCost": "cost", "ListUnitPrice": "rate", "PricingCategory": "'Standard'",
        "PricingQuantity": "CASE WHEN line_type = 'Usage' THEN amount END",
        "PricingUnit": "CASE WHEN line_type = 'Usage' THEN unit END", "ProviderName": "'AWS'",
        "PublisherName": "'AWS'", "RegionId": "nullif(region, '')", "RegionName": "nullif(region, '')",
        "ResourceId": "nullif(resource_id, '')", "ResourceName": "NULL", "ResourceType": "family",
        "ServiceCategory": "'Networking'", "ServiceName": f"CASE service {names} ELSE service END",
        "SkuId": "NULL", "SkuPriceId": "NULL", "SubAccountId": "account", "SubAccountName": "concat('demo ', account)",
        "Tags": "MAP {}", "x_CostCategories": "MAP {}", "x_Discounts": "MAP {}", "x_Operation": "operation",
        "x_ServiceCode": "service", "x_UsageType": "usage_type",
    }


_DICT_TYPES = {"VARCHAR": "string", "DOUBLE": "double", "TIMESTAMP": "timestamp", "TIMESTAMP_MS": "timestamp_milliseconds",
               "MAP(VARCHAR, VARCHAR)": "map<string,string>", "MAP(VARCHAR, DOUBLE)": "map<string,double>"}


def select_sql(fmt: str, csv: bool) -> str:
    cols = schema.CUR2_COLUMNS if fmt == schema.CUR2 else schema.FOCUS12_COLUMNS
    values = _cur2_values(csv) if fmt == schema.CUR2 else _focus_values(csv)
    parts = []
    for name, typ in cols.items():
        v = values[name]
        if typ.startswith("MAP"):
            expr = f"to_json(CAST({v} AS {typ}))" if csv else f"CAST({v} AS {typ})"
        elif csv and typ.startswith("TIMESTAMP"):
            expr = v
        else:
            expr = f"CAST({v} AS {typ})"
        parts.append(f'{expr} AS "{name}"')
    return "SELECT " + ", ".join(parts) + " FROM gen ORDER BY t0, account, usage_type, resource_id"


def write_export(u: BillingUsage, out_dir: Path | str, *, fmt: str = schema.CUR2, file_format: str = "parquet",
                 book: PriceBook | None = None, export_name: str | None = None,
                 bucket: str = "demo-billing", prefix: str = "exports") -> Path:
    """Write one billing period of `u` as an export under out_dir; returns the manifest's path."""
    if fmt not in (schema.CUR2, schema.FOCUS12) or file_format not in ("parquet", "csv"):
        raise ValueError(f"fmt {fmt!r} / file_format {file_format!r}")
    book = book or load_price_book()
    name = export_name or ("ecrwise-cur2" if fmt == schema.CUR2 else "ecrwise-focus")
    part = f"BILLING_PERIOD={u.period}"
    root = Path(out_dir) / name
    data_dir, meta_dir = root / "data" / part, root / "metadata" / part
    data_dir.mkdir(parents=True, exist_ok=True)
    meta_dir.mkdir(parents=True, exist_ok=True)
    ext = "snappy.parquet" if file_format == "parquet" else "csv.gz"
    data_file = data_dir / f"{name}-00001.{ext}"
    con = duckdb.connect()
    try:
        con.execute(_SPECS)
        con.executemany("INSERT INTO spec VALUES (" + ", ".join("?" * 14) + ")", line_specs(u, book))
        con.execute(_NEUTRAL, {"start": u.start, "end": u.start + timedelta(days=u.days), "payer": u.payer_account})
        options = "FORMAT parquet, COMPRESSION snappy" if file_format == "parquet" else "HEADER, COMPRESSION gzip"
        target = str(data_file).replace("'", "''")
        con.execute(f"COPY ({select_sql(fmt, file_format == 'csv')}) TO '{target}' ({options})")
    finally:
        con.close()
    cols = schema.CUR2_COLUMNS if fmt == schema.CUR2 else schema.FOCUS12_COLUMNS
    key = f"{prefix}/{name}/data/{part}/{data_file.name}"
    manifest = {
        "executionId": f"demo-{u.period}-{fmt}",
        "exportArn": f"arn:aws:bcm-data-exports:us-east-1:{u.payer_account}:export/{name}-demo",
        "columns": [{"name": c, "type": _DICT_TYPES[t]} for c, t in cols.items()],
        "dataFiles": [f"s3://{bucket}/{key}"],
        "additionalOutputFiles": [],
    }
    path = meta_dir / f"{name}-Manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def usage_with_gaps(period: str, payer_account: str, repos: list[RepoUsage], nats: list[NatUsage],
                    endpoints: list[EndpointUsage] | None = None, *, overbill_bytes: int = 2 * GIB,
                    stray_nat_bytes: int = 40 * GIB) -> BillingUsage:
    """A month billed from known usage (e.g. the demo estate's snapshot figures) with the two deliberate gaps:
    the largest repository billed `overbill_bytes` more than estimated, and the busiest NAT gateway carrying
    `stray_nat_bytes` that image pulls do not explain."""
    repos, nats = list(repos), list(nats)
    if repos:
        i = max(range(len(repos)), key=lambda j: repos[j].stored_bytes)
        r = repos[i]
        repos[i] = RepoUsage(r.account, r.region, r.repository, r.stored_bytes, r.stored_bytes + overbill_bytes)
    if nats:
        i = max(range(len(nats)), key=lambda j: nats[j].pull_bytes)
        n = nats[i]
        nats[i] = NatUsage(n.account, n.region, n.nat_gateway_id, n.pull_bytes, n.other_bytes + stray_nat_bytes,
                           n.hours)
    return BillingUsage(period=period, payer_account=payer_account, repos=repos, nats=nats,
                        endpoints=list(endpoints or []))


def demo_usage(period: str = "2026-11") -> BillingUsage:
    """The demo estate's month with its deliberate gaps: `payments-api` billed 2 GiB more than estimated, and
    40 GiB of NAT bytes on nat-0demo00000000001 that image pulls do not explain."""
    a, b = "111111111111", "222222222222"
    return BillingUsage(
        period=period, payer_account=a,
        repos=[RepoUsage(a, "us-east-1", "web/frontend", 12 * GIB),
               RepoUsage(a, "us-east-1", "payments-api", 8 * GIB, billed_bytes=10 * GIB),
               RepoUsage(a, "eu-central-1", "base/python", 3 * GIB + 512 * 2**20),
               RepoUsage(b, "us-east-1", "ml/trainer", 40 * GIB)],
        nats=[NatUsage(a, "us-east-1", "nat-0demo00000000001", pull_bytes=150 * GIB, other_bytes=40 * GIB),
              NatUsage(a, "eu-central-1", "nat-0demo00000000002", pull_bytes=20 * GIB)],
        endpoints=[EndpointUsage(a, "eu-central-1", "vpce-0demo0000000001", az_count=2, bytes=5 * GIB)],
        public_ipv4=[(a, "us-east-1", 2)],
        s3_bytes=[(a, "us-east-1", 100 * GIB)],
        free_tier_gb_months={b: 0.5},
        credits_usd={a: 1.25},
        tax_usd={a: 0.8},
    )


def cost_explorer_result(daily: dict[str, list[float | None]], start: date, *,
                         next_token: str | None = None) -> dict:
    """One `GetCostAndUsage` response page (DAILY, grouped by USAGE_TYPE) in the documented shape
    (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_GetCostAndUsage.html), for the
    stand-in's configurable results: `daily` maps a usage type to its cost per day (None: no group that day)."""
    n = max(len(v) for v in daily.values())
    results = []
    for i in range(n):
        d = start + timedelta(days=i)
        groups = [{"Keys": [ut], "Metrics": {"UnblendedCost": {"Amount": f"{costs[i]:.10f}", "Unit": "USD"},
                                             "UsageQuantity": {"Amount": f"{costs[i] * 10:.10f}", "Unit": "N/A"}}}
                  for ut, costs in daily.items() if i < len(costs) and costs[i] is not None]
        results.append({"TimePeriod": {"Start": d.isoformat(), "End": (d + timedelta(days=1)).isoformat()},
                        "Total": {}, "Groups": groups, "Estimated": i == n - 1})
    doc: dict = {"ResultsByTime": results, "GroupDefinitions": [{"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
                 "DimensionValueAttributes": []}
    if next_token:
        doc["NextPageToken"] = next_token
    return doc
