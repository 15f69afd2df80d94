"""Scans through the fault-injecting proxy: throttling, 5xx, slow answers and a denied region."""
from __future__ import annotations

import pytest

from ecrwise.demo.estate import build_estate
from ecrwise.demo.fault_proxy import FaultProxy
from ecrwise.records.ecr import Image, ImageLayer, PullMetric, Repository
from ecrwise.store import Store

RECORDS = (Repository, Image, ImageLayer, PullMetric)


def snapshot_content(store, sid):
    with Store(store, read_only=True) as st:
        return {cls.__name__: sorted(map(repr, st.load(sid, cls))) for cls in RECORDS}


def scan(cli, url, store, monkeypatch, *extra):
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    return cli("scan", "--region", "us-east-1", "--region", "eu-west-1", "--store", store, "--format", "json",
               "--only", "ecr", *extra)


@pytest.fixture
def small_estate(aws):
    return build_estate(aws, seed=3, repositories=24, images_per_repo=5)


def test_faults_do_not_change_the_snapshot(small_estate, aws, cli, tmp_path, monkeypatch):
    clean = scan(cli, aws, tmp_path / "clean.duckdb", monkeypatch)
    assert clean.code == 0, clean.err
    # 30 % of requests fail (throttled, 5xx) or stall; botocore's retries must absorb all of it.
    with FaultProxy(aws, seed=11, throttle_rate=0.15, error_rate=0.10, delay_rate=0.05, delay_seconds=0.2,
                    max_faults_per_call=4) as proxy:
        faulty = scan(cli, proxy.url, tmp_path / "faulty.duckdb", monkeypatch)
        stats = proxy.stats()
    assert faulty.code == 0, faulty.err
    assert faulty.json()["snapshot"]["failures"] == []
    assert stats["faults"]["throttle"] > 10 and stats["faults"]["error"] > 5  # faults really happened
    a = snapshot_content(tmp_path / "clean.duckdb", clean.json()["snapshot"]["id"])
    b = snapshot_content(tmp_path / "faulty.duckdb", faulty.json()["snapshot"]["id"])
    assert len(a["Repository"]) == 24 and len(a["Image"]) == 24 * 5
    assert a == b


def test_denied_region_is_recorded_and_the_rest_completes(small_estate, aws, cli, tmp_path, monkeypatch):
    store = tmp_path / "s.duckdb"
    with FaultProxy(aws, deny_regions={"eu-west-1"}) as proxy:
        res = scan(cli, proxy.url, store, monkeypatch)
    assert res.code == 0, res.err
    doc = res.json()
    failures = doc["snapshot"]["failures"]
    assert {(f["region"], f["service"]) for f in failures} == {("eu-west-1", "ecr")}
    assert failures[0]["error_code"] in ("AccessDeniedException", "AccessDenied")
    assert doc["warnings"] and "eu-west-1" in doc["warnings"][0]
    repos = cli("repos", "--store", store, "--format", "json").json()
    regions = {i["region"] for i in repos["items"]}
    assert regions == {"us-east-1"}
    assert len(repos["items"]) == sum(1 for r in small_estate.repositories if r.region == "us-east-1")
    assert any("eu-west-1" in w for w in repos["warnings"])
    table = cli("repos", "--store", store)
    assert "warning" in table.err and "eu-west-1" in table.err


def test_denied_everywhere_exits_3(small_estate, aws, cli, tmp_path, monkeypatch):
    with FaultProxy(aws, deny_regions={"us-east-1", "eu-west-1"}) as proxy:
        res = scan(cli, proxy.url, tmp_path / "s.duckdb", monkeypatch)
    assert res.code == 3 and "denied" in res.err and "Traceback" not in res.err
