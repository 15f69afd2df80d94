"""Import AWS Data Exports (CUR 2.0 or FOCUS 1.2 with AWS columns; Parquet or gzip CSV) into the store. Pure:
DuckDB reads the local files itself (`read_parquet` / `read_csv`, compression detected from the file), so a
5-million-line export streams through a filter and never sits in Python memory.

- Only the line items ecrwise reconciles are kept (see `schema.category_sql`): ECR storage and transfer, NAT
  gateway hours and bytes, VPC endpoint hours and bytes, public IPv4, and the S3 / data-transfer lines of the
  accounts that have one of those in the same billing period.
- Incremental: a billing period found in the import replaces every row the store had for that period
  (whatever the form it came in), so re-importing a refreshed export never double counts. AWS rewrites a
  period's files as the month's data is finalised
  (https://docs.aws.amazon.com/cur/latest/userguide/dataexports-export-delivery.html).
- A `Manifest.json` (https://docs.aws.amazon.com/cur/latest/userguide/dataexports-manifest.html) is honoured
  when present: exactly its `dataFiles` are read (they are matched to local files by their key path), so stale
  files from an older execution in the same folder are skipped.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict, ValidationError

from ecrwise.billing import schema
from ecrwise.errors import UserError

DATA_SUFFIXES = (".parquet", ".csv.gz", ".csv")
STAGE = "_billing_stage"


class _ManifestColumn(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    type: str | None = None


class Manifest(BaseModel):
    """The fields of a Data Exports manifest ecrwise uses; others are allowed and ignored."""
    model_config = ConfigDict(extra="allow")
    executionId: str | None = None
    exportArn: str | None = None
    columns: list[_ManifestColumn] = []
    dataFiles: list[str]


@dataclass
class ImportResult:
    source_format: str
    files: list[str]
    periods: list[str]
    rows_kept: int
    rows_by_category: dict[str, int]
    manifests: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"source_format": self.source_format, "files": self.files, "billing_periods": self.periods,
                "rows_kept": self.rows_kept, "rows_by_category": self.rows_by_category,
                "manifests": self.manifests}


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(schema.LINE_ITEMS_DDL)
    con.execute(schema.IMPORTS_DDL)


def has_billing_tables(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'billing_line_items'")
                .fetchone()[0])


def require_tables(con: duckdb.DuckDBPyConnection) -> None:
    """For readers (a read-only store cannot create tables): a clear error when nothing was imported yet."""
    if not has_billing_tables(con):
        raise UserError("the store has no billing data: run `ecrwise billing import PATH` first")


def _is_data_file(p: Path) -> bool:
    return p.is_file() and p.name.lower().endswith(DATA_SUFFIXES)


def load_manifest(path: Path) -> Manifest:
    try:
        raw = json.loads(path.read_text())
    except OSError as e:
        raise UserError(f"{path}: cannot read manifest: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON: line {e.lineno} column {e.colno}: {e.msg}") from None
    try:
        return Manifest.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(document)"
        raise UserError(f"{path}: {where}: {err['msg']}") from None


def _local_for(uri: str, roots: list[Path]) -> Path | None:
    """The local file for a manifest's s3:// URI: the longest trailing part of its key found under a root."""
    key = uri.split("://", 1)[-1].split("/", 1)[-1] if "://" in uri else uri
    parts = [p for p in key.split("/") if p]
    for i in range(len(parts)):
        suffix = Path(*parts[i:])
        for root in roots:
            if (root / suffix).is_file():
                return root / suffix
    return None


def find_export_files(path: Path | str) -> tuple[list[Path], list[Path], list[str]]:
    """(data files, manifests used, warnings) for a data file, a manifest or a folder holding an export."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    warnings: list[str] = []
    if path.is_file() and not path.name.endswith("Manifest.json"):
        if not _is_data_file(path):
            raise UserError(f"{path}: not an export data file (expected {', '.join(DATA_SUFFIXES)})")
        return [path], [], warnings
    manifests = [path] if path.is_file() else sorted(path.rglob("*Manifest.json"))
    if not manifests:
        files = sorted(p for p in path.rglob("*") if _is_data_file(p))
        if not files:
            raise UserError(f"{path}: no export data files ({', '.join(DATA_SUFFIXES)}) and no Manifest.json")
        return files, [], warnings
    base = path if path.is_dir() else path.parent
    roots = [base, *list(base.parents)[:3]]
    files: list[Path] = []
    for m in manifests:
        man = load_manifest(m)
        for i, uri in enumerate(man.dataFiles):
            local = _local_for(uri, [m.parent, *roots])
            if local is None:
                raise UserError(f"{m}: dataFiles[{i}]: {uri} is listed but not found under {base}")
            if local not in files:
                files.append(local)
    if path.is_dir():
        skipped = sorted(p for p in path.rglob("*") if _is_data_file(p) and p not in files)
        if skipped:
            warnings.append(f"{len(skipped)} data file(s) not listed in the manifest skipped, e.g. {skipped[0]}")
    return files, manifests, warnings


def _reader(files: list[Path]) -> str:
    names = "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"
    if all(f.name.lower().endswith(".parquet") for f in files):
        return f"read_parquet({names}, union_by_name = true)"
    # Every CSV column as text, cast below: type sniffing on a sample can guess wrong deep into a big file.
    return f"read_csv({names}, header = true, all_varchar = true, compression = 'auto', union_by_name = true)"


def _columns(con: duckdb.DuckDBPyConnection, reader: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()}


def _resource_name(col: str) -> str:
    return f"""CASE WHEN {col} LIKE 'arn:%:repository/%' THEN regexp_extract({col}, ':repository/(.+)$', 1)
                    WHEN {col} LIKE 'arn:%' THEN regexp_extract({col}, '([^/:]+)$', 1)
                    ELSE nullif({col}, '') END"""


def normalised_sql(fmt: str, reader: str, columns: dict[str, str]) -> str:
    """One SELECT turning either form into billing_line_items' columns (without imported_at)."""
    have = set(columns)

    def opt(name: str) -> str:
        return name if name in have else "NULL"

    def ts(name: str) -> str:
        # A zone-aware column cast to TIMESTAMP would shift by the session's time zone: take its UTC wall time.
        if columns.get(name, "").upper().startswith("TIMESTAMP WITH TIME ZONE"):
            return f"timezone('UTC', {name})"
        return f"CAST({name} AS TIMESTAMP)"

    c = _SOURCE_COLUMNS[fmt]
    return f"""SELECT '{fmt}' AS source_format,
        strftime({ts(c['period'])}, '%Y-%m') AS billing_period,
        CAST({c['payer']} AS VARCHAR) AS payer_account,
        CAST({c['account']} AS VARCHAR) AS account,
        {c['charge']} AS charge_type,
        {c['kind']} AS kind,
        {c['service']} AS service_code,
        {c['usage']} AS usage_type,
        regexp_replace(coalesce({c['usage']}, ''), '{schema.REGION_PREFIX}', '') AS usage_family,
        {schema.category_sql(c['service'], c['usage'])} AS category,
        CAST({opt(c['operation'])} AS VARCHAR) AS operation,
        nullif({c['region']}, '') AS region,
        nullif({c['resource']}, '') AS resource_id,
        {_resource_name(c['resource'])} AS resource_name,
        {ts(c['start'])} AS usage_start,
        {ts(c['end'])} AS usage_end,
        CAST({c['amount']} AS DOUBLE) AS usage_amount,
        nullif({c['unit']}, '') AS pricing_unit,
        CAST({c['cost']} AS DOUBLE) AS cost_usd
    FROM {reader}"""


# Which column of each form holds each normalised field (the data dictionaries cited in `billing.schema`).
_SOURCE_COLUMNS: dict[str, dict[str, str]] = {
    schema.CUR2: {"period": "bill_billing_period_start_date", "payer": "bill_payer_account_id",
                  "account": "line_item_usage_account_id", "charge": "line_item_line_item_type",
                  "kind": schema.CUR2_KIND_SQL, "service": "line_item_product_code", "usage": "line_item_usage_type",
                  "operation": "line_item_operation", "region": "product_region_code",
                  "resource": "line_item_resource_id", "start": "line_item_usage_start_date",
                  "end": "line_item_usage_end_date", "amount": "line_item_usage_amount", "unit": "pricing_unit",
                  "cost": "line_item_unblended_cost"},
    schema.FOCUS12: {"period": "BillingPeriodStart", "payer": "BillingAccountId", "account": "SubAccountId",
                     "charge": "ChargeCategory", "kind": schema.FOCUS12_KIND_SQL, "service": "x_ServiceCode",
                     "usage": "x_UsageType", "operation": "x_Operation", "region": "RegionId",
                     "resource": "ResourceId", "start": "ChargePeriodStart", "end": "ChargePeriodEnd",
                     "amount": "ConsumedQuantity", "unit": "PricingUnit", "cost": "BilledCost"},
}


_PARTITION = re.compile(r"BILLING_PERIOD=(\d{4}-\d{2})")


def periods_from_paths(files: list[Path]) -> list[str] | None:
    """The billing periods named by the delivery layout's `BILLING_PERIOD=YYYY-MM` folders, when every file
    sits in one (AWS partitions CUR 2.0 by billing period, export delivery page); None otherwise."""
    found = [_PARTITION.search(str(f)) for f in files]
    if not found or not all(found):
        return None
    return sorted({m.group(1) for m in found if m})


def _period_sql(fmt: str, reader: str, columns: dict[str, str]) -> str:
    col = "bill_billing_period_start_date" if fmt == schema.CUR2 else "BillingPeriodStart"
    expr = (f"timezone('UTC', {col})" if columns.get(col, "").upper().startswith("TIMESTAMP WITH TIME ZONE")
            else f"CAST({col} AS TIMESTAMP)")
    return f"SELECT DISTINCT strftime({expr}, '%Y-%m') FROM {reader}"


def import_export(con: duckdb.DuckDBPyConnection, path: Path | str, *,
                  now: datetime | None = None) -> ImportResult:
    """Import one export (file, manifest or folder) into billing_line_items; returns what was kept."""
    files, manifests, warnings = find_export_files(path)
    ensure_tables(con)
    reader = _reader(files)
    try:
        columns = _columns(con, reader)
    except duckdb.Error as e:
        raise UserError(f"{path}: cannot read the export: {str(e).splitlines()[0]}") from None
    fmt = schema.detect_format(list(columns))
    if fmt is None:
        raise UserError(f"{path}: neither a CUR 2.0 nor a FOCUS 1.2 export (no line_item_usage_type or "
                        "BilledCost/ChargeCategory column)")
    missing = schema.missing_columns(fmt, list(columns))
    if missing:
        raise UserError(f"{path}: {fmt} export lacks column(s) {', '.join(missing)}")
    stamp = (now or datetime.now(timezone.utc)).replace(tzinfo=None)
    exec_ids = [load_manifest(m).executionId for m in manifests]
    try:
        con.execute(f"DROP TABLE IF EXISTS {STAGE}")
        con.execute(f"CREATE TEMP TABLE {STAGE} AS SELECT * FROM ({normalised_sql(fmt, reader, columns)}) "
                    "WHERE category IS NOT NULL")
        # The periods the import replaces: from the partition folders when the layout names them (saves a
        # second pass over a big gzip CSV), else from the data; plus any the kept rows carry.
        named = periods_from_paths(files)
        if named is None:
            named = [r[0] for r in con.execute(_period_sql(fmt, reader, columns)).fetchall() if r[0]]
        kept = [r[0] for r in con.execute(f"SELECT DISTINCT billing_period FROM {STAGE}").fetchall() if r[0]]
        periods = sorted(set(named) | set(kept))
    except duckdb.Error as e:
        raise UserError(f"{path}: cannot read the export: {str(e).splitlines()[0]}") from None
    context = ", ".join(f"'{c}'" for c in schema.CONTEXT_CATEGORIES)
    con.execute(f"""DELETE FROM {STAGE} s WHERE s.category IN ({context}) AND NOT EXISTS (
        SELECT 1 FROM {STAGE} c WHERE c.account = s.account AND c.billing_period = s.billing_period
        AND c.category NOT IN ({context}))""")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM billing_line_items WHERE list_contains(?, billing_period)", [periods])
        con.execute(f"INSERT INTO billing_line_items SELECT *, ?::TIMESTAMP FROM {STAGE}", [stamp])
        con.execute("DELETE FROM billing_imports WHERE list_contains(?, billing_period)", [periods])
        counts = dict(con.execute(f"SELECT billing_period, count(*) FROM {STAGE} GROUP BY 1").fetchall())
        for p in periods:
            con.execute("INSERT INTO billing_imports VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [p, fmt, [str(f) for f in files], ", ".join(str(m) for m in manifests) or None,
                         ", ".join(e for e in exec_ids if e) or None, counts.get(p, 0), stamp])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    by_cat = dict(con.execute(f"SELECT category, count(*) FROM {STAGE} GROUP BY 1 ORDER BY 1").fetchall())
    con.execute(f"DROP TABLE IF EXISTS {STAGE}")
    if not periods:
        warnings.append(f"{path}: the export has no line items")
    return ImportResult(fmt, [str(f) for f in files], periods, sum(by_cat.values()), by_cat,
                        [str(m) for m in manifests], warnings)


