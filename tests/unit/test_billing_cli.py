"""The `billing` sub-app on generated exports (not yet mounted in `ecrwise`: invoked directly)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecrwise.billing import schema
from ecrwise.cli.billing import app
from ecrwise.demo.billing_export import NatUsage, demo_usage, write_export
from ecrwise.errors import UserError
from ecrwise.pricing.book import GIB


def run(*args: str) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.stdout


def test_import_reconcile_json_and_table(tmp_path: Path) -> None:
    u = demo_usage()
    write_export(u, tmp_path / "exp", fmt=schema.FOCUS12, file_format="csv")
    store = tmp_path / "s.duckdb"
    doc = json.loads(run("import", tmp_path / "exp", "--store", store, "--format", "json"))
    assert doc["kind"] == "billing-import" and doc["totals"]["billing_periods"] == ["2026-11"]
    est = tmp_path / "est.json"
    est.write_text(json.dumps({
        "storage": [{"account": r.account, "region": r.region, "repository": r.repository,
                     "estimated_bytes": r.stored_bytes} for r in u.repos],
        "nat": [{"account": n.account, "region": n.region, "nat_gateway_id": n.nat_gateway_id,
                 "pull_bytes": n.pull_bytes} for n in u.nats],
        "endpoints": [{"account": e.account, "region": e.region, "vpc_endpoint_id": e.vpc_endpoint_id,
                       "az_count": e.az_count, "expected_bytes": e.bytes} for e in u.endpoints]}))
    doc = json.loads(run("reconcile", "--store", store, "--estimates", est, "--format", "json"))
    assert doc["kind"] == "billing-reconcile"
    top = doc["items"][0]
    assert (top["resource"], top["gap_bytes"], top["gap_usd"]) == ("nat-0demo00000000001", 40 * GIB, 1.8)
    assert {a["kind"] for a in doc["adjustments"]} == {"credit", "tax", "free_tier"}
    out = run("reconcile", "--store", store, "--estimates", est)
    assert "Billed vs estimated, 2026-11" in out and "payments-api" in out and "free_tier" in out


def test_estimates_file_errors_name_the_path(tmp_path: Path) -> None:
    write_export(demo_usage(), tmp_path / "exp")
    store = tmp_path / "s.duckdb"
    run("import", tmp_path / "exp", "--store", store)
    est = tmp_path / "est.json"
    est.write_text(json.dumps({"storage": [{"account": "1", "region": "us-east-1", "repository": "x",
                                            "estimated_bytes": -1}]}))
    with pytest.raises(UserError, match=r"est.json: storage\.0\.estimated_bytes: Input should be greater"):
        run("reconcile", "--store", store, "--estimates", est)


def test_savings_before_and_after(tmp_path: Path) -> None:
    october = demo_usage("2026-10")
    november = demo_usage("2026-11")
    # The fix between the two months: the stray NAT bytes are gone.
    november.nats[0] = NatUsage(november.nats[0].account, november.nats[0].region,
                                november.nats[0].nat_gateway_id, november.nats[0].pull_bytes, other_bytes=0)
    store = tmp_path / "s.duckdb"
    for u in (october, november):
        write_export(u, tmp_path / u.period)
        run("import", tmp_path / u.period, "--store", store)
    doc = json.loads(run("savings", "--since", "2026-11-01", "--store", store, "--format", "json"))
    rows = {(i["category"], i["resource"]): i for i in doc["items"]}
    nat = rows[("nat_bytes", "nat-0demo00000000001")]
    assert (nat["before_days"], nat["after_days"]) == (31, 29)  # the day of the change is left out
    expect = (190 * 0.045 / 31 - 150 * 0.045 / 30) * 730 / 24
    assert nat["realised_monthly_usd"] == round(expect, 2)
    assert nat["after_monthly_usd"] == round(150 * 0.045 / 30 * 730 / 24, 2)
    assert doc["items"][0]["resource"] == "nat-0demo00000000001"  # biggest saving first
    # Storage is prorated over each month's hours: the same repository in October and November saves nothing.
    web = rows[("ecr_storage", "web/frontend")]
    assert web["realised_monthly_usd"] == 0.0 and web["before_monthly_usd"] == web["after_monthly_usd"] == 1.2
