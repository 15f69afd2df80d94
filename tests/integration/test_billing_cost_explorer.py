"""Cost Explorer through the stand-in: moto 5.2 serves `ce:GetCostAndUsage` from a queue of configured results
(POST /moto-api/static/ce/cost-and-usage-results, moto/ce/models.py); each distinct request body takes the next
one, so a NextPageToken request gets the second page."""
from __future__ import annotations

import json
import urllib.request
from datetime import date

import boto3
import pytest

from ecrwise.aws.cost_explorer import daily_cost_pages, request
from ecrwise.aws.session import Account
from ecrwise.billing.trend import parse_cost_and_usage, trends
from ecrwise.demo.standin import DEMO_ACCOUNT
from ecrwise.demo.billing_export import cost_explorer_result as page

START = date(2026, 11, 1)

pytestmark = pytest.mark.standin


def configure(url: str, results: list[dict]) -> None:
    req = urllib.request.Request(f"{url}/moto-api/static/ce/cost-and-usage-results", method="POST",
                                 data=json.dumps({"results": results, "account_id": DEMO_ACCOUNT}).encode(),
                                 headers={"Content-Type": "application/json"})
    assert urllib.request.urlopen(req).status == 201


def test_trend_flags_the_seeded_day(aws: str) -> None:
    nat = [2.0, 2.1, 1.9, 2.0, 2.2, 2.0, 9.5]
    configure(aws, [page({"NatGateway-Bytes": nat[:4]}, START, next_token="page-2"),
                    page({"NatGateway-Bytes": nat[4:]}, date(2026, 11, 5))])
    account = Account(DEMO_ACCOUNT, boto3.Session())
    pages = daily_cost_pages(account, START, date(2026, 11, 8))
    assert len(pages) == 2
    (t,) = trends(parse_cost_and_usage(pages))
    assert len(t.days) == 7
    assert [a.day for a in t.anomalies] == [date(2026, 11, 7)]


def test_request_shape() -> None:
    r = request(date(2026, 11, 1), date(2026, 12, 1))
    assert r["Granularity"] == "DAILY" and r["GroupBy"] == [{"Type": "DIMENSION", "Key": "USAGE_TYPE"}]
    assert r["TimePeriod"] == {"Start": "2026-11-01", "End": "2026-12-01"}


def test_trend_command_in_every_format(aws: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`ecrwise billing trend` through the mounted CLI (in process)."""
    import csv
    import io

    from ecrwise.cli.main import main

    def run(*args: str) -> str:
        with pytest.raises(SystemExit) as e:
            main(["billing", "trend", "--since", "2026-11-01", "--until", "2026-11-08", *args])
        out = capsys.readouterr()
        assert e.value.code == 0, out.err
        return out.out

    # The stand-in keeps the queued result for the request body that took it: all three runs get the same one.
    result = page({"NatGateway-Bytes": [2.0, 2.1, 1.9, 2.0, 2.2, 2.0, 9.5], "USE1-TimedStorage-ByteHrs": [0.4] * 7},
                  START)
    configure(aws, [result])
    doc = json.loads(run("--format", "json"))
    assert doc["kind"] == "billing-trend" and doc["totals"]["anomaly_days"] == 1
    nat = next(i for i in doc["items"] if i["usage_type"] == "NatGateway-Bytes")
    assert nat["anomalies"][0]["day"] == "2026-11-07" and nat["anomalies"][0]["excess_usd"] == 7.5
    table = run()
    assert "Anomaly days" in table and "2026-11-07" in table
    rows = list(csv.DictReader(io.StringIO(run("--format", "csv"))))
    assert len(rows) == 14  # two usage types × seven days
    flagged = [(r["usage_type"], r["day"], r["median_usd"]) for r in rows if r["anomaly"] == "true"]
    assert flagged == [("NatGateway-Bytes", "2026-11-07", "2.0")]


def test_nat_anomaly_days_link_to_the_store_nat_spikes(aws: str, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """The seeded Cost Explorer anomaly (NatGateway-Bytes on 7 November) names the NAT spike the store's CloudWatch
    data has that day; the storage anomaly the same day links to nothing (a NAT spike does not explain it)."""
    import csv
    import io
    from datetime import datetime, timezone

    from ecrwise.cli.main import main
    from ecrwise.pricing.book import GIB
    from ecrwise.records.network import NatGateway, NatMetric
    from ecrwise.store import Store

    a, r, nat = DEMO_ACCOUNT, "us-east-1", "nat-0spiky"
    days = [date(2026, 11, d) for d in range(1, 8)]
    recs = {NatGateway: [NatGateway(a, r, nat, "vpc-1", "subnet-1", "available", "public")],
            NatMetric: [NatMetric(a, r, nat, "BytesInFromDestination", d, (20 if d.day == 7 else 2) * GIB)
                        for d in days]}
    store = tmp_path / "s.duckdb"
    with Store(store) as st:
        st.save_scan(datetime(2026, 11, 8, tzinfo=timezone.utc), [a], [r], ["network"], recs, [], "t")
    configure(aws, [page({"NatGateway-Bytes": [2.0, 2.1, 1.9, 2.0, 2.2, 2.0, 9.5],
                          "USE1-TimedStorage-ByteHrs": [0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 4.0]}, START)])

    def run(*args: str) -> str:
        with pytest.raises(SystemExit) as e:
            main(["billing", "trend", "--since", "2026-11-01", "--until", "2026-11-08", "--store", str(store), *args])
        out = capsys.readouterr()
        assert e.value.code == 0, out.err
        return out.out

    doc = json.loads(run("--format", "json"))
    assert doc["totals"]["anomaly_days"] == 2 and doc["totals"]["linked_snapshots"] == [1]
    by_type = {i["usage_type"]: i["anomalies"] for i in doc["items"]}
    (nat_day,) = by_type["NatGateway-Bytes"]
    assert nat_day["day"] == "2026-11-07"
    assert nat_day["findings"] == [f"NAT spike {nat} (us-east-1): 20.0 GiB processed, 10.0× the median"]
    assert by_type["USE1-TimedStorage-ByteHrs"][0]["findings"] == []
    assert f"NAT spike {nat}" in run()
    rows = [r for r in csv.DictReader(io.StringIO(run("--format", "csv"))) if r["anomaly"] == "true"]
    assert {r["usage_type"]: r["findings"] for r in rows} == {
        "NatGateway-Bytes": nat_day["findings"][0], "USE1-TimedStorage-ByteHrs": ""}


def test_transfer_anomaly_days_link_to_the_store_crash_loops(aws: str, scanned_estate, cli) -> None:
    """The demo estate's crash-looping services restart on the day of the scan: a Cost Explorer NAT-bytes
    anomaly that day names each of them (`ecrwise pulls`' rule, the same services), a storage anomaly the same
    day names none (a restart re-pulls an image, it stores nothing)."""
    from datetime import timedelta

    pulls = cli("pulls", "--store", scanned_estate.store, "--format", "json").json()
    looping = sorted(f"{s['cluster']}/{s['service']}" for s in pulls["items"] if s["crash_loop"])
    assert looping, "the demo estate has crash-looping services"
    day = date.fromisoformat(pulls["snapshot"]["taken_at"][:10])
    start = day - timedelta(days=7)
    configure(aws, [page({"NatGateway-Bytes": [2.0] * 7 + [9.5], "USE1-TimedStorage-ByteHrs": [0.4] * 7 + [4.0]},
                         start)])
    r = cli("billing", "trend", "--since", start.isoformat(), "--until", (day + timedelta(days=1)).isoformat(),
            "--store", scanned_estate.store, "--format", "json")
    assert r.code == 0, r.err
    doc = r.json()
    assert scanned_estate.snapshot_id in doc["totals"]["linked_snapshots"]
    by_type = {i["usage_type"]: i["anomalies"] for i in doc["items"]}
    (nat_day,) = by_type["NatGateway-Bytes"]
    assert nat_day["day"] == day.isoformat()
    named = sorted(f.split(" (")[0].removeprefix("crash loop ") for f in nat_day["findings"]
                   if f.startswith("crash loop "))
    assert named == looping
    assert by_type["USE1-TimedStorage-ByteHrs"][0]["findings"] == []
