"""`ecrwise findings`, `report`, `export` on the scanned demo estate; the HTML report loaded in headless
Chromium (Debian's `chromium`): its content checked through the DOM, a screenshot kept in tests/artifacts/."""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from ecrwise.demo.estate_ecs import FAKE_AUTH_DATA, FAKE_REGISTRY_PASSWORD

pytestmark = pytest.mark.standin

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="module")
def findings_doc(scanned_estate) -> dict:
    """One `ecrwise findings --format json` run, shared by the assertions that only read it."""
    from ecrwise.cli.main import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            main(["findings", "--store", str(scanned_estate.store), "--format", "json"])
        except SystemExit as e:
            assert not e.code
    return json.loads(buf.getvalue())


def ids_of(doc: dict, check: str) -> list[dict]:
    return [i for i in doc["items"] if i["check"] == check]


def test_findings_cover_every_family_on_the_demo_estate(findings_doc, scanned_estate):
    doc = findings_doc
    assert doc["kind"] == "findings" and doc["warnings"] == []
    checks = {i["check"] for i in doc["items"]}
    assert {"ecs.crash-loop", "network.endpoint-missing", "ecr.no-lifecycle-policy", "ecr.redundant-repository",
            "ecr.untagged-bytes", "ecr.large-image", "ecr.no-cost-allocation-tags"} <= checks
    redundant = {i["resource_name"] for i in ids_of(doc, "ecr.redundant-repository")}
    assert {"old-experiment", "legacy-monolith", "pdf-renderer"} <= redundant
    # cron-runner is idle in us-east-1 but ECS runs it there: not redundant in that region.
    assert not any(i["resource_name"] == "cron-runner" and i["region"] == "us-east-1"
                   for i in ids_of(doc, "ecr.redundant-repository"))
    # Repositories with a lifecycle policy never get the no-policy finding; reporting-batch is retained.
    with_policy = {(r.region, r.name) for r in scanned_estate.estate.repositories if r.policy}
    assert not any((i["region"], i["resource_name"]) in with_policy for i in ids_of(doc, "ecr.no-lifecycle-policy"))
    assert not any(i["resource_name"] == "reporting-batch" for i in ids_of(doc, "ecr.no-lifecycle-policy"))
    # The biggest money is the NAT: the S3 endpoint missing in nat-only and the crash loop behind it.
    top = doc["items"][0]
    assert top["check"] == "network.endpoint-missing" and top["resource"].endswith("/s3")
    loop = next(i for i in ids_of(doc, "ecs.crash-loop") if i["resource_name"] == "prod/billing-api")
    assert loop["counted_savings_usd"] == 0 and top["id"] in loop["overlaps"]
    # Ranked by savings; the total counts overlapping savings once.
    savings = [i["monthly_savings_usd"] or 0 for i in doc["items"] if i["severity"] != "info"]
    assert savings == sorted(savings, reverse=True)
    assert doc["totals"]["monthly_savings_usd"] == pytest.approx(sum(i["counted_savings_usd"] for i in doc["items"]),
                                                                 abs=0.02)
    assert doc["totals"]["monthly_savings_usd"] < doc["totals"]["monthly_savings_listed_usd"]


def test_untagged_bytes_match_the_estate_plan(findings_doc, scanned_estate):
    """Independently of ecrwise: layers only untagged images (not index children) reference."""
    plan = scanned_estate.estate.repository("us-east-1", "legacy-monolith")
    tagged = {d for im in plan.images if im.tags for d, _ in im.layers}
    only = {d: s for im in plan.images if not im.tags for d, s in im.layers if d not in tagged}
    item = next(i for i in ids_of(findings_doc, "ecr.untagged-bytes")
                if i["resource_name"] == "legacy-monolith" and i["region"] == "us-east-1")
    assert item["evidence"]["untagged_only_bytes"] == sum(only.values())
    multi = [i for i in ids_of(findings_doc, "ecr.untagged-bytes") if i["resource_name"] == "platform/base-images"]
    assert multi == []  # its untagged images are the children of tagged indexes


def test_filters_formats_and_gates(cli, scanned_estate):
    store = str(scanned_estate.store)
    res = cli("findings", "--store", store, "--check", "storage", "--region", "eu-west-1", "--severity", "medium",
              "--format", "json")
    assert res.code == 0, res.err
    items = res.json()["items"]
    assert items and all(i["family"] == "storage" and i["region"] == "eu-west-1"
                         and i["severity"] in ("medium", "high", "critical") for i in items)
    # Gates: exit 1 when met, 0 when not; the report is still printed.
    assert cli("findings", "--store", store, "--fail-on-savings", "100").code == 1
    assert cli("findings", "--store", store, "--fail-on-savings", "100000").code == 0
    res = cli("findings", "--store", store, "--fail-on-severity", "critical", "--format", "csv")
    assert res.code == 1 and "gate:" in res.err
    rows = list(csv.DictReader(io.StringIO(res.out)))
    assert rows and rows[0]["rank"] == "1"
    assert cli("findings", "--store", store, "--check", "ecr.*", "--fail-on-severity", "critical").code == 0
    # Bad input: exit 2 with a message, no traceback.
    for args in (["--check", "nope"], ["--severity", "urgent"], ["--lifecycle-template", "x"]):
        res = cli("findings", "--store", store, *args)
        assert res.code == 2 and "Traceback" not in res.err and args[0] in res.err


def test_markdown_and_sarif(cli, scanned_estate):
    store = str(scanned_estate.store)
    res = cli("findings", "--store", store, "--format", "markdown", "--top", "5")
    assert res.code == 0 and res.out.startswith("### ecrwise findings · snapshot")
    assert sum(1 for l in res.out.splitlines() if re.match(r"^\| \d+ \|", l)) == 5
    res = cli("findings", "--store", store, "--format", "sarif", "--sarif-artifact", "infra/ecr.tf")
    assert res.code == 0
    doc = res.json()
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} >= {"ecr.no-lifecycle-policy", "ecs.crash-loop"}
    assert all(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "infra/ecr.tf"
               for r in run["results"])


def test_list_checks(cli):
    res = cli("findings", "--list-checks", "--format", "json")
    assert res.code == 0
    ids = [i["id"] for i in res.json()["items"]]
    assert ids == sorted(ids) and "ecr.untagged-bytes" in ids and "network.endpoint-missing" in ids
    assert "ecr.large-image" in cli("findings", "--list-checks").out


def test_export_parquet_then_query_it_with_duckdb(cli, scanned_estate, tmp_path):
    out = tmp_path / "lake"
    res = cli("export", "--parquet", out, "--store", scanned_estate.store, "--format", "json")
    assert res.code == 0, res.err
    tables = {i["table"]: i for i in res.json()["items"]}
    assert tables["repositories"]["partition_by"] == ["snapshot_date", "account", "region"]
    assert tables["snapshots"]["partition_by"] == ["snapshot_date"]
    day = next(p.name for p in (out / "image_layers").iterdir())
    assert day.startswith("snapshot_date=")
    assert (out / "image_layers" / day / f"account={scanned_estate.estate.account}" / "region=eu-west-1").is_dir()
    con = duckdb.connect()
    # Billed bytes per region from the Parquet files (distinct layers per repository), as `repos` totals them.
    got = dict(con.execute(f"""
        SELECT region, sum(size) FROM (
            SELECT DISTINCT region, repository, layer_digest, size
            FROM read_parquet('{out}/image_layers/**/*.parquet', hive_partitioning = true,
                              hive_types = {{'account': VARCHAR, 'region': VARCHAR}}))
        GROUP BY region""").fetchall())
    repos = cli("repos", "--store", scanned_estate.store, "--format", "json").json()
    want: dict[str, int] = {}
    for r in repos["items"]:
        want[r["region"]] = want.get(r["region"], 0) + r["stored_bytes"]
    assert got == want
    # The account partition is a string: a leading zero would survive.
    (acct,) = con.execute(f"SELECT DISTINCT account FROM read_parquet('{out}/repositories/**/*.parquet', "
                          "hive_partitioning = true, hive_types = {'account': VARCHAR})").fetchone()
    assert acct == scanned_estate.estate.account
    sql = (out / "athena.sql").read_text()
    assert "CREATE EXTERNAL TABLE IF NOT EXISTS ecrwise.image_layers" in sql
    assert "PARTITIONED BY (`snapshot_date` string, `account` string, `region` string)" in sql
    # Exporting again replaces the snapshot's files rather than adding copies.
    before = sorted(p.relative_to(out) for p in out.rglob("*.parquet"))
    assert cli("export", "--parquet", out, "--store", scanned_estate.store).code == 0
    assert sorted(p.relative_to(out) for p in out.rglob("*.parquet")) == before
    assert cli("export", "--parquet", out, "--store", scanned_estate.store, "--snapshot", "99").code == 2


# -- the HTML report in a browser ----------------------------------------------------------------------------

def chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: `make browser` installs Debian's package")
        pytest.skip("chromium not installed (`make browser` installs it)")
    return path


def browse(html: Path, *args: str, fragment: str = "") -> str:
    with tempfile.TemporaryDirectory() as profile:
        res = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", *args, html.resolve().as_uri() + fragment],
            capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def test_html_report_in_headless_chromium(cli, scanned_estate, estate_store, tmp_path):
    from ecrwise.cli.demo_cmd import import_demo_bill
    from ecrwise.pricing.book import load_price_book

    html = tmp_path / "report.html"
    # A month billed as the demo bills it (the estate's own figures plus the two deliberate gaps).
    line = import_demo_bill(estate_store, load_price_book(), "2026-11")
    assert line and "40.0 GiB NAT bytes image pulls do not explain, +$1.80" in line
    res = cli("report", "--html", html, "--store", estate_store)
    assert res.code == 0, res.err
    text = html.read_text()
    # Self-contained: nothing to fetch, and a policy that forbids fetching.
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text, re.I)
    assert "Content-Security-Policy" in text and "<link" not in text and "@import" not in text
    # Secrets were redacted at scan time and stay so.
    assert FAKE_REGISTRY_PASSWORD not in text and FAKE_AUTH_DATA not in text
    findings = cli("findings", "--store", scanned_estate.store, "--format", "json").json()
    dom = browse(html, "--dump-dom", fragment="#q=legacy-monolith&sort=savings&dir=desc")
    assert 'data-ready="1"' in dom  # the inline script ran
    assert f"${findings['totals']['monthly_savings_usd']:,.2f}/mo" in dom
    repos = cli("repos", "--store", scanned_estate.store, "--format", "json").json()
    assert repos["totals"]["monthly_cost_usd"] > 0
    # The fragment filtered the findings to legacy-monolith and sorted them by savings, largest first.
    rows = re.findall(r'<tr data-severity="[a-z]+" data-family="[a-z]+" data-id="([^"]+)"( hidden="")?', dom)
    shown = [rid for rid, hidden in rows if not hidden]
    want = [i["id"] for i in findings["items"] if "legacy-monolith" in json.dumps(i)]
    assert len(rows) == len(findings["items"]) and sorted(shown) == sorted(want)
    by_id = {i["id"]: i for i in findings["items"]}
    shown_savings = [by_id[r]["monthly_savings_usd"] or -1 for r in shown]
    assert shown_savings == sorted(shown_savings, reverse=True)
    for section in ("cost-by-repository", "growth", "savings-by-check", "pulls", "billed-vs-estimated", "findings"):
        assert f'id="{section}"' in dom
    billed = re.search(r'id="billed-vs-estimated".*?<tbody>(.*?)</tbody>', dom, re.S).group(1)
    first, second = re.findall(r"<tr>(.*?)</tr>", billed)[:2]  # ranked: the stray NAT bytes, the over-billed repo
    assert "nat_bytes" in first and "+$1.80" in first and "NAT bytes image pulls do not explain" in first
    assert "ecr_storage" in second and "+$0.20" in second and "+35.1%" in second
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    browse(html, f"--screenshot={shot}", "--window-size=1400,2000")
    assert shot.stat().st_size > 20_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


EVIL = "<script>alert('x')</script>"


def test_user_data_is_escaped_through_the_whole_pipeline(cli, tmp_path):
    """A store whose repository name, tags and image tags carry markup: the page shows them as text."""
    from ecrwise.records.ecr import Image, ImageLayer, Repository
    from ecrwise.store import Store

    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    a, r = "123456789012", "us-east-1"
    name = f"team/{EVIL}"
    repo = Repository(a, r, name, f"arn:aws:ecr:{r}:{a}:repository/{name}", f"{a}.dkr.ecr/{name}",
                      now - timedelta(days=400), "MUTABLE", False, "AES256", {"owner\"><img src=x>": EVIL})
    img = Image(a, r, name, "sha256:" + "1" * 64, [f"v1{EVIL}"], now - timedelta(days=200), None, 1, "m", None,
                2 * 2**30)
    untagged = Image(a, r, name, "sha256:" + "2" * 64, [], now - timedelta(days=300), None, 1, "m", None, 2**30)
    layers = [ImageLayer(a, r, name, img.digest, "sha256:" + "a" * 64, 2 * 2**30),
              ImageLayer(a, r, name, untagged.digest, "sha256:" + "b" * 64, 2**30)]
    store = tmp_path / "evil.duckdb"
    with Store(store) as st:
        st.save_scan(now, [a], [r], ["ecr"], {Repository: [repo], Image: [img, untagged], ImageLayer: layers}, [],
                     "test")
    html = tmp_path / "evil.html"
    res = cli("report", "--html", html, "--store", store)
    assert res.code == 0, res.err
    text = html.read_text()
    assert EVIL not in text and "<img src=x>" not in text
    assert 'id="billed-vs-estimated"' not in text  # no billing data imported: no section
    assert text.count("<script") == 1  # ecrwise's own inline script, nothing else
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    dom = browse(html, "--dump-dom")
    assert 'data-ready="1"' in dom and "<script>alert" not in dom
    # In the DOM the name is text: serialised back as &lt;script&gt; inside the findings table.
    assert "team/&lt;script&gt;alert('x')&lt;/script&gt;" in dom
    assert cli("findings", "--store", store, "--format", "markdown").out.count("&lt;script&gt;") >= 1
