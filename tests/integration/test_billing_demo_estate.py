"""The issue's acceptance on the demo estate: a month billed from the scanned estate's own figures, with the two
deliberate gaps, reconciled from the store's snapshots (no --estimates): every repository within 1 %, the
over-billed repository and the stray NAT bytes found with their size in bytes and dollars, and the same answers
from the CUR 2.0 and the FOCUS 1.2 form of the month."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ecrwise.billing import schema
from ecrwise.cli.billing_feed import snapshot_estimates
from ecrwise.cli.main import main
from ecrwise.demo.billing_export import EndpointUsage, NatUsage, RepoUsage, usage_with_gaps, write_export
from ecrwise.pricing.book import GIB, load_price_book
from ecrwise.store import Store

pytestmark = pytest.mark.standin

PERIOD = "2026-11"


def reconcile_json(capsys: pytest.CaptureFixture[str], *args: object) -> dict:
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    assert e.value.code == 0, out.err
    return json.loads(out.out)


def test_billed_vs_estimated_on_the_demo_estate(scanned_estate, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    book = load_price_book()
    with Store(scanned_estate.store, read_only=True) as st:
        feed = snapshot_estimates(st, PERIOD, book)
    est = feed.estimates
    assert est["storage"] and est["nat"] and est["endpoints"]
    u = usage_with_gaps(PERIOD, est["storage"][0].account,
                        [RepoUsage(s.account, s.region, s.repository, s.estimated_bytes) for s in est["storage"]],
                        [NatUsage(n.account, n.region, n.nat_gateway_id, n.pull_bytes) for n in est["nat"]],
                        [EndpointUsage(e.account, e.region, e.vpc_endpoint_id, e.az_count, GIB)
                         for e in est["endpoints"]])
    overbilled = next(r for r in u.repos if r.billed_bytes is not None)
    stray = next(n for n in u.nats if n.other_bytes)
    answers = []
    for fmt in (schema.CUR2, schema.FOCUS12):
        store = tmp_path / f"{fmt}.duckdb"
        shutil.copy(scanned_estate.store, store)
        write_export(u, tmp_path / fmt, fmt=fmt)
        reconcile_json(capsys, "billing", "import", tmp_path / fmt, "--store", store, "--format", "json")
        doc = reconcile_json(capsys, "billing", "reconcile", "--store", store, "--format", "json")
        rows = {(i["kind"], i["region"], i["resource"]): i for i in doc["items"]}
        storage = [i for i in doc["items"] if i["kind"] == "ecr_storage"]
        assert len(storage) == len(u.repos)
        for i in storage:
            if i["resource"] == overbilled.repository and i["region"] == overbilled.region:
                assert i["gap_bytes"] == 2 * GIB
                assert i["gap_usd"] == round(2 * book.price(i["region"], "ecr_storage_gb_month").usd, 2)
            else:
                assert abs(i["gap_pct"]) < 1.0, i
        nat = rows[("nat_bytes", stray.region, stray.nat_gateway_id)]
        assert nat["gap_bytes"] == 40 * GIB and nat["note"] == "NAT bytes image pulls do not explain"
        assert nat["gap_usd"] == round(40 * book.price(stray.region, "nat_gateway_gb").usd, 2)
        assert doc["items"][0]["resource"] == stray.nat_gateway_id  # ranked first
        for i in doc["items"]:
            if i["kind"] == "vpce":
                assert i["gap_quantity"] == 0  # every AZ-hour the audit expects, and no more
        assert doc["totals"]["estimate_sources"]["storage"].startswith("snapshot")
        answers.append(sorted((i["kind"], i["region"], i["resource"], i["gap_bytes"], i["gap_usd"])
                              for i in doc["items"]))
    assert answers[0] == answers[1]
