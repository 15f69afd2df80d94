"""`ecrwise billing import|reconcile|savings` through the mounted CLI (`ecrwise.cli.main.main`, in process) on
generated exports, in every format; `trend` and `prices update` need AWS and are in tests/integration."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from ecrwise.billing import schema
from ecrwise.cli.main import main
from ecrwise.demo.billing_export import NatUsage, RepoUsage, demo_usage, write_export
from ecrwise.pricing.book import GIB


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def ok(capsys: pytest.CaptureFixture[str], *args: object) -> str:
    code, out, err = cli(capsys, *args)
    assert code == 0, err
    return out


def estimates_file(u, path: Path) -> Path:  # type: ignore[no-untyped-def]
    path.write_text(json.dumps({
        "storage": [{"account": r.account, "region": r.region, "repository": r.repository,
                     "estimated_bytes": r.stored_bytes} for r in u.repos],
        "nat": [{"account": n.account, "region": n.region, "nat_gateway_id": n.nat_gateway_id,
                 "pull_bytes": n.pull_bytes} for n in u.nats],
        "endpoints": [{"account": e.account, "region": e.region, "vpc_endpoint_id": e.vpc_endpoint_id,
                       "az_count": e.az_count, "expected_bytes": e.bytes} for e in u.endpoints]}))
    return path


@pytest.fixture
def imported(tmp_path: Path, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    u = demo_usage()
    write_export(u, tmp_path / "exp", fmt=schema.FOCUS12, file_format="csv")
    store = tmp_path / "s.duckdb"
    doc = json.loads(ok(capsys, "billing", "import", tmp_path / "exp", "--store", store, "--format", "json"))
    assert doc["kind"] == "billing-import" and doc["totals"]["billing_periods"] == ["2026-11"]
    return u, store, doc


def test_import_in_every_format(imported, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    u, store, doc = imported
    by_cat = {i["category"]: i["rows"] for i in doc["items"]}
    assert by_cat["ecr_storage"] == 4 * 30 + 1  # four repositories a day, plus the month's free-tier line
    table = ok(capsys, "billing", "import", tmp_path / "exp", "--store", store)
    assert "Imported focus1.2 2026-11:" in table and "ecr_storage" in table
    rows = list(csv.DictReader(io.StringIO(ok(capsys, "billing", "import", tmp_path / "exp", "--store", store,
                                              "--format", "csv"))))
    assert {r["category"]: int(r["rows"]) for r in rows} == by_cat


def test_reconcile_in_every_format(imported, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    u, store, _ = imported
    est = estimates_file(u, tmp_path / "est.json")
    doc = json.loads(ok(capsys, "billing", "reconcile", "--store", store, "--estimates", est, "--format", "json"))
    assert doc["kind"] == "billing-reconcile"
    top = doc["items"][0]
    assert (top["resource"], top["gap_bytes"], top["gap_usd"]) == ("nat-0demo00000000001", 40 * GIB, 1.8)
    assert {a["kind"] for a in doc["adjustments"]} == {"credit", "tax", "free_tier"}
    assert doc["usage_by_category"] and doc["totals"]["estimate_sources"]["storage"] == "--estimates"
    out = ok(capsys, "billing", "reconcile", "--store", store, "--estimates", est)
    assert "Billed vs estimated, 2026-11" in out and "payments-api" in out and "free_tier" in out
    rows = list(csv.DictReader(io.StringIO(ok(capsys, "billing", "reconcile", "--store", store, "--estimates", est,
                                              "--format", "csv"))))
    assert [r["resource"] for r in rows] == [i["resource"] for i in doc["items"]]
    pay = next(r for r in rows if r["resource"] == "payments-api")
    assert (int(pay["gap_bytes"]), float(pay["gap_usd"])) == (2 * GIB, 0.2)


def test_estimates_file_errors_name_the_path(imported, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, store, _ = imported
    est = tmp_path / "est.json"
    est.write_text(json.dumps({"storage": [{"account": "1", "region": "us-east-1", "repository": "x",
                                            "estimated_bytes": -1}]}))
    code, out, err = cli(capsys, "billing", "reconcile", "--store", store, "--estimates", est)
    assert code == 2 and out == ""
    assert "est.json: storage[0].estimated_bytes: Input should be greater" in err


def test_unsupported_format_is_a_usage_error(imported, capsys: pytest.CaptureFixture[str]) -> None:
    _, store, _ = imported
    code, _, err = cli(capsys, "billing", "reconcile", "--store", store, "--format", "sarif")
    assert code == 2 and "sarif" in err


def test_bill_text_is_sanitised_in_table_and_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A repository name is AWS text: terminal escapes are shown escaped, a formula is neutralised; JSON keeps it."""
    hostile = "=HYPERLINK(\"x\")\x1b]8;;http://evil\x07"
    u = demo_usage()
    u.repos.append(RepoUsage("111111111111", "us-east-1", hostile, GIB))
    write_export(u, tmp_path / "exp")
    store = tmp_path / "s.duckdb"
    ok(capsys, "billing", "import", tmp_path / "exp", "--store", store)
    doc = json.loads(ok(capsys, "billing", "reconcile", "--store", store, "--format", "json"))
    assert hostile in {i["resource"] for i in doc["items"]}
    table = ok(capsys, "billing", "reconcile", "--store", store)
    assert "\x1b" not in table and "\x07" not in table and "\\x1b" in table
    out = ok(capsys, "billing", "reconcile", "--store", store, "--format", "csv")
    assert "\x1b" not in out
    cells = {r["resource"] for r in csv.DictReader(io.StringIO(out))}
    assert any(c.startswith("'=HYPERLINK") for c in cells)


def test_savings_in_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    october = demo_usage("2026-10")
    november = demo_usage("2026-11")
    # The fix between the two months: the stray NAT bytes are gone.
    november.nats[0] = NatUsage(november.nats[0].account, november.nats[0].region,
                                november.nats[0].nat_gateway_id, november.nats[0].pull_bytes, other_bytes=0)
    store = tmp_path / "s.duckdb"
    for u in (october, november):
        write_export(u, tmp_path / u.period)
        ok(capsys, "billing", "import", tmp_path / u.period, "--store", store)
    doc = json.loads(ok(capsys, "billing", "savings", "--since", "2026-11-01", "--store", store, "--format", "json"))
    assert doc["kind"] == "billing-savings" and doc["totals"]["since"] == "2026-11-01"
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
    table = ok(capsys, "billing", "savings", "--since", "2026-11-01", "--store", store)
    assert "Billed before and after 2026-11-01" in table and "nat-0demo00000000001" in table
    assert f"${doc['totals']['realised_monthly_usd']:,.2f}" in table  # the footer total
    out = ok(capsys, "billing", "savings", "--since", "2026-11-01", "--store", store, "--format", "csv")
    first = next(csv.DictReader(io.StringIO(out)))
    assert first["resource"] == "nat-0demo00000000001" and float(first["realised_monthly_usd"]) == round(expect, 2)


def test_savings_since_the_last_recorded_apply_with_its_prediction(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Without --since: the day of the last `lifecycle apply --apply` recorded in the store (applied_changes),
    and its predicted savings next to the billed before/after of the same repository."""
    from datetime import datetime, timezone

    from ecrwise.store import Store
    from ecrwise.store.applied import AppliedChange, applied_changes, last_apply, record_applied

    october, november = demo_usage("2026-10"), demo_usage("2026-11")
    i = next(n for n, r in enumerate(november.repos) if r.repository == "web/frontend")
    r = november.repos[i]
    november.repos[i] = RepoUsage(r.account, r.region, r.repository, r.stored_bytes // 2)  # the policy freed half
    store = tmp_path / "s.duckdb"
    for u in (october, november):
        write_export(u, tmp_path / u.period)
        ok(capsys, "billing", "import", tmp_path / u.period, "--store", store)
    code, _, err = cli(capsys, "billing", "savings", "--store", store)
    assert code == 2 and "no `lifecycle apply --apply` or `network fix --apply` recorded" in err and "--since" in err

    older = datetime(2026, 10, 20, 9, 0, tzinfo=timezone.utc)
    applied = datetime(2026, 11, 1, 12, 30, tzinfo=timezone.utc)
    with Store(store) as st:
        assert applied_changes(st) == [] and last_apply(st) == []
        record_applied(st, [AppliedChange(older, "lifecycle apply", r.account, r.region, "api/orders", 9.0)])
        record_applied(st, [AppliedChange(applied, "lifecycle apply", r.account, r.region, "web/frontend", 0.55),
                            AppliedChange(applied, "lifecycle apply", r.account, r.region, "api/none", None),
                            # The same name in another region is another repository: its prediction is not web's.
                            AppliedChange(applied, "lifecycle apply", r.account, "eu-north-1", "web/frontend", 7.0)])
    with Store(store, read_only=True) as st:
        assert [(c.region, c.resource) for c in last_apply(st)] == [
            ("eu-north-1", "web/frontend"), (r.region, "api/none"), (r.region, "web/frontend")]
        assert last_apply(st)[0].at == applied and len(applied_changes(st)) == 4

    doc = json.loads(ok(capsys, "billing", "savings", "--store", store, "--format", "json"))
    assert doc["totals"]["since"] == "2026-11-01"
    rows = {(i["category"], i["resource"]): i for i in doc["items"]}
    web = rows[("ecr_storage", "web/frontend")]
    assert web["predicted_monthly_usd"] == 0.55 and web["realised_monthly_usd"] == 0.6  # $1.20 → $0.60
    assert all(i["predicted_monthly_usd"] is None for k, i in rows.items() if k != ("ecr_storage", "web/frontend"))
    assert doc["totals"]["predicted_monthly_usd"] == 0.55
    # The other region's prediction has no bill row: said, not dropped silently.
    (warning,) = doc["warnings"]
    assert "$7.00/month for web/frontend" in warning and "eu-north-1" in warning
    # --since names the day itself: the predictions recorded that day come with it, other days' do not.
    same = json.loads(ok(capsys, "billing", "savings", "--since", "2026-11-01", "--store", store, "--format", "json"))
    assert same["items"] == doc["items"]
    other = json.loads(ok(capsys, "billing", "savings", "--since", "2026-11-02", "--store", store, "--format", "json"))
    assert all(i["predicted_monthly_usd"] is None for i in other["items"])
    table = ok(capsys, "billing", "savings", "--store", store)
    assert "predicted $/month" in table and "$0.55" in table
    # The HTML report's table: the same rows, only those predicted or saving something.
    from ecrwise.cli.billing_feed import savings_since_last_apply

    with Store(store, read_only=True) as st:
        sv = savings_since_last_apply(st)
    assert sv["since"] == "2026-11-01" and sv["totals"] == {"realised_monthly_usd": doc["totals"]["realised_monthly_usd"],
                                                           "predicted_monthly_usd": 0.55}
    assert sv["warnings"] == doc["warnings"]
    assert {(i["category"], i["resource"]) for i in sv["rows"]} == {
        k for k, i in rows.items() if i["predicted_monthly_usd"] is not None or abs(i["realised_monthly_usd"]) >= 0.005}


def test_savings_bad_date_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "billing", "savings", "--since", "November", "--store", tmp_path / "s.duckdb")
    assert code == 2 and "--since November: not a date" in err


# -- reconcile fed from the store's snapshots -------------------------------------------------------------

def _ecr_snapshot(st, taken_at, sizes: dict[str, int]) -> int:  # type: ignore[no-untyped-def]
    """An ECR-only snapshot: one repository per entry, holding one image of one layer of that many bytes."""
    from ecrwise.records.ecr import Image, ImageLayer, Repository

    a, r = "111111111111", "us-east-1"
    recs = {Repository: [Repository(a, r, n, f"arn:aws:ecr:{r}:{a}:repository/{n}",
                                    f"{a}.dkr.ecr.{r}.amazonaws.com/{n}", taken_at, "MUTABLE", False, "AES256")
                         for n in sizes],
            Image: [Image(a, r, n, f"sha256:{n}", ["v1"], taken_at, None, b, "m", None, b) for n, b in sizes.items()],
            ImageLayer: [ImageLayer(a, r, n, f"sha256:{n}", f"sha256:layer-{n}", b) for n, b in sizes.items()]}
    return st.save_scan(taken_at, [a], [r], ["ecr"], recs, [], "t").id


def test_reconcile_from_snapshots_without_estimates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Storage is the snapshots' step function averaged over the month: 10 GiB until 16 November 00:00, then
    20 GiB, is 15 GiB over November; `gone` is deleted mid-month (half its bytes); NAT has no ECS data."""
    from datetime import datetime, timezone

    from ecrwise.demo.billing_export import BillingUsage
    from ecrwise.store import Store

    store = tmp_path / "s.duckdb"
    with Store(store) as st:
        first = _ecr_snapshot(st, datetime(2026, 10, 30, tzinfo=timezone.utc), {"app": 10 * GIB, "gone": 4 * GIB})
        second = _ecr_snapshot(st, datetime(2026, 11, 16, tzinfo=timezone.utc), {"app": 20 * GIB})
        _ecr_snapshot(st, datetime(2026, 12, 5, tzinfo=timezone.utc), {"app": 99 * GIB})  # after: not deciding
    a = "111111111111"
    u = BillingUsage("2026-11", a, repos=[RepoUsage(a, "us-east-1", "app", 15 * GIB),
                                          RepoUsage(a, "us-east-1", "gone", 2 * GIB, billed_bytes=3 * GIB)],
                     nats=[NatUsage(a, "us-east-1", "nat-0abc", pull_bytes=0, other_bytes=10 * GIB)])
    write_export(u, tmp_path / "exp")
    ok(capsys, "billing", "import", tmp_path / "exp", "--store", store)
    doc = json.loads(ok(capsys, "billing", "reconcile", "--store", store, "--format", "json"))
    rows = {i["resource"]: i for i in doc["items"]}
    assert rows["app"]["estimated_bytes"] == 15 * GIB and abs(rows["app"]["gap_pct"]) < 1.0
    assert (rows["gone"]["estimated_bytes"], rows["gone"]["gap_bytes"]) == (2 * GIB, GIB)
    assert rows["nat-0abc"]["note"].startswith("no pull attribution") and rows["nat-0abc"]["gap_bytes"] == 10 * GIB
    assert doc["totals"]["estimate_sources"] == {"storage": f"snapshots {first}, {second}", "nat": "none",
                                                 "endpoints": "none"}
    assert any("no snapshot with ECS and network data" in w for w in doc["warnings"])
    assert not any("no storage estimates given" in w for w in doc["warnings"])
    # --estimates replaces the snapshots for the kinds it lists, and only those.
    est = tmp_path / "est.json"
    est.write_text(json.dumps({"storage": [{"account": a, "region": "us-east-1", "repository": "app",
                                            "estimated_bytes": 14 * GIB}]}))
    doc = json.loads(ok(capsys, "billing", "reconcile", "--store", store, "--estimates", est, "--format", "json"))
    rows = {i["resource"]: i for i in doc["items"]}
    assert rows["app"]["gap_bytes"] == GIB and rows["gone"]["estimated_bytes"] is None
    assert doc["totals"]["estimate_sources"]["storage"] == "--estimates"
    table = ok(capsys, "billing", "reconcile", "--store", store)
    assert f"estimates: storage from snapshots {first}, {second}" in table


def test_reconcile_on_a_store_without_snapshots_says_so(imported, capsys: pytest.CaptureFixture[str]) -> None:
    _, store, _ = imported
    doc = json.loads(ok(capsys, "billing", "reconcile", "--store", store, "--format", "json"))
    assert doc["totals"]["estimate_sources"] == {"storage": "none", "nat": "none", "endpoints": "none"}
    assert any("no snapshot with ECR data" in w for w in doc["warnings"])
