"""Import + reconciliation on generated exports: the known answer, both forms, both file types."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from ecrwise.billing import schema
from ecrwise.billing.importer import find_export_files, import_export
from ecrwise.billing.reconcile import EndpointExpectation, NatAttribution, StorageEstimate, reconcile
from ecrwise.demo.billing_export import BillingUsage, RepoUsage, demo_usage, write_export
from ecrwise.errors import UserError
from ecrwise.pricing.book import GIB, load_price_book

BOOK = load_price_book()
FORMS = [(schema.CUR2, "parquet"), (schema.CUR2, "csv"), (schema.FOCUS12, "parquet"), (schema.FOCUS12, "csv")]


def estimates(u: BillingUsage):
    return dict(storage=[StorageEstimate(r.account, r.region, r.repository, r.stored_bytes) for r in u.repos],
                nat=[NatAttribution(n.account, n.region, n.nat_gateway_id, n.pull_bytes) for n in u.nats],
                endpoints=[EndpointExpectation(e.account, e.region, e.vpc_endpoint_id, e.az_count, e.bytes)
                           for e in u.endpoints])


def imported(tmp_path: Path, fmt: str, ff: str, u: BillingUsage | None = None) -> duckdb.DuckDBPyConnection:
    u = u or demo_usage()
    write_export(u, tmp_path / f"{fmt}-{ff}", fmt=fmt, file_format=ff)
    con = duckdb.connect()
    import_export(con, tmp_path / f"{fmt}-{ff}")
    return con


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The demo month reconciled from each of the four forms, once for the module."""
    u, tmp = demo_usage(), tmp_path_factory.mktemp("exports")
    return {(fmt, ff): reconcile(imported(tmp, fmt, ff, u), BOOK, **estimates(u)) for fmt, ff in FORMS}


def by_resource(rec):
    return {(r.kind, r.resource): r for r in rec.rows}


@pytest.mark.parametrize("fmt,ff", FORMS)
def test_known_answer(answers: dict, fmt: str, ff: str) -> None:
    rec = answers[(fmt, ff)]
    rows = by_resource(rec)
    assert rec.billing_period == "2026-11"
    # Where the data agree, billed storage is within 1 % of the estimate (free tier counts as usage).
    for repo in ("web/frontend", "base/python", "ml/trainer"):
        r = rows[("ecr_storage", repo)]
        assert abs(r.gap_pct) < 1.0, repo
        assert abs(r.gap_bytes) < 1024
    # The deliberate gaps, in bytes and dollars.
    pay = rows[("ecr_storage", "payments-api")]
    assert abs(pay.gap_bytes - 2 * GIB) < 1024
    assert pay.as_dict()["gap_usd"] == 0.20 and pay.as_dict()["gap_pct"] == 25.0
    nat = rows[("nat_bytes", "nat-0demo00000000001")]
    assert abs(nat.gap_bytes - 40 * GIB) < 1024
    assert nat.as_dict()["gap_usd"] == round(40 * 0.045, 2)
    assert nat.note == "NAT bytes image pulls do not explain"
    assert nat.as_dict()["billed_hours"] == 720
    assert abs(rows[("nat_bytes", "nat-0demo00000000002")].gap_bytes) < 1024
    vpce = rows[("vpce", "vpce-0demo0000000001")]
    assert abs(vpce.gap_quantity) < 1e-6 and vpce.billed_quantity == pytest.approx(2 * 720)
    # Ranked by |gap $|: the NAT's unexplained bytes first, then the over-billed repository.
    assert [(r.kind, r.resource) for r in rec.rows[:2]] == [("nat_bytes", "nat-0demo00000000001"),
                                                            ("ecr_storage", "payments-api")]
    # Free tier, credits and tax apart from usage.
    adj = {(a["account"], a["kind"]): a for a in rec.adjustments}
    assert adj[("111111111111", "credit")]["cost_usd"] == -1.25
    assert adj[("111111111111", "tax")]["cost_usd"] == 0.8
    free = adj[("222222222222", "free_tier")]
    assert free["usage_amount"] == 0.5 and free["list_value_usd"] == 0.05 and free["cost_usd"] == 0.0
    assert rows[("ecr_storage", "ml/trainer")].extra == {"free_tier_gb_months": 0.5}


def test_cur_and_focus_give_the_same_answers(answers: dict) -> None:
    got = [([r.as_dict() for r in rec.rows], rec.adjustments, rec.usage_by_category, rec.totals())
           for rec in (answers[f] for f in FORMS)]
    for other in got[1:]:
        assert other[0] == got[0][0]
        assert other[2:] == got[0][2:]
        # FOCUS leaves ConsumedQuantity null on credit/tax lines where CUR writes 0.
        strip = [{k: v for k, v in a.items() if k != "usage_amount"} for a in other[1]]
        assert strip == [{k: v for k, v in a.items() if k != "usage_amount"} for a in got[0][1]]


def test_only_relevant_lines_kept(tmp_path: Path) -> None:
    con = imported(tmp_path, schema.CUR2, "parquet")
    kept = con.execute("SELECT DISTINCT account, category FROM billing_line_items").fetchall()
    assert ("999999999999", "s3") not in kept  # S3 of an account with nothing ecrwise reconciles
    assert ("111111111111", "s3") in kept      # S3 of an account that has ECR/NAT lines
    assert not con.execute("SELECT count(*) FROM billing_line_items WHERE usage_type LIKE 'BoxUsage%'").fetchone()[0]
    # NAT usage types in us-east-1 carry no region prefix, in eu-central-1 they do; both matched.
    uts = {r[0] for r in con.execute("SELECT DISTINCT usage_type FROM billing_line_items "
                                     "WHERE category = 'nat_bytes'").fetchall()}
    assert uts == {"NatGateway-Bytes", "EUC1-NatGateway-Bytes"}


def test_reimport_replaces_the_period(tmp_path: Path) -> None:
    con = imported(tmp_path, schema.CUR2, "parquet")
    n = con.execute("SELECT count(*) FROM billing_line_items").fetchone()[0]
    import_export(con, tmp_path / "cur2-parquet")
    assert con.execute("SELECT count(*) FROM billing_line_items").fetchone()[0] == n
    # A refreshed export of the same month, now in FOCUS form and with a bigger repository, replaces it.
    u = demo_usage()
    u.repos[0] = RepoUsage(u.repos[0].account, u.repos[0].region, u.repos[0].repository, 20 * GIB)
    write_export(u, tmp_path / "refreshed", fmt=schema.FOCUS12)
    import_export(con, tmp_path / "refreshed")
    assert {r[0] for r in con.execute("SELECT DISTINCT source_format FROM billing_line_items").fetchall()} == {"focus1.2"}
    gbm = con.execute("SELECT sum(usage_amount) FROM billing_line_items WHERE resource_name = 'web/frontend'").fetchone()[0]
    assert gbm == pytest.approx(20.0)
    assert con.execute("SELECT count(*) FROM billing_imports").fetchone()[0] == 1
    # Another month is added, not replaced.
    write_export(demo_usage("2026-10"), tmp_path / "october")
    import_export(con, tmp_path / "october")
    assert [r[0] for r in con.execute("SELECT DISTINCT billing_period FROM billing_line_items ORDER BY 1").fetchall()] \
        == ["2026-10", "2026-11"]


def test_periods_from_the_data_without_the_layout(tmp_path: Path) -> None:
    write_export(demo_usage(), tmp_path / "exp", file_format="csv")
    flat = tmp_path / "flat.csv.gz"
    shutil.copy(next((tmp_path / "exp").rglob("*.csv.gz")), flat)
    con = duckdb.connect()
    assert import_export(con, flat).periods == ["2026-11"]
    # A re-import of the same month from the partitioned layout replaces it.
    assert import_export(con, tmp_path / "exp").periods == ["2026-11"]
    assert con.execute("SELECT count(*) FROM billing_imports").fetchone()[0] == 1


def test_manifest_is_honoured(tmp_path: Path) -> None:
    manifest = write_export(demo_usage(), tmp_path / "exp")
    data = next((tmp_path / "exp").rglob("*.parquet"))
    stale = data.with_name("ecrwise-cur2-00002.snappy.parquet")
    shutil.copy(data, stale)  # a file of an older execution: not in the manifest, must not double count
    files, manifests, warnings = find_export_files(tmp_path / "exp")
    assert files == [data] and manifests == [manifest]
    assert "not listed in the manifest" in warnings[0]
    # A manifest naming a file that is not there is an error naming the manifest and the entry.
    doc = json.loads(manifest.read_text())
    doc["dataFiles"].append("s3://demo-billing/exports/ecrwise-cur2/data/BILLING_PERIOD=2026-11/missing.parquet")
    manifest.write_text(json.dumps(doc))
    with pytest.raises(UserError, match=r"dataFiles\[1\]: .*missing.parquet"):
        find_export_files(tmp_path / "exp")


def test_no_resource_ids_is_warned(tmp_path: Path) -> None:
    write_export(demo_usage(), tmp_path / "exp")
    con = duckdb.connect()
    import_export(con, tmp_path / "exp")
    con.execute("UPDATE billing_line_items SET resource_id = NULL, resource_name = NULL WHERE category = 'nat_bytes'")
    rec = reconcile(con, BOOK, **estimates(demo_usage()))
    assert any("60 line items have no resource id" in w for w in rec.warnings)


def test_bad_input_is_a_user_error(tmp_path: Path) -> None:
    con = duckdb.connect()
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="neither a CUR 2.0 nor a FOCUS 1.2"):
        import_export(con, tmp_path / "x.csv")
    (tmp_path / "y.csv").write_text("line_item_usage_type,line_item_usage_amount\nNatGateway-Bytes,1\n")
    with pytest.raises(UserError, match="lacks column.*bill_billing_period_start_date"):
        import_export(con, tmp_path / "y.csv")
    good = (tmp_path / "y.csv").read_text()
    cols = ",".join(schema.CUR2_REQUIRED)
    (tmp_path / "z.csv").write_text(cols + "\n" + ",".join("not-a-date" if c.endswith("_date") else "1"
                                                           for c in schema.CUR2_REQUIRED) + "\n")
    with pytest.raises(UserError, match="z.csv: cannot read the export"):
        import_export(con, tmp_path / "z.csv")
    assert good
    with pytest.raises(UserError, match="no such file"):
        import_export(con, tmp_path / "nope")
    with pytest.raises(UserError, match="no billing data"):
        reconcile(con, BOOK)


@pytest.mark.parametrize("service,usage_type,expected", [
    ("AmazonECR", "EUC1-TimedStorage-ByteHrs", "ecr_storage"),
    ("AmazonECR", "USE1-TimedStorage-ByteHrs", "ecr_storage"),
    ("AmazonECR", "EU-DataTransfer-Out-Bytes", "ecr_data_transfer"),
    ("AmazonEC2", "USE1-NatGateway-Bytes", "nat_bytes"),
    ("AmazonEC2", "NatGateway-Bytes", "nat_bytes"),
    ("AmazonEC2", "NatGateway-Hours", "nat_hours"),
    ("AmazonEC2", "APN1-NatGateway-Hours", "nat_hours"),
    ("AmazonVPC", "EUC1-VpcEndpoint-Hours", "vpce_hours"),
    ("AmazonVPC", "VpcEndpoint-Bytes", "vpce_bytes"),
    ("AmazonVPC", "USE1-PublicIPv4:InUseAddress", "public_ipv4"),
    ("AmazonVPC", "PublicIPv4:IdleAddress", "public_ipv4"),
    ("AmazonS3", "TimedStorage-ByteHrs", "s3"),
    ("AmazonEC2", "USE1-EUC1-AWS-Out-Bytes", "data_transfer"),
    ("AmazonEC2", "DataTransfer-Regional-Bytes", "data_transfer"),
    ("AmazonEC2", "BoxUsage:m5.large", None),
    ("AmazonEC2", "EUC1-EBS:VolumeUsage.gp3", None),
])
def test_usage_type_matching_sql_and_python_agree(service: str, usage_type: str, expected: str | None) -> None:
    assert schema.category(service, usage_type) == expected
    sql = schema.category_sql("s", "u")
    got = duckdb.connect().execute(f"SELECT {sql} FROM (SELECT ?::VARCHAR AS s, ?::VARCHAR AS u)",
                                   [service, usage_type]).fetchone()[0]
    assert got == expected


def test_zone_aware_timestamps_stay_in_utc(tmp_path: Path) -> None:
    """An export written with TIMESTAMPTZ columns, read in a session whose time zone is not UTC."""
    write_export(demo_usage(), tmp_path / "exp")
    src = next((tmp_path / "exp").rglob("*.parquet"))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")
    tz = tmp_path / "tz.parquet"
    con.execute(f"""COPY (SELECT * REPLACE (timezone('UTC', bill_billing_period_start_date) AS bill_billing_period_start_date,
                                     timezone('UTC', line_item_usage_start_date) AS line_item_usage_start_date,
                                     timezone('UTC', line_item_usage_end_date) AS line_item_usage_end_date)
                  FROM read_parquet('{src}')) TO '{tz}' (FORMAT parquet)""")
    assert "WITH TIME ZONE" in con.execute(f"DESCRIBE SELECT bill_billing_period_start_date FROM '{tz}'").fetchone()[1]
    assert import_export(con, tz).periods == ["2026-11"]
    first = con.execute("SELECT min(usage_start) FROM billing_line_items").fetchone()[0]
    assert first.isoformat() == "2026-11-01T00:00:00"
